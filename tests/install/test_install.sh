#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# test_install.sh CASE - libleader as a user installs and links it. Each
# case is one CTest entry (install.CASE); exit 0 pass, 1 fail, 77 skip.
#
# Cases on this build tree's artifacts (nothing is rebuilt), installed with
# `cmake --install` into a DESTDIR under the build tree, prefix /usr/local:
#   setup             the install the next five cases share
#   layout            the installed files; ELF: SONAME, no RUNPATH, no
#                     NEEDED hiredis when embedded; nm: libleader.so and
#                     libleader.a define exactly the leader_* functions of
#                     leader.h as globals
#   pkgconfig         consumer.c built with `pkg-config --cflags --libs
#                     libleader`, run against a private redis-server: elected
#   pkgconfig_static  the same linked with libleader.a (no NEEDED libleader)
#   cmake             tests/install/consumer with find_package(libleader):
#                     libleader::leader and libleader::leader_static, both run
#   cli               the installed leader --version, and leader status
#                     against a private redis-server
#   uninstall         install into a DESTDIR of its own, uninstall with the
#                     same PREFIX and DESTDIR: no file is left
#   subdirectory      tests/install/consumer with add_subdirectory() of this
#                     source tree: libleader::leader without tests, examples
#                     or CLI; the consumer runs
# Cases on a copy of the tree, from the source tarball (scripts/dist
# --worktree: the tracked files, without .deps/):
#   dist_embedded     given a copy of the hiredis scripts/bootstrap built (as
#                     bootstrap would make it, with no network), configure
#                     with the tests off, build, install; then rm -rf the
#                     copy's .deps and build directory (the whole copy, in
#                     fact): the installed leader and the consumers, through
#                     pkg-config (shared, static) and CMake, still work
#   deb               the Debian packages (scripts/deb: dpkg-buildpackage
#                     and lintian, in a copy), unpacked with dpkg -x; the
#                     consumers build and run against them; skipped without
#                     debhelper or lintian
#   dist_system       no .deps at all: configure with the tests off against
#                     an installed hiredis >= 1.0 (the one this build uses,
#                     as an outside prefix), build, install; the consumers
#                     work through pkg-config (shared, static: Requires.private
#                     brings hiredis) and CMake
#
# Environment (set by tests/install/CMakeLists.txt): LEADER_SOURCE_DIR,
# LEADER_BINARY_DIR, LEADER_CC, LEADER_CMAKE, LEADER_HIREDIS_EMBEDDED (ON or
# OFF), LEADER_HIREDIS_PCDIR (pkg-config dir of the hiredis this build
# uses), LEADER_REDIS_FIXTURE.
set -euo pipefail

case_=${1:?usage: test_install.sh CASE}
src=${LEADER_SOURCE_DIR:?}
bin=${LEADER_BINARY_DIR:?}
cc=${LEADER_CC:-cc}
cmake=${LEADER_CMAKE:-cmake}
fixture=${LEADER_REDIS_FIXTURE:?}
prefix=/usr/local
top=$bin/tests/install
stage=$top/stage
work=$top/$case_

# The warnings an application would build the header with.
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
skip() {
    # stderr: the message must show from inside $(...) too.
    echo "skip: $*" >&2
    exit 77
}
say() {
    echo "--- $*"
}

need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || skip "no $t on PATH"
    done
}

version() {
    sed -n 's/^#define LEADER_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
        "$src/include/leader.h" | paste -sd.
}

# The leader_* functions leader.h declares with LEADER_API.
api_functions() {
    grep -v '^#' "$src/include/leader.h" | tr '\n' ' ' |
        grep -o 'LEADER_API [^;(]*(' |
        sed 's/($//; s/.*[ *]//' | sort -u
}

# pc PCDIR ARGS: pkg-config on an install under a DESTDIR: --define-prefix
# takes the prefix from where the .pc file is; with $sysroot set (the root
# of unpacked .debs, whose multiarch libdir --define-prefix cannot undo),
# PKG_CONFIG_SYSROOT_DIR puts that root before every path.
sysroot=
pc() {
    local pcdir=$1
    shift
    if [[ -n $sysroot ]]; then
        PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$sysroot pkg-config "$@"
    else
        PKG_CONFIG_PATH=$pcdir${LEADER_HIREDIS_PCDIR:+:$LEADER_HIREDIS_PCDIR} \
            pkg-config --define-prefix "$@"
    fi
}

