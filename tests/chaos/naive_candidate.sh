#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# naive_candidate.sh - a deliberately unsafe candidate, so that the chaos
# suite can show that its checker catches a broken election. It does what
# a first attempt with redis-cli does: SET NX PX to win, then GET and
# PEXPIRE (two commands, not atomic) to renew, and it has no lease deadline
# of its own: while it believes it leads, its child runs, even when it is
# frozen or cannot reach Redis. Run by leader-chaos --naive:
#
#   naive_candidate.sh PORT KEY ID TTL_MS PAUSE_S HEARTBEAT HBLOG BEAT_MS \
#                      PDEATH
#
# PDEATH is "leader-chaos --exec-pdeath": the child is started through it
# so that it dies with this script (a kill -9 must not leave it beating
# after the suite is over); that is tidiness, not safety.
port=$1 key=$2 id=$3 ttl=$4 pause=$5 hb=$6 hblog=$7 beat=$8
shift 8
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null; }
child=
stop_child() {
    if [ -n "$child" ]; then
        kill "$child" 2>/dev/null
        wait "$child" 2>/dev/null
        child=
    fi
}
trap 'stop_child; exit 143' TERM INT HUP

# Bounded like everything in the suite: the harness stops it long before.
n=0
while [ $n -lt 100000 ]; do
    n=$((n + 1))
    if [ -z "$child" ]; then
        if [ "$(cli SET "$key" "$id" NX PX "$ttl")" = OK ]; then
            # The fencing token: a counter, INCRed after the win (not in
            # the same step: naive).
            term=$(cli INCR "$key:term")
            LEADER_TERM=${term:-0} LEADER_ID=$id \
                "$@" $$ "$hb" "$hblog" --interval "$beat" &
            child=$!
        fi
    elif [ "$(cli GET "$key")" = "$id" ]; then
        cli PEXPIRE "$key" "$ttl" >/dev/null
    else
        stop_child
    fi
    sleep "$pause"
done
stop_child
