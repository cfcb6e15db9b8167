#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run_pytest.sh MODE FIXTURE LIBRARY SOURCE_DIR TEST... - runs pytest on the
# Python binding's tests (tests/python) through the Redis fixture, with the
# built libleader.so. Uses $LEADER_PYTHON, else /usr/bin/python3, else the
# python3 on PATH: the first that has pytest. Exits 77 (skipped) when none
# has, or when MODE is "sanitizer".
mode=$1 fixture=$2 library=$3 src=$4
shift 4

if [ "$mode" = sanitizer ]; then
    echo "python: skipped: a sanitizer build's libleader.so does not load" \
        "into a plain Python"
    exit 77
fi

py=
for candidate in ${LEADER_PYTHON:-} /usr/bin/python3 python3; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import pytest' >/dev/null 2>&1; then
        py=$candidate
        break
    fi
done
if [ -z "$py" ]; then
    echo "python: skipped: no python3 with pytest" \
        "(Debian: apt-get install python3 python3-pytest)"
    exit 77
fi

LIBLEADER_PATH=$library
PYTHONPATH=$src/bindings/python${PYTHONPATH:+:$PYTHONPATH}
# Nothing written into the source tree: no bytecode, no pytest cache.
PYTHONDONTWRITEBYTECODE=1
LEADER_PYTEST_SKIP_CODE=77
export LIBLEADER_PATH PYTHONPATH PYTHONDONTWRITEBYTECODE LEADER_PYTEST_SKIP_CODE
cd "$src/tests/python" || exit 1
# An exception that escaped to sys.unraisablehook, or a coroutine never
# awaited, fails the test.
exec "$fixture" -- "$py" -m pytest -p no:cacheprovider -q -rs \
    -W error::pytest.PytestUnraisableExceptionWarning \
    -W error::RuntimeWarning "$@"
