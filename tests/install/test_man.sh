#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# test_man.sh SOURCE_DIR LINK_DIR - the manual pages: docs/leader.1 and
# docs/man3/*.3, with the links to them the build makes in LINK_DIR.
# Exit 0 pass, 1 fail, 77 skip.
#
# - Each page is clean under `mandoc -Tlint` (every message, style ones
#   included), or, without mandoc, under `man --warnings -l` (groff's
#   warnings); with neither, the test is skipped.
# - Each page's .TH names this release ("libleader X.Y.Z", from leader.h).
# - Each section 3 page but the overview has SYNOPSIS, RETURN VALUE,
#   ERRORS, THREAD SAFETY, EXAMPLE and SEE ALSO.
# - Every function leader.h declares has a page or a link to one, and the
#   page names it in its NAME and SYNOPSIS sections.
set -euo pipefail

src=$(cd "${1:?usage: test_man.sh SOURCE_DIR LINK_DIR}" && pwd)
links=$(cd "${2:?usage: test_man.sh SOURCE_DIR LINK_DIR}" && pwd)
failed=0

fail() {
    echo "FAIL: $*" >&2
    failed=1
}

if command -v mandoc >/dev/null 2>&1; then
    lint() { mandoc -Tlint "$1" 2>&1; }
    echo "lint: mandoc -Tlint"
elif command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
    # shellcheck disable=SC2069 # groff's warnings, not the page
    lint() { MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null; }
    echo "lint: man --warnings -l"
else
    echo "skip: neither mandoc nor man with groff (apt-get install mandoc)"
    exit 77
fi

version=$(sed -n 's/^#define LEADER_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
    "$src/include/leader.h" | paste -sd.)

# A man root as installed: man1/ and man3/ with the pages and the links.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/man1" "$root/man3"
cp "$src/docs/leader.1" "$root/man1/"
cp "$src/docs/man3/"*.3 "$root/man3/"
cp -P "$links/"*.3 "$root/man3/" 2>/dev/null || true

cd "$root"
pages=(man1/leader.1)
for f in "$src/docs/man3/"*.3; do
    pages+=("man3/${f##*/}")
done
for page in "${pages[@]}"; do
    out=$(lint "$page" || true)
    [[ -z $out ]] || fail "$page: lint: $out"
    grep -q "^\.TH .* \"libleader $version\"" "$page" ||
        fail "$page: .TH does not name libleader $version"
    [[ $page == man3/* && $page != man3/libleader.3 ]] || continue
    for section in SYNOPSIS "RETURN VALUE" ERRORS "THREAD SAFETY" EXAMPLE \
        "SEE ALSO"; do
        grep -Eq "^\.SH \"?$section\"?$" "$page" ||
            fail "$page: no $section section"
    done
done

functions=$(grep -v '^#' "$src/include/leader.h" | tr '\n' ' ' |
    grep -o 'LEADER_API [^;(]*(' | sed 's/($//; s/.*[ *]//' | sort -u)
n=0
for fn in $functions; do
    n=$((n + 1))
    page=man3/$fn.3
    if [[ ! -f $page ]]; then
        fail "$fn: no page $page (name it in a page's NAME section)"
        continue
    fi
    target=$page
    if [[ -L $page ]]; then
        target=man3/$(readlink "$page")
        [[ -f $target && ! -L $target ]] ||
            { fail "$page: links to $target: no such page"; continue; }
    fi
    # The NAME section of the page that documents it names it.
    grep -q "\b$fn\b" <<<"$(sed -n '/^\.SH NAME$/,/^\.SH /p' "$target")" ||
        fail "$fn: not in the NAME section of $target"
    grep -q "\b$fn\b" <(sed -n '/^\.SH SYNOPSIS$/,/^\.SH /p' "$target") ||
        fail "$fn: not in the SYNOPSIS of $target"
done
echo "${#pages[@]} pages, $n functions of leader.h, each with its page"
exit $failed
