#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# options_cost.sh [SECONDS] - what two options of `leader run` cost an idle
# leader (not a test): CPU time and RSS over SECONDS (default 60), default
# ttl and wait, all configurations side by side on one private redis-server
# (each its own election, each the leader of it):
#   - plain `leader run`;
#   - --metrics-listen, never scraped;
#   - --metrics-listen, scraped with curl every 15 s (Prometheus' default);
#   - --health-cmd true --health-interval 1s.
# CPU is the process' own, all threads (from /proc/PID/task/*/schedstat,
# in ns), and its reaped children's (the health checks; from the kernel's
# 10 ms ticks). The scrapes' curl is not counted: it is not ours. Memory is
# RSS and PSS (shared pages shared out among the processes mapping them).
# With PLAIN_BIN=path/to/leader (a build with -DLEADER_METRICS=OFF), one
# more row: that binary, plain. Needs a build in build/ (make) with
# libmicrohttpd, and curl.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${LEADER_BUILD_DIR:-$root/build}
leader=$build/tools/leader/leader
fixture=$build/tests/redis-fixture
secs=${1:-60}
export PATH=$PATH:$root/.deps/bin

for f in "$leader" "$fixture"; do
    [ -x "$f" ] || { echo "missing $f: run make first" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "needs curl" >&2; exit 1; }

if [ -z "${REDIS_URL:-}" ]; then
    exec "$fixture" -- "$0" "$@" # under a private redis-server
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leader-options-cost.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

hz=$(getconf CLK_TCK)
# cpu_ms PID: CPU time of all its threads so far, in ms.
cpu_ms() { cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { printf "%.1f\n", t / 1e6 }'; }
# kids_ms PID: CPU time of its reaped children so far, in ms.
kids_ms() { awk -v hz="$hz" '{ sub(/.*\) /, ""); print ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A pid
names=(plain metrics metrics-scraped health-1s)
[ -n "${PLAIN_BIN:-}" ] && names+=(plain-no-libmicrohttpd)
port_m=$(free_port)
port_s=$(free_port)
start() { # start NAME OPTIONS...
    local name=$1 bin=$leader
    shift
    [ "$name" = plain-no-libmicrohttpd ] && bin=$PLAIN_BIN
    "$bin" run -q --redis "$REDIS_URL" --key "cost-$name" "$@" -- \
        sleep 3600 2>>"$tmp/leader.err" &
    pid[$name]=$!
    pids+=($!)
}
start plain
start metrics --metrics-listen "127.0.0.1:$port_m"
start metrics-scraped --metrics-listen "127.0.0.1:$port_s"
start health-1s --health-cmd true --health-interval 1s
[ -n "${PLAIN_BIN:-}" ] && start plain-no-libmicrohttpd
sleep 2 # elected, children started

declare -A c0 a0
for n in "${names[@]}"; do
    c0[$n]=$(cpu_ms "${pid[$n]}")
    a0[$n]=$(kids_ms "${pid[$n]}")
done
end=$((SECONDS + secs))
scrapes=0
while [ $SECONDS -lt $end ]; do
    curl -s -o /dev/null "http://127.0.0.1:$port_s/metrics" && scrapes=$((scrapes + 1))
    sleep 15 & wait $! || true
    [ $SECONDS -lt $end ] || break
done
echo "leader $("$leader" --version | cut -d' ' -f2), leading, idle for $secs s (ttl 10000 ms, wait 1000 ms); $scrapes scrapes"
printf "  %-24s %8s %8s %9s %15s\n" configuration "RSS, kB" "PSS, kB" \
    "CPU, ms" "children, ms"
for n in "${names[@]}"; do
    p=${pid[$n]}
    printf "  %-24s %8s %8s %9s %15s\n" "$n" "$(rss_kb "$p")" "$(pss_kb "$p")" \
        "$(awk -v a="$(cpu_ms "$p")" -v b="${c0[$n]}" 'BEGIN { printf "%.1f", a - b }')" \
        "$(awk -v a="$(kids_ms "$p")" -v b="${a0[$n]}" 'BEGIN { print a - b }')"
done
if [ -s "$tmp/leader.err" ]; then
    echo "errors logged:" >&2
    cat "$tmp/leader.err" >&2
fi
