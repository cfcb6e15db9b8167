#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# figures.sh [--quick] - figures of the leader command, between real
# `leader run` processes on a private redis-server (not a test):
#   - handover: a leader's child exits by itself; time from its last
#     heartbeat to the start of the next leader's child (median of RUNS);
#   - failover: a leader is killed with kill -9; time from its child's last
#     heartbeat (it dies with it) to the start of the next child (median);
#   - RSS and CPU time of an idle `leader run` and its watchdog, as leader
#     and as follower, over 60 s (10 s with --quick), at the default ttl.
# Needs a build in build/ (make). Environment: RUNS (default 21), TTL for
# the handover/failover runs (default 1000 ms).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${LEADER_BUILD_DIR:-$root/build}
leader=$build/tools/leader/leader
fixture=$build/tests/redis-fixture
heartbeat=$build/tests/cli/leader-heartbeat
idle=60
[ "${1:-}" = "--quick" ] && idle=10
runs=${RUNS:-21}
ttl=${TTL:-1000}
export PATH=$PATH:$root/.deps/bin

for f in "$leader" "$fixture" "$heartbeat"; do
    [ -x "$f" ] || { echo "missing $f: run make first" >&2; exit 1; }
done

if [ -z "${REDIS_URL:-}" ]; then
    # Re-run ourselves under a private redis-server.
    exec "$fixture" -- "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leader-figures.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# now_ms: CLOCK_BOOTTIME in ms, from the heartbeat's clock (/proc/uptime
# is the same clock with 10 ms resolution).
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

# wait_start LOG ID: until ID's child has a start line (up to 10 s).
wait_start() {
    for _ in $(seq 1000); do
        grep -q "^start [0-9]* $2 " "$1" 2>/dev/null && return 0
        sleep 0.01
    done
    echo "no child of $2 started" >&2
    return 1
}

# candidate LOG ID [HB-OPTS...]: a leader run in the background.
candidate() {
    local log=$1 id=$2
    shift 2
    "$leader" run -q --redis "$REDIS_URL" --key figures --ttl "$ttl" \
        --wait 5000 --id "$id" -- "$heartbeat" "$log" --interval 2 "$@" \
        2>>"$tmp/leader.err" &
    pids+=($!)
}

# gap LOG A B: ms from A's last line to B's start line.
gap() {
    awk -v a="$2" -v b="$3" '
        $3 == a { last = $4 }
        $3 == b && $1 == "start" { start = $4 }
        END { printf "%.1f\n", start - last }' "$1"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

one_run() { # one_run N handover|failover
    local log=$tmp/hb.$1.$2 stop=$tmp/stop.$1.$2 a b
    candidate "$log" "a$1" --exit-on "$stop"
    a=$!
    wait_start "$log" "a$1"
    candidate "$log" "b$1"
    b=$!
    sleep 0.3
    if [ "$2" = handover ]; then
        touch "$stop"
    else
        kill -9 "$a"
    fi
    wait "$a" 2>/dev/null || true
    wait_start "$log" "b$1"
    kill "$b"
    wait "$b" 2>/dev/null || true
    "$build/tests/cli/leader-hbcheck" "$log" >/dev/null
    gap "$log" "a$1" "b$1"
}

echo "leader $("$leader" --version | cut -d' ' -f2), $runs runs each, ttl $ttl ms, wait 5000 ms"
for kind in handover failover; do
    : >"$tmp/$kind"
    for i in $(seq "$runs"); do one_run "$i" "$kind" >>"$tmp/$kind"; done
    printf "%-9s child to child: median %s ms (min %s, max %s)\n" "$kind" \
        "$(median <"$tmp/$kind")" "$(sort -n "$tmp/$kind" | sed -n 1p)" \
        "$(sort -n "$tmp/$kind" | tail -1)"
done

# --- idle cost -------------------------------------------------------------
hz=$(getconf CLK_TCK)
# cpu_ms PID: user+system CPU time so far, in ms.
cpu_ms() { awk -v hz="$hz" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000 / hz }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# watchdog PID: the leader-watchdog child of leader run PID.
watchdog_of() {
    for c in $(cat "/proc/$1/task/$1/children"); do
        [ "$(cat "/proc/$c/comm")" = leader-watchdog ] && echo "$c"
    done
    return 0
}

"$leader" run -q --redis "$REDIS_URL" --key idle --id idle-leader -- \
    sleep 3600 2>>"$tmp/leader.err" &
lead=$!
pids+=($lead)
sleep 0.5
"$leader" run -q --redis "$REDIS_URL" --key idle --id idle-follower -- \
    sleep 3600 2>>"$tmp/leader.err" &
follow=$!
pids+=($follow)
sleep 0.5
wl=$(watchdog_of $lead)
wf=$(watchdog_of $follow)
declare -A c0
for p in $lead $follow $wl $wf; do c0[$p]=$(cpu_ms "$p"); done
sleep "$idle"
echo "idle for ${idle} s, default ttl 10000 ms / wait 1000 ms:"
for role in leader follower; do
    if [ $role = leader ]; then p=$lead w=$wl; else p=$follow w=$wf; fi
    printf "  %-8s leader run: RSS %5s kB, CPU %4s ms | watchdog: RSS %5s kB, CPU %s ms\n" \
        $role "$(rss_kb "$p")" "$(awk -v a="$(cpu_ms "$p")" -v b="${c0[$p]}" 'BEGIN { print a - b }')" \
        "$(rss_kb "$w")" "$(awk -v a="$(cpu_ms "$w")" -v b="${c0[$w]}" 'BEGIN { print a - b }')"
done
kill $lead $follow
wait $lead $follow 2>/dev/null || true
if [ -s "$tmp/leader.err" ]; then
    echo "errors logged:" >&2
    cat "$tmp/leader.err" >&2
fi
