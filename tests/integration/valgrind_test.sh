#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# valgrind_test.sh PROGRAM TEST... - runs test cases of a test program under
# valgrind (each in the harness' own forked child, which valgrind follows),
# failing on any memory error or definite or indirect leak. Exit 0 pass,
# 1 fail, 77 skip (no valgrind, or the tests skipped).
set -u

prog=${1:?usage: valgrind_test.sh PROGRAM TEST...}
shift
command -v valgrind >/dev/null 2>&1 || {
    echo "skip: no valgrind"
    exit 77
}
st=0
for t in "$@"; do
    rc=0
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=9 "$prog" --only "$t" --timeout 200 || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 77 ] || st=1
done
exit $st
