/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c - the leader command: dispatches to its subcommands and holds
 * their usage texts.
 *
 *   leader run [options] -- CMD [ARG...]   run CMD only while leader
 *   leader status [options]                who leads an election
 *   leader watch [options]                 one line per change of leader */
#include <stdio.h>
#include <string.h>

#include <leader.h>

#include "cli.h"

void usage_main(void)
{
    fputs("usage: leader run [options] -- CMD [ARG...]\n"
          "       leader status [--redis URL] [--key NAME] [--json]\n"
          "       leader watch [--redis URL] [--key NAME] [--wait DURATION] "
          "[--json]\n"
          "       leader --help | --version\n"
          "\n"
          "Leader election on Redis (libleader).\n"
          "  run      run CMD only while this process leads the election\n"
          "  status   print who leads the election\n"
          "  watch    print every change of leader until interrupted\n"
          "\n"
          "'leader COMMAND --help' tells more about each; the\n"
          "manual page is leader(1).\n",
          stdout);
}

void usage_run(void)
{
    fputs(
        "usage: leader run [--redis URL] [--key NAME] [--ttl DURATION]\n"
        "                  [--wait DURATION] [--id ID] [--grace DURATION]\n"
        "                  [--timeout DURATION] [-n] [--once] [-q | -v]\n"
        "                  -- CMD [ARG...]\n"
        "\n"
        "Campaigns for the election NAME and runs CMD, in a process group "
        "of its\n"
        "own, only while leader, with LEADER_ID, LEADER_KEY, "
        "LEADER_REDIS_KEY and\n"
        "LEADER_TERM (the fencing token, above every earlier child's) in its\n"
        "environment. The child and everything it starts never run past the\n"
        "lease: the tree gets SIGTERM when leadership is lost or the lease\n"
        "comes within --grace of its end unrenewed, and SIGKILL no later than\n"
        "the lease deadline, from a watchdog process even if leader run is\n"
        "frozen. If leader run dies, the watchdog kills the tree and then\n"
        "releases, so the next candidate takes over at once.\n"
        "\n"
        "  --redis URL         redis://[[user]:password@]host[:port][/db],\n"
        "                      rediss://... (TLS), unix:///path[?db=N] or\n"
        "                      redis-sentinel://host[:port][,...]#master;\n"
        "                      default $LEADER_REDIS_URL, else\n"
        "                      redis://127.0.0.1:6379. Given 3, 5 or 7 "
        "times:\n"
        "                      quorum mode, elected on a majority of these\n"
        "                      independent servers (no sentinels)\n"
        "  --redis-password-file FILE  log in with the first line of FILE "
        "(mode\n"
        "                      600 or stricter) instead of the URL's "
        "password;\n"
        "                      else $LEADER_REDIS_PASSWORD, if set\n"
        "  --key NAME          the election's name (default $LEADER_KEY, "
        "else\n"
        "                      \"default\")\n"
        "  --ttl DURATION      lease length, 10ms..24h (default $LEADER_TTL, "
        "else 10s)\n"
        "  --wait DURATION     longest pause between tries, 0..24h (default\n"
        "                      $LEADER_WAIT, else 1s)\n"
        "  --id ID             this candidate's id (default a random UUID)\n"
        "  --grace DURATION    SIGTERM this long before the deadline when "
        "renewal\n"
        "                      is late, and the time a stopping child gets "
        "before\n"
        "                      SIGKILL; at most half of --ttl (default "
        "ttl/3)\n"
        "  --timeout DURATION  exit 75 unless elected within it\n"
        "  -n, --no-wait       exit 75 if another candidate leads at the "
        "first try\n"
        "  --once              exit 75 when leadership is lost instead of\n"
        "                      campaigning again\n"
        "  --health-cmd CMD    sh -c CMD says whether this host is fit to "
        "lead:\n"
        "                      after --health-failures (default 3) failures "
        "in a\n"
        "                      row the leadership is given up and no "
        "campaign\n"
        "                      made until it passes again\n"
        "  --health-interval DURATION  between checks (default 10s)\n"
        "  --health-timeout DURATION   a check running longer fails "
        "(default:\n"
        "                      the interval)\n"
        "  --health-failures N failures in a row that make it unhealthy\n"
        "  --metrics-listen ADDR:PORT  serve Prometheus metrics on\n"
        "                      http://ADDR:PORT/metrics (127.0.0.1:9100,\n"
        "                      [::1]:9100; only that address)\n"
        "  --max-hold DURATION end the child and release after holding the\n"
        "                      leadership this long, then rest one --wait\n"
        "                      before campaigning again (75 with --once)\n"
        "  -q, --quiet         log errors only\n"
        "  -v, --verbose       also log every renewal\n"
        "  --log-format FMT    text (default), or json: one object per line\n"
        "                      with time, level, event, key, id, pid, term,\n"
        "                      cause and msg\n"
        "\n"
        "TLS (rediss:// only; the server's certificate and name are "
        "verified):\n"
        "  --tls-ca-cert FILE  trusted CAs (PEM; default: the system's "
        "store)\n"
        "  --tls-ca-dir DIR    trusted CAs, a hashed directory\n"
        "  --tls-cert FILE     client certificate (PEM)\n"
        "  --tls-key FILE      its private key (default: in --tls-cert)\n"
        "  --tls-server-name NAME  the name the certificate must have, "
        "sent as\n"
        "                      SNI (default: the URL's host)\n"
        "  --tls-insecure      do not verify the server (testing only)\n"
        "Each has an environment default: LEADER_TLS_CA_CERT, "
        "LEADER_TLS_CA_DIR,\n"
        "LEADER_TLS_CERT, LEADER_TLS_KEY, LEADER_TLS_SERVER_NAME,\n"
        "LEADER_TLS_INSECURE (1 or 0). A file that cannot be used is bad "
        "usage.\n"
        "\n"
        "Timeouts (default: a third of --ttl, between 5ms and 2s):\n"
        "  --connect-timeout DURATION  opening a connection, lookup, TLS "
        "and\n"
        "                      login included; 1ms..1m (default\n"
        "                      $LEADER_CONNECT_TIMEOUT)\n"
        "  --command-timeout DURATION  each command's reply; 1ms up to a "
        "third\n"
        "                      of --ttl (default $LEADER_COMMAND_TIMEOUT)\n"
        "\n"
        "A DURATION is a whole number of milliseconds, or a whole number "
        "with a\n"
        "unit: 500ms, 10s, 2m, 1h. Flags win over the environment.\n"
        "\n"
        "Exit status: CMD's own when it ends by itself or leader run is "
        "stopped by\n"
        "SIGTERM, SIGINT or SIGHUP (128+N if CMD died of signal N); 75 when\n"
        "leadership is lost with --once, or not won with --timeout or -n; 2 "
        "bad\n"
        "usage; 126 CMD cannot be executed; 127 CMD not found; 1 other "
        "errors.\n",
        stdout);
}

