#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# naive_quorum.sh - a deliberately unsafe quorum candidate, so that the
# chaos suite can show that its checker catches what quorum mode's own
# rules prevent. It is elected on a majority of independent servers the way
# a first attempt with redis-cli would be: SET NX PX on each server (or
# GET-then-PEXPIRE where it already holds the key), elected when a majority
# is its (short of one, it gives back what it won and waits a random
# while), a term from INCR on the servers it won (no
# commit of the term to a majority), renewal by GET-then-PEXPIRE on each,
# leading while a majority still holds its id. It has no young-server rule:
# a server that restarted empty counts at once, so another candidate can
# win that server and the ones the leader's lease no longer covers while
# the leader still holds its majority as it counted it. Run by
# leader-chaos --naive --servers N:
#
#   naive_quorum.sh "PORT1 PORT2 ..." KEY ID TTL_MS PAUSE_S HEARTBEAT HBLOG \
#                   BEAT_MS PDEATH
#
# PDEATH is "leader-chaos --exec-pdeath", as for naive_candidate.sh.
ports=$1 key=$2 id=$3 ttl=$4 pause=$5 hb=$6 hblog=$7 beat=$8
shift 8
# A down server refuses at once (its proxy closes); timeout bounds a slow
# one (redis-cli has no timeout of its own).
cli() {
    port=$1
    shift
    timeout 1 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null
}
n=0
for p in $ports; do n=$((n + 1)); done
majority=$((n / 2 + 1))
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
round=0
while [ $round -lt 100000 ]; do
    round=$((round + 1))
    if [ -z "$child" ]; then
        won= votes=0
        for p in $ports; do
            # A server that already holds our id (an earlier try that
            # fell short of a majority) is ours again: extend it.
            if [ "$(cli "$p" SET "$key" "$id" NX PX "$ttl")" = OK ] ||
                { [ "$(cli "$p" GET "$key")" = "$id" ] &&
                    cli "$p" PEXPIRE "$key" "$ttl" >/dev/null; }; then
                won="$won $p" votes=$((votes + 1))
            fi
        done
        if [ $votes -ge $majority ]; then
            # The fencing token: the highest INCR among the servers won,
            # read by nobody else before it is used (naive).
            term=0
            for p in $won; do
                t=$(cli "$p" INCR "$key:term")
                [ "${t:-0}" -gt "$term" ] 2>/dev/null && term=$t
            done
            LEADER_TERM=$term LEADER_ID=$id \
                "$@" $$ "$hb" "$hblog" --interval "$beat" &
            child=$!
        elif [ -n "$won" ]; then
            # Short of a majority: give back what it won (GET, then DEL,
            # the race of a first attempt) and wait a while of its own.
            # Without this, candidates that each hold a server keep them
            # for ever, nobody leads, and nothing more is tested.
            for p in $won; do
                [ "$(cli "$p" GET "$key")" = "$id" ] &&
                    cli "$p" DEL "$key" >/dev/null
            done
            r=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
            ms=$((ttl * ${r:-0} / 765))
            sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
        fi
    else
        held=0
        for p in $ports; do
            if [ "$(cli "$p" GET "$key")" = "$id" ]; then
                cli "$p" PEXPIRE "$key" "$ttl" >/dev/null
                held=$((held + 1))
            fi
        done
        [ $held -ge $majority ] || stop_child
    fi
    sleep "$pause"
done
stop_child
