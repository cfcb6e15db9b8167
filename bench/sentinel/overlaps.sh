#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/sentinel/overlaps.sh [RUNS] - how many split brains a Redis Sentinel
# failover gives with libleader's failover rules, and without each of them
# (docs/protocol.md, Sentinel): the failover scenarios of
# tests/integration/test_sentinel.c (SENTINEL FAILOVER; the master frozen,
# replaced and resumed; kill -9 of the master), RUNS times each (default
# 5), against a build with every rule and builds with one rule switched
# off at compile time. A run counts as an overlap when two candidates held
# a lease at once (the test's checks of the event log and of the leases).
# Prints one line per build. Not a test: it takes a few minutes.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-5}
work=${LEADER_BENCH_DIR:-$root/build/bench/sentinel}
tests=(sentinel_failover_is_followed
    a_paused_master_replaced_then_resumed_gives_no_two_leaders
    kill_9_of_the_master_is_followed)
variants=("all rules:"
    "no step-down on a new master:-DLC_BREAK_FRESH_KEEPS_LEADER"
    "no ttl of waiting on a new master:-DLC_BREAK_FRESH_ACQUIRES"
    "no +switch-master watch:-DLIO_BREAK_NO_SWITCH_WATCH")

# hiredis and redis-server as scripts/bootstrap provides them (the Makefile
# does the same).
export PKG_CONFIG_PATH=$root/.deps/prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PATH=$PATH:$root/.deps/bin

build() { # DIR FLAGS
    cmake -S "$root" -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_FLAGS="$2" >/dev/null
    env -u MAKEFLAGS cmake --build "$1" -j2 --target integration_sentinel \
        >/dev/null
}

printf '%-36s %8s %9s %8s\n' "build" "runs" "overlaps" "other"
for v in "${variants[@]}"; do
    name=${v%%:*}
    flags=${v#*:}
    dir=$work/$(echo "$name" | tr -c 'a-z0-9\n' '-')
    build "$dir" "$flags"
    n=0 overlaps=0 other=0
    for ((i = 0; i < runs; i++)); do
        for t in "${tests[@]}"; do
            n=$((n + 1))
            out=$("$dir/tests/integration_sentinel" --only "$t" 2>&1) && continue
            if grep -q 'holders <= 1\|ELECTED while another' <<<"$out"; then
                overlaps=$((overlaps + 1))
                printf '%s\n' "$out" >"$dir/overlap-$n.log"
            else
                other=$((other + 1))
            fi
        done
    done
    printf '%-36s %8d %9d %8d\n' "$name" "$n" "$overlaps" "$other"
done
