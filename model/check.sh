#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# model/check.sh - checks model/leader.pml and model/quorum.pml with spin:
# the protocols as they are must show no violation, and each breakage
# listed below must show one. Bitstate searches (an approximation: they may
# miss states, never report a false violation), one at a time.
#
# Usage: check.sh [SECONDS]   SECONDS per search (default 120): leader.pml,
#                             and quorum.pml at its long horizon
#        check.sh --quick     a few seconds per search, under a minute in
#                             all (make test runs it)
# Exits 77 when spin is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=0
if [[ ${1:-} == --quick ]]; then
    quick=1
    shift
fi
seconds=${1:-120}
# The quick mode compiles with -O1: ten compilations at -O2 would take
# most of its minute.
# A long search gets a larger bit array (128 MB), fewer states hidden by
# hash collisions.
cflags=-O2 bits=30
if ((quick)); then
    cflags=-O1 bits=28
fi
command -v spin >/dev/null || {
    echo "model: spin is missing (apt-get install spin)" >&2
    exit 77
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/leader.pml" "$here/quorum.pml" "$work/"
cd "$work"
failed=0

# run MODEL LIMIT SPIN-ARGS...: one search of at most LIMIT seconds; sets
# errors, states, complete (the whole space was searched) and violated.
run() {
    local model=$1 limit=$2 out
    shift 2
    spin "$@" -a "$model" >/dev/null
    cc $cflags -w -DSAFETY -DBITSTATE -o pan pan.c
    out=$(timeout -s INT "$limit" ./pan -E -m1000000 -w$bits 2>&1 || true)
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out" | tail -1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<<"$out" | tail -1)
    grep -q "assertion violated" <<<"$out" && violated=1 || violated=0
    grep -q "Interrupted" <<<"$out" && complete=0 || complete=1
}

# protocol NAME MODEL LIMIT SPIN-ARGS...
protocol() {
    local name=$1
    shift
    run "$@"
    local how="bounded by time"
    ((complete)) && how="whole space"
    echo "$name: ${errors:-?} violations in ${states:-?} states ($how)"
    [[ ${errors:-1} == 0 ]] || failed=1
}

# breakage NAME MODEL LIMIT SPIN-ARGS...
breakage() {
    local name=$1
    shift
    run "$@"
    if [[ $violated == 1 ]]; then
        echo "$name: caught (${states:-?} states)"
    else
        echo "$name: NOT caught" >&2
        failed=1
    fi
}

if ((quick)); then
    lp=3 lb=15 qp=8 qb=15
else
    lp=$seconds lb=$seconds qp=$seconds qb=$seconds
fi

# leader.pml: the breakages spin finds within its horizon.
protocol "leader.pml" leader.pml "$lp"
for b in NO_STEPDOWN LEASE_FROM_REPLY NO_DRIFT RELEASE_NONATOMIC \
    LOST_ACQUIRE_AS_WON; do
    breakage "leader.pml BREAK_$b" leader.pml "$lb" -DBREAK_$b
done

# quorum.pml: a short horizon that the search covers whole, where each
# breakage shows; then (not in the quick mode) a long one, with restarts
# that keep the data too, that it only samples.
short=(-DTMAX=1 -DATTEMPTS=1 -DRENEWALS=1 -DSTOPS=0)
protocol "quorum.pml, short horizon" quorum.pml "$qp" "${short[@]}"
for b in NO_WRITE_PHASE COUNT_YOUNG NIL_AS_ZERO; do
    breakage "quorum.pml BREAK_$b" quorum.pml "$qb" "${short[@]}" -DBREAK_$b
done
if ((!quick)); then
    protocol "quorum.pml, long horizon" quorum.pml "$qp" -DTMAX=6 \
        -DRESTART_KEEPS_DATA
fi
exit $failed
