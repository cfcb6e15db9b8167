#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run_example.sh FIXTURE [--valgrind] PROGRAM - runs an example program
# against a private redis-server, as the tests' check that it works end to
# end; with --valgrind, under valgrind with leak checking, failing on any
# error or definite leak. Exit 0 pass, 1 fail, 77 skip.
set -eu

fx=${1:?usage: run_example.sh FIXTURE [--valgrind] PROGRAM}
shift
runner=""
if [ "${1:-}" = "--valgrind" ]; then
    shift
    command -v valgrind >/dev/null 2>&1 || {
        echo "skip: no valgrind"
        exit 77
    }
    runner="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9"
fi
prog=${1:?usage: run_example.sh FIXTURE [--valgrind] PROGRAM}

# shellcheck disable=SC2016 # expanded by the inner shell
exec "$fx" -- sh -c "$runner \"\$0\" \"\$REDIS_URL\"" "$prog"