# run PROGRAM [LIBDIRS]: PROGRAM against a private redis-server; it must say
# it was elected.
run() {
    local prog=$1 libdirs=${2:-} out
    if ! out=$("$fixture" -- env ${libdirs:+LD_LIBRARY_PATH=$libdirs} \
        "$prog" 2>&1); then
        echo "$out" >&2
        fail "$prog was not elected"
    fi
    echo "$out"
    [[ $out == *"libleader $(version), elected with term "* ]] ||
        fail "$prog: unexpected output"
}

# no_runpath FILE...: no RPATH or RUNPATH at all (the install must not point
# into the source or build tree, and there is nothing else to point at).
no_runpath() {
    local f d
    for f in "$@"; do
        d=$(readelf -d "$f")
        if grep -E '\((RPATH|RUNPATH)\)' <<<"$d"; then
            fail "$f has a RPATH/RUNPATH"
        fi
    done
}

# consumer_pkgconfig|consumer_static|consumer_cmake PCDIR CMAKE_PREFIX
# LIBDIRS: consumer.c built against the install whose .pc files are in
# PCDIR and whose prefix is CMAKE_PREFIX, linked and run with LIBDIRS as
# LD_LIBRARY_PATH (as for a user whose libraries are not in the system's
# directories: the linker also looks there for libleader.so's own NEEDED
# libraries); consumers: all three.
consumer_pkgconfig() {
    local pcdir=$1 libdirs=$3
    say "pkg-config --cflags --libs libleader"
    mkdir -p "$work"
    # shellcheck disable=SC2046 # word splitting wanted
    LD_LIBRARY_PATH=$libdirs "$cc" "${cflags[@]}" -o "$work/consumer" \
        "$src/tests/install/consumer.c" $(pc "$pcdir" --cflags --libs libleader)
    grep -q 'NEEDED.*\[libleader\.so\.0\]' <<<"$(readelf -d "$work/consumer")" ||
        fail "consumer does not need libleader.so.0"
    run "$work/consumer" "$libdirs"
}

consumer_static() {
    local pcdir=$1 libdirs=$3
    say "static: libleader.a, with pkg-config --static for what it needs"
    mkdir -p "$work"
    # As docs/install.md says: -Bstatic picks libleader.a for -lleader;
    # --as-needed drops the second -lleader (of --static --libs), which
    # nothing is left to need.
    # shellcheck disable=SC2046
    "$cc" "${cflags[@]}" -o "$work/consumer_static" \
        "$src/tests/install/consumer.c" $(pc "$pcdir" --cflags libleader) \
        -Wl,--as-needed $(pc "$pcdir" --libs-only-L libleader) \
        -Wl,-Bstatic -lleader -Wl,-Bdynamic \
        $(pc "$pcdir" --static --libs libleader)
    if readelf -d "$work/consumer_static" | grep 'NEEDED.*libleader'; then
        fail "consumer_static needs libleader.so"
    fi
    nm "$work/consumer_static" >"$work/consumer_static.nm"
    grep -q ' T leader_elect$' "$work/consumer_static.nm" ||
        fail "consumer_static does not contain leader_elect"
    run "$work/consumer_static" "$libdirs"
}

consumer_cmake() {
    local cprefix=$2 libdirs=$3
    say "CMake: find_package(libleader)"
    mkdir -p "$work"
    PKG_CONFIG_PATH=${LEADER_HIREDIS_PCDIR:-} "$cmake" \
        -S "$src/tests/install/consumer" -B "$work/cmake" \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$cprefix" \
        -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$work/cmake.log" 2>&1 ||
        { cat "$work/cmake.log" >&2; fail "cmake configure"; }
    grep "libleader .* from $cprefix/" "$work/cmake.log" ||
        fail "find_package(libleader) did not find the one in $cprefix"
    LD_LIBRARY_PATH=$libdirs "$cmake" --build "$work/cmake" \
        >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; fail "cmake build"; }
    if readelf -d "$work/cmake/consumer_static" | grep 'NEEDED.*libleader'; then
        fail "cmake consumer_static needs libleader.so"
    fi
    run "$work/cmake/consumer_shared" "$libdirs"
    run "$work/cmake/consumer_static" "$libdirs"
}

consumers() {
    consumer_pkgconfig "$@"
    consumer_static "$@"
    consumer_cmake "$@"
}

# hpc ARGS: pkg-config on the hiredis this build uses.
hpc() {
    PKG_CONFIG_PATH=${LEADER_HIREDIS_PCDIR:?} pkg-config "$@"
}

