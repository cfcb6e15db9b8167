#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# valgrind_run.sh FIXTURE LEADER - `leader run -- true` and `leader status`
# under valgrind against a private redis-server: no memory error and no
# leak, in the supervisor (the watchdog is a fork of it and is checked
# too). Exit 0 pass, 1 fail, 77 skip (no valgrind or no redis-server).
set -eu

fx=${1:?usage: valgrind_run.sh FIXTURE LEADER}
leader=${2:?usage: valgrind_run.sh FIXTURE LEADER}
command -v valgrind >/dev/null 2>&1 || {
    echo "skip: no valgrind"
    exit 77
}
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9"

# shellcheck disable=SC2016 # expanded by the inner shell
st=0
"$fx" -- sh -c '
    set -e
    $1 "$2" run --redis "$REDIS_URL" --key vg --ttl 500 -- true
    rc=0; $1 "$2" status --redis "$REDIS_URL" --key vg --json || rc=$?
    [ $rc -eq 1 ] || { echo "status exited $rc, not 1" >&2; exit 1; }
' sh "$vg" "$leader" || st=$?
[ $st -ne 77 ] || {
    echo "skip: no redis-server"
    exit 77
}
[ $st -eq 0 ] || {
    echo "FAIL: leader under valgrind exited $st" >&2
    exit 1
}
echo "ok: leader under valgrind"
