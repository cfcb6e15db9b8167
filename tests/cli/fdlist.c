/* SPDX-License-Identifier: BSD-3-Clause */
/* fdlist.c - leader-fdlist, the program the descriptor tests run across an
 * exec: it prints every descriptor it holds, one "FD TARGET" line each,
 * where TARGET is what /proc/self/fd/FD links to (socket:[INODE],
 * anon_inode:[eventpoll], pipe:[INODE], a path...), leaving out the
 * directory it reads them from. What it lists is what it inherited.
 *
 *   leader-fdlist [OUT]     (OUT: write there instead of stdout)
 *
 * Exit status 0, or 1 if /proc cannot be read. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    FILE *out = stdout;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int self;

    if (d == NULL)
        return 1;
    self = dirfd(d);
    if (argc > 1 && (out = fopen(argv[1], "we")) == NULL)
        return 1;
    while ((e = readdir(d)) != NULL) {
        char path[64], target[256];
        ssize_t n;
        int fd;

        if (e->d_name[0] == '.')
            continue;
        fd = atoi(e->d_name);
        if (fd == self || (out != stdout && fd == fileno(out)))
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        fprintf(out, "%d %s\n", fd, target);
    }
    closedir(d);
    return fclose(out) == 0 ? 0 : 1;
}
