#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tree_child.sh - the chaos suite's child as a process tree, what `leader
# run` runs under leader-chaos --tree (the default):
#
#   tree_child.sh SHAPE HEARTBEAT HBLOG BEAT_MS
#
# It starts a leader-heartbeat in the background (a grandchild of `leader
# run`), then, by SHAPE:
#
#   exec   the shell becomes a second heartbeat (the direct child beats);
#   wait   it starts a second heartbeat in the background and waits for
#          both (the direct child is a shell that never beats);
#   escape the second heartbeat leaves the tree's process group and
#          session (setsid in a double fork: re-parented away from the
#          shell at once), and the shell becomes a third.
#
# Every heartbeat passes --group $$ (this shell's pid), so that the checker
# judges all of them as one child: its lifetime runs from the first start
# line of any of them to the last line of any of them, and a grandchild
# still beating after the rest was stopped keeps that child alive. All
# inherit LEADER_TERM and LEADER_ID from `leader run`.
shape=$1 hb=$2 hblog=$3 beat=$4

"$hb" "$hblog" --interval "$beat" --group $$ &
case $shape in
exec)
    exec "$hb" "$hblog" --interval "$beat" --group $$
    ;;
escape)
    (setsid "$hb" "$hblog" --interval "$beat" --group $$ &)
    exec "$hb" "$hblog" --interval "$beat" --group $$
    ;;
*)
    "$hb" "$hblog" --interval "$beat" --group $$ &
    wait
    ;;
esac
