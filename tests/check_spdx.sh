#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# check_spdx.sh ROOT - every source file of the tree names its license with
# an SPDX-License-Identifier line (LICENSE: BSD-3-Clause). Data, documents
# and files whose format allows no comment are exempt. Skips (77) outside a
# git checkout (a source tarball has no list of tracked files).
root=${1:?usage: check_spdx.sh ROOT}
command -v git >/dev/null 2>&1 && git -C "$root" rev-parse >/dev/null 2>&1 || {
    echo "check_spdx: not a git checkout; skipped"
    exit 77
}
missing=$(git -C "$root" ls-files | grep -Ev \
    '^(tests/fuzz/corpus/|abi/|docs/bench/|docs/redis-acl\.rules$)|\.md$|\.png$|package(-lock)?\.json$|^LICENSE$|\.clang-format$|\.gitignore$|^debian/(control|changelog|copyright|source/|.*\.install$|.*lintian-overrides$|.*\.symbols$)' |
    while read -r f; do
        [ -L "$root/$f" ] && continue
        head -n 3 "$root/$f" | grep -q 'SPDX-License-Identifier: BSD-3-Clause' ||
            echo "$f"
    done)
if [ -n "$missing" ]; then
    echo "check_spdx: no SPDX-License-Identifier line in:"
    echo "$missing"
    exit 1
fi
echo "check_spdx: every source file names its license"
