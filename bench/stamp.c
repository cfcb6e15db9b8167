/* SPDX-License-Identifier: BSD-3-Clause */
/* stamp.c - bench-stamp, the smallest child `leader run` can start: the
 * handover benchmarks time `leader run` from the old child's exit to the
 * new child's start, and a child that first loads shared libraries, or
 * runs a libc's own start-up, adds that to the figure.
 *
 * Built twice:
 * - bench-stamp (STAMP_BARE, on x86-64): static, with no libc at all. Its
 *   entry point reads CLOCK_MONOTONIC first thing, so the stamp is the
 *   child's first instruction to speak of. glibc's start-up alone is not
 *   small everywhere: it asks the CPU for its cache geometry with CPUID,
 *   which a virtual machine may trap, and perf showed a static glibc
 *   program spending about 0.5 ms there before main on the machine of
 *   docs/benchmarks.md. Elsewhere it is the libc build below, linked
 *   statically.
 * - bench-stamp-dyn: dynamically linked against libc, as most commands
 *   are; it reads the clock first thing in main, after the dynamic loader
 *   and libc's start-up.
 *
 * stdout: "started 0 NS PID" at once; on SIGUSR1, "exiting 0 NS" and exit
 * status 0 (the protocol of bench-peer --child). */
#if defined(STAMP_BARE) && defined(__x86_64__)

/* ---- no libc: raw system calls ---- */

#define SYS_WRITE         1
#define SYS_RT_SIGACTION  13
#define SYS_RT_SIGRETURN  15
#define SYS_PAUSE         34
#define SYS_GETPID        39
#define SYS_CLOCK_GETTIME 228
#define SYS_EXIT_GROUP    231
#define CLOCK_MONOTONIC   1
#define SIGUSR1           10
#define SA_RESTORER       0x04000000UL

struct ts {
    long sec, nsec;
};

/* The kernel's struct sigaction on x86-64. */
struct ksigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

static long sys(long n, long a, long b, long c, long d)
{
    register long r10 __asm__("r10") = d;
    long r;

    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

static long long now_ns(void)
{
    struct ts t;

    sys(SYS_CLOCK_GETTIME, CLOCK_MONOTONIC, (long) &t, 0, 0);
    return t.sec * 1000000000LL + t.nsec;
}

/* Appends the decimal digits of v at p; returns the end. */
static char *put_num(char *p, unsigned long long v)
{
    char d[24];
    int n = 0;

    do
        d[n++] = (char) ('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = d[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s != '\0')
        *p++ = *s++;
    return p;
}

static _Noreturn void leave(int code)
{
    for (;;)
        sys(SYS_EXIT_GROUP, code, 0, 0, 0);
}

static void say(const char *line, char *end)
{
    if (sys(SYS_WRITE, 1, (long) line, end - line, 0) != end - line)
        leave(1); /* the driver is gone */
}

static void on_usr1(int sig)
{
    long long t = now_ns();
    char line[64], *p = put_str(line, "exiting 0 ");

    (void) sig;
    p = put_num(p, (unsigned long long) t);
    *p++ = '\n';
    say(line, p);
    leave(0);
}

/* The handler never returns, but the kernel sets up no signal frame
 * without a way back. */
void stamp_restore(void);
__asm__(".text\n"
        "stamp_restore:\n"
        "    mov $15, %eax\n" /* SYS_RT_SIGRETURN */
        "    syscall\n");

_Noreturn void stamp_main(void);
_Noreturn void stamp_main(void)
{
    long long start = now_ns();
    struct ksigaction sa = {on_usr1, SA_RESTORER, stamp_restore, 0};
    char line[64], *p = put_str(line, "started 0 ");

    sys(SYS_RT_SIGACTION, SIGUSR1, (long) &sa, 0, sizeof sa.mask);
    p = put_num(p, (unsigned long long) start);
    *p++ = ' ';
    p = put_num(p, (unsigned long long) sys(SYS_GETPID, 0, 0, 0, 0));
    *p++ = '\n';
    say(line, p);
    for (;;)
        sys(SYS_PAUSE, 0, 0, 0, 0);
}

/* The entry point: the stack aligned for a call, and straight on. */
__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "    xor %ebp, %ebp\n"
        "    and $-16, %rsp\n"
        "    call stamp_main\n"
        "    hlt\n");

#else

/* ---- with libc ---- */
#define _GNU_SOURCE

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long ns_of(const struct timespec *ts)
{
    return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static void say(const char *line, int n)
{
    if (n <= 0 || write(STDOUT_FILENO, line, (size_t) n) != n)
        _exit(1); /* the driver is gone */
}

static void on_usr1(int sig)
{
    struct timespec ts;
    char line[64];

    (void) sig;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    say(line, snprintf(line, sizeof line, "exiting 0 %lld\n", ns_of(&ts)));
    _exit(0);
}

int main(void)
{
    struct timespec start;
    struct sigaction sa;
    char line[64];

    clock_gettime(CLOCK_MONOTONIC, &start);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    say(line, snprintf(line, sizeof line, "started 0 %lld %ld\n", ns_of(&start),
                       (long) getpid()));
    for (;;)
        pause();
}

#endif
