#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run_node_test.sh FIXTURE ADDON TEST_FILE - runs one test file of the
# Node.js binding (bindings/node/test) with `node --test` through the Redis
# fixture, loading the addon ADDON (the built leader.node). Uses
# $LEADER_NODE, else the node on PATH. Exits 77 (skipped) when there is no
# node, or when ADDON is "none" (not built: no Node headers) or "sanitizer".
fixture=$1 addon=$2 file=$3

case $addon in
sanitizer)
    echo "node: skipped: the addon is not built in a sanitizer build"
    exit 77
    ;;
none)
    echo "node: skipped: the addon was not built (no node_api.h; Debian:" \
        "apt-get install libnode-dev)"
    exit 77
    ;;
esac
node=${LEADER_NODE:-node}
if ! command -v "$node" >/dev/null 2>&1; then
    echo "node: skipped: no node (Debian: apt-get install nodejs)"
    exit 77
fi
if ! "$node" -e 'require("node:test")' >/dev/null 2>&1; then
    echo "node: skipped: $("$node" --version) has no node:test (Node.js >= 18)"
    exit 77
fi

LIBLEADER_NODE_ADDON=$addon
export LIBLEADER_NODE_ADDON
exec "$fixture" -- "$node" --test "$file"
