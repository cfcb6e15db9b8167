#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# model/check.sh - checks model/leader.pml with spin: the protocol as it is
# must show no violation, and each breakage listed below must show one.
# A bitstate search (an approximation: it may miss states, never reports a
# false violation) bounded by SECONDS per run. Usage: check.sh [SECONDS]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=${1:-120}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v spin >/dev/null || {
    echo "model: spin is missing (apt-get install spin)" >&2
    exit 77
}
cp "$here/leader.pml" "$work/"
cd "$work"
failed=0

# Runs one configuration; prints its summary; sets errors and states.
run() {
    local out
    spin "$@" -a leader.pml >/dev/null
    cc -O2 -w -DSAFETY -DBITSTATE -o pan pan.c
    out=$(timeout -s INT "$seconds" ./pan -E -m1000000 -w28 2>&1 || true)
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out" | tail -1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<<"$out" | tail -1)
    grep -q "assertion violated" <<<"$out" && violated=1 || violated=0
}

run
echo "protocol: ${errors:-?} violations in ${states:-?} states"
[[ ${errors:-1} == 0 ]] || failed=1

# The breakages spin finds within the horizon of this model.
for b in NO_STEPDOWN LEASE_FROM_REPLY NO_DRIFT RELEASE_NONATOMIC \
    LOST_ACQUIRE_AS_WON; do
    run -DBREAK_$b
    if [[ $violated == 1 ]]; then
        echo "BREAK_$b: caught (${states:-?} states)"
    else
        echo "BREAK_$b: NOT caught" >&2
        failed=1
    fi
done
exit $failed