# install_into DESTDIR BUILD: cmake --install, prefix /usr/local.
install_into() {
    rm -rf "$1"
    DESTDIR=$1 "$cmake" --install "$2" --prefix "$prefix" >"$1.log" 2>&1 ||
        { cat "$1.log" >&2; fail "cmake --install $2"; }
}

# unpack DIR: the tree as scripts/dist --worktree packs it, unpacked in DIR;
# prints the unpacked tree's path.
unpack() {
    local dir=$1 tarball
    need git tar gzip
    git -C "$src" rev-parse --git-dir >/dev/null 2>&1 ||
        skip "$src is not a git checkout (the tarball is made from git)"
    mkdir -p "$dir"
    tarball=$("$src/scripts/dist" --worktree "$dir")
    tar -xzf "$tarball" -C "$dir"
    [[ ! -e $dir/libleader-$(version)/.deps ]] || fail "the tarball has .deps"
    echo "$dir/libleader-$(version)"
}

# build_copy TREE PKG_CONFIG_PATH: configure with the tests off, build,
# install into $work/stage.
build_copy() {
    local tree=$1
    # shellcheck disable=SC2015 # either step failing fails
    PKG_CONFIG_PATH=$2 "$cmake" -S "$tree" -B "$tree/build" \
        -DCMAKE_C_COMPILER="$cc" \
        -DLEADER_TESTS=OFF >"$work/build.log" 2>&1 &&
        "$cmake" --build "$tree/build" -j2 >>"$work/build.log" 2>&1 ||
        { cat "$work/build.log" >&2; fail "build of the copy"; }
    grep -- '-- hiredis' "$work/build.log"
    install_into "$work/stage" "$tree/build"
}

case $case_ in
setup)
    need readelf
    install_into "$stage" "$bin"
    ;;

layout)
    need readelf nm
    root=$stage$prefix
    v=$(version)
    for f in lib/libleader.so.$v lib/libleader.so.${v%%.*} lib/libleader.so \
        lib/libleader.a lib/pkgconfig/libleader.pc \
        lib/cmake/libleader/libleaderConfig.cmake \
        lib/cmake/libleader/libleaderConfigVersion.cmake include/leader.h \
        bin/leader share/man/man1/leader.1 share/man/man3/libleader.3 \
        share/man/man3/leader_new.3 share/man/man3/leader_elect.3 \
        share/man/man3/leader_observe.3 share/man/man3/leader_fd.3 \
        share/man/man3/leader_client_new.3 share/doc/libleader/README.md \
        share/doc/libleader/LICENSE share/doc/libleader/CHANGELOG.md \
        share/doc/libleader/docs/api.md share/doc/libleader/examples/seed.c; do
        [[ -e $root/$f ]] || fail "not installed: $f"
    done
    # One man page (or link) per function of leader.h.
    for fn in $(api_functions); do
        [[ -e $root/share/man/man3/$fn.3 ]] || fail "no man page $fn(3)"
    done
    grep -q 'SONAME.*\[libleader\.so\.0\]' \
        <<<"$(readelf -d "$root/lib/libleader.so.$v")" || fail "SONAME"
    no_runpath "$root/lib/libleader.so.$v" "$root/bin/leader"
    if [[ ${LEADER_HIREDIS_EMBEDDED:-} == ON ]]; then
        if readelf -d "$root/lib/libleader.so.$v" "$root/bin/leader" |
            grep 'NEEDED.*hiredis'; then
            fail "hiredis is embedded, yet NEEDED"
        fi
        if grep '^Requires.private:.*hiredis' "$root/lib/pkgconfig/libleader.pc"
        then
            fail "libleader.pc requires hiredis, yet it is embedded"
        fi
        grep -q 'Redistribution and use' \
            "$root/share/doc/libleader/LICENSE.hiredis" ||
            fail "no license of the embedded hiredis"
    fi
    if grep -rl -e "$src" -e "$bin" -e '\.deps' "$root/lib/pkgconfig" \
        "$root/lib/cmake"; then
        fail "the .pc file or the CMake package names the source or build tree"
    fi
    # Exports: exactly leader.h's functions, from the .so and the .a.
    api_functions >"$top/api.txt"
    nm -D --defined-only "$root/lib/libleader.so.$v" | awk '{print $3}' |
        sed 's/@.*//' | grep -v '^LEADER_' | sort -u >"$top/so.txt"
    # Every export carries a version node (src/libleader.map).
    grep -q 'Name: LEADER_0\.1' <<<"$(readelf -V "$root/lib/libleader.so.$v")" ||
        fail "no LEADER_0.1 version node"
    if nm -D --defined-only "$root/lib/libleader.so.$v" |
        awk '$3 ~ /^leader_/ && $3 !~ /@@?LEADER_/' | grep .; then
        fail "exports without a version"
    fi
    nm -g --defined-only "$root/lib/libleader.a" |
        awk 'NF == 3 {print $3}' | sort -u >"$top/a.txt"
    diff -u "$top/api.txt" "$top/so.txt" ||
        fail "libleader.so's exports differ from leader.h's functions"
    diff -u "$top/api.txt" "$top/a.txt" ||
        fail "libleader.a's globals differ from leader.h's functions"
    echo "$(wc -l <"$top/api.txt") functions, exported by the .so and the .a"
    ;;