void usage_watch(void)
{
    fputs("usage: leader watch [--redis URL] [--key NAME] [--wait DURATION] "
          "[--json]\n"
          "                    [--tls-... and --...-timeout options of "
          "leader run]\n"
          "\n"
          "Prints one line per change of the election's leader until "
          "interrupted:\n"
          "the time, what happened (elected, released, expired: the leader's\n"
          "lease ran out without a release, or no leader), the leader's id "
          "and the\n"
          "term. The first line is the state found at start. --json prints "
          "one\n"
          "JSON object per line. Changes are seen through the election's\n"
          "notifications at once, a crash at the key's expiry, and peers "
          "that do\n"
          "not publish (node-leader) within --wait (default $LEADER_WAIT, else "
          "1s).\n"
          "--key defaults to $LEADER_KEY, else \"default\"; --redis, the "
          "--tls-\n"
          "options, --connect-timeout and --command-timeout (up to 1m) as "
          "for\n"
          "leader run.\n"
          "\n"
          "Exit status: 0 when interrupted (SIGINT, SIGTERM, SIGHUP), 2 bad "
          "usage.\n",
          stdout);
}

void usage_status(void)
{
    fputs("usage: leader status [--redis URL] [--key NAME] [--json] "
          "[--tls-...]\n"
          "\n"
          "Prints who leads the election NAME: the leader's id, the term and "
          "the\n"
          "lease left in milliseconds (as JSON with --json).\n"
          "\n"
          "  --redis URL   as for leader run (default $LEADER_REDIS_URL, else\n"
          "                redis://127.0.0.1:6379); 3, 5 or 7 times: a "
          "quorum\n"
          "  --key NAME    the election's name (default $LEADER_KEY, else\n"
          "                \"default\")\n"
          "  --json        one JSON object: key, id, term, lease_left_ms\n"
          "  --tls-...     the TLS options of leader run\n"
          "  --connect-timeout DURATION, --command-timeout DURATION\n"
          "                as for leader run (each up to 1m)\n"
          "\n"
          "Exit status: 0 someone leads, 1 nobody leads, 2 bad usage, 3 Redis\n"
          "unreachable or error.\n",
          stdout);
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL)
        return usage_error(NULL, "no subcommand (run, status or watch)");
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage_main();
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("leader %s\n", leader_version());
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    if (strcmp(cmd, "watch") == 0)
        return cmd_watch(argc - 1, argv + 1);
    if (cmd[0] == '-')
        return usage_error(NULL, "unknown option '%s'", cmd);
    return usage_error(NULL, "unknown subcommand '%s'", cmd);
}
