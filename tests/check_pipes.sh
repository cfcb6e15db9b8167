#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# check_pipes.sh ROOT - no shell script of the tree that sets pipefail ends
# a pipe in a reader that may stop early (grep -q, head): it exits at its
# first match, the writer before it dies of SIGPIPE, and pipefail turns a
# match into a failure, now and then. Capture the output first instead:
# grep -q PATTERN <<<"$(cmd)". Skips (77) outside a git checkout.
root=${1:?usage: check_pipes.sh ROOT}
command -v git >/dev/null 2>&1 && git -C "$root" rev-parse >/dev/null 2>&1 || {
    echo "check_pipes: not a git checkout; skipped"
    exit 77
}
found=$(git -C "$root" ls-files '*.sh' 'scripts/*' '.ci/*' |
    while read -r f; do
        [ -f "$root/$f" ] && grep -q 'set -[a-z]*o pipefail' "$root/$f" ||
            continue
        # A pipe into grep -q/--quiet/-m or head, on one line or with the
        # pipe at the end of the line before.
        awk -v f="$f" '
            /^[[:space:]]*#/ { prev = ""; next }
            {
                line = prev $0
                if (line ~ /(^|[^|])\|[[:space:]]*(grep[[:space:]]+(-[a-zA-Z]*[qm]|--quiet|--max-count)|head([[:space:]]|$))/)
                    printf "%s:%d: %s\n", f, NR, $0
                prev = ($0 ~ /(^|[^|])\|[[:space:]]*$/) ? $0 : ""
            }' "$root/$f"
    done)
if [ -n "$found" ]; then
    echo "check_pipes: a pipe into a reader that stops early, under pipefail:"
    echo "$found"
    exit 1
fi
echo "check_pipes: no early-stopping reader at the end of a pipe"