pkgconfig | pkgconfig_static | cmake)
    need pkg-config readelf nm
    root=$stage$prefix
    [[ -f $root/lib/pkgconfig/libleader.pc ]] || fail "install.setup did not run"
    rm -rf "$work"
    libdirs=$root/lib
    # With hiredis linked, not embedded, the consumer loads it from the
    # prefix it is installed in, as from any other.
    [[ ${LEADER_HIREDIS_EMBEDDED:-} == ON ]] ||
        libdirs+=:$(hpc --variable=libdir hiredis)
    case $case_ in
    pkgconfig) consumer_pkgconfig "$root/lib/pkgconfig" "$root" "$libdirs" ;;
    pkgconfig_static) consumer_static "$root/lib/pkgconfig" "$root" "$libdirs" ;;
    cmake) consumer_cmake "$root/lib/pkgconfig" "$root" "$libdirs" ;;
    esac
    ;;

cli)
    root=$stage$prefix
    out=$("$root/bin/leader" --version)
    [[ $out == "leader $(version)" ]] || fail "leader --version: $out"
    echo "$out"
    # Exit status 1: it reached Redis, and nobody leads.
    rc=0
    # shellcheck disable=SC2016 # expanded by the inner shell
    "$fixture" -- sh -c '"$0" status --redis "$REDIS_URL" --key install-cli' \
        "$root/bin/leader" || rc=$?
    ((rc == 1)) || fail "leader status: exit status $rc, not 1 (nobody leads)"
    ;;

uninstall)
    dest=$work/destdir
    rm -rf "$work"
    mkdir -p "$work"
    install_into "$dest" "$bin"
    n=$(find "$dest" -type f -o -type l | wc -l)
    ((n > 0)) || fail "nothing was installed"
    DESTDIR=$dest "$cmake" -DBUILD_DIR="$bin" -DPREFIX="$prefix" \
        -P "$src/cmake/LeaderUninstall.cmake" >"$work/uninstall.log" 2>&1 ||
        { cat "$work/uninstall.log" >&2; fail "uninstall"; }
    tail -n 1 "$work/uninstall.log"
    left=$(find "$dest" \( -type f -o -type l \) -print)
    [[ -z $left ]] || fail "left behind: $left"
    if find "$dest" -type d -name '*libleader*' | grep .; then
        fail "left behind: libleader's directories"
    fi
    echo "installed $n files and links; none left"
    ;;

subdirectory)
    rm -rf "$work"
    mkdir -p "$work"
    # shellcheck disable=SC2015 # either step failing fails
    PKG_CONFIG_PATH=$LEADER_HIREDIS_PCDIR "$cmake" \
        -S "$src/tests/install/consumer" -B "$work/cmake" \
        -DCMAKE_C_COMPILER="$cc" -DLIBLEADER_SOURCE_DIR="$src" \
        >"$work/cmake.log" 2>&1 &&
        "$cmake" --build "$work/cmake" -j2 >>"$work/cmake.log" 2>&1 ||
        { cat "$work/cmake.log" >&2; fail "add_subdirectory build"; }
    grep -- '-- hiredis' "$work/cmake.log"
    libdirs=
    [[ ${LEADER_HIREDIS_EMBEDDED:-} == ON ]] ||
        libdirs=$(hpc --variable=libdir hiredis)
    run "$work/cmake/consumer_shared" "$libdirs"
    run "$work/cmake/consumer_static" "$libdirs"
    ;;

dist_embedded)
    need pkg-config readelf nm
    [[ ${LEADER_HIREDIS_EMBEDDED:-} == ON ]] ||
        skip "this build links an installed hiredis: nothing to embed"
    rm -rf "$work"
    tree=$(unpack "$work/src")
    # What scripts/bootstrap leaves in .deps/prefix, copied rather than
    # built again (that needs the network).
    mkdir -p "$tree/.deps"
    cp -a "$(readlink -f "$LEADER_HIREDIS_PCDIR/../..")" "$tree/.deps/prefix"
    # The .pc files name their prefix: point them at the copy (bootstrap
    # does the same for a moved tree).
    sed -E -i "s|^(prefix=).*|\1$tree/.deps/prefix|; s|/[^ =]*/\.deps/prefix|$tree/.deps/prefix|g" \
        "$tree/.deps/prefix/lib/pkgconfig/"*.pc
    build_copy "$tree" "$tree/.deps/prefix/lib/pkgconfig"
    grep -q -- "-- hiredis .*embedded from $tree/.deps" "$work/build.log" ||
        fail "the copy did not embed its own hiredis"
    say "rm -rf .deps build (the whole copy)"
    rm -rf "$work/src"
    root=$work/stage$prefix
    no_runpath "$root/lib/libleader.so.$(version)" "$root/bin/leader"
    out=$("$root/bin/leader" --version)
    [[ $out == "leader $(version)" ]] || fail "leader --version: $out"
    echo "$out"
    LEADER_HIREDIS_PCDIR='' consumers "$root/lib/pkgconfig" "$root" "$root/lib"
    ;;

dist_system)
    need pkg-config readelf nm
    rm -rf "$work"
    tree=$(unpack "$work/src")
    # An installed hiredis: the one this build uses, in its own prefix,
    # outside the copy.
    pcdir=${LEADER_HIREDIS_PCDIR:?}
    build_copy "$tree" "$pcdir"
    grep -q -- "-- hiredis .*linked from" "$work/build.log" ||
        fail "the copy did not link the installed hiredis"
    root=$work/stage$prefix
    readelf -d "$root/lib/libleader.so.$(version)" | grep 'NEEDED.*hiredis' ||
        fail "libleader.so does not need the installed hiredis"
    grep '^Requires.private: hiredis >= 1.0' "$root/lib/pkgconfig/libleader.pc" ||
        fail "libleader.pc does not require hiredis"
    no_runpath "$root/lib/libleader.so.$(version)" "$root/bin/leader"
    LEADER_HIREDIS_PCDIR=$pcdir consumers "$root/lib/pkgconfig" "$root" \
        "$root/lib:$(hpc --variable=libdir hiredis)"
    ;;

deb)
    for t in dpkg-buildpackage dh lintian; do
        command -v $t >/dev/null 2>&1 ||
            skip "no $t: the Debian tools are missing (scripts/bootstrap deb" \
                "installs debhelper and lintian)"
    done
    need git pkg-config readelf nm
    git -C "$src" rev-parse --git-dir >/dev/null 2>&1 ||
        skip "$src is not a git checkout (the packages are built from git)"
    rm -rf "$work"
    # Built from a copy of the tree, checked with lintian (errors and
    # warnings fail; overrides are justified in debian/*.lintian-overrides).
    PKG_CONFIG_PATH=$LEADER_HIREDIS_PCDIR "$src/scripts/deb" "$work/out" ||
        fail "scripts/deb"
    say "dpkg -x libleader0, libleader-dev, leader"
    for p in libleader0 libleader-dev leader; do
        deb=$(ls "$work/out/${p}_"*.deb)
        dpkg -x "$deb" "$work/root"
    done
    multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
    root=$work/root/usr
    v=$(version)
    for f in lib/$multiarch/libleader.so.$v lib/$multiarch/libleader.so.0 \
        lib/$multiarch/libleader.so lib/$multiarch/libleader.a \
        lib/$multiarch/pkgconfig/libleader.pc \
        lib/$multiarch/cmake/libleader/libleaderConfig.cmake include/leader.h \
        bin/leader share/man/man1/leader.1.gz share/man/man3/libleader.3.gz \
        share/man/man3/leader_stop.3.gz share/doc/libleader-dev/copyright \
        share/doc/libleader-dev/examples/seed.c; do
        [[ -e $root/$f ]] || fail "not in the packages: $f"
    done
    no_runpath "$root/lib/$multiarch/libleader.so.$v" "$root/bin/leader"
    out=$("$root/bin/leader" --version)
    [[ $out == "leader $v" ]] || fail "leader --version: $out"
    echo "$out"
    libdirs=$root/lib/$multiarch
    [[ ${LEADER_HIREDIS_EMBEDDED:-} == ON ]] ||
        libdirs+=:$(hpc --variable=libdir hiredis)
    sysroot=$work/root
    consumers "$root/lib/$multiarch/pkgconfig" "$root" "$libdirs"
    ;;

*)
    echo "test_install.sh: unknown case $case_" >&2
    exit 2
    ;;
esac
