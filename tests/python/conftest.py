# SPDX-License-Identifier: BSD-3-Clause
# tests/python/conftest.py - fixtures of the Python binding's tests: the
# Redis that redis-fixture started (REDIS_URL), a fresh election name per
# test, and a helper that runs Python in a child process.
import os
import subprocess
import sys
import threading
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BINDING = os.path.join(ROOT, "bindings", "python")

# Scheduling on a busy machine: waits are generous, assertions on time
# carry slack.
SLACK = float(os.environ.get("LEADER_TEST_SLACK", "1"))


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("no REDIS_URL: run through redis-fixture "
                    "(build/tests/redis-fixture -- pytest ...)")
    return url


@pytest.fixture
def name(request):
    """An election name of this test's own."""
    return f"py-{request.node.name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def no_leftovers():
    """Fails the test if it leaves threads (Python's or the library's: every
    thread of the process counts) or descriptors behind."""
    before = (_os_threads(), _fds())
    yield
    for _ in range(50):
        if (_os_threads(), _fds()) <= before:
            break
        threading.Event().wait(0.1)
    assert _os_threads() <= before[0], "threads left behind"
    assert _fds() <= before[1], "descriptors left behind"


def _os_threads():
    return len(os.listdir("/proc/self/task"))


def _fds():
    return len(os.listdir("/proc/self/fd"))


def child_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = BINDING + (os.pathsep + env["PYTHONPATH"]
                                   if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def spawn(code, *args, **popen):
    """Starts `python -c code args...` with the binding importable. Its
    pipes are unbuffered bytes: a readline() takes no more than the line,
    and communicate() sees the rest."""
    popen.setdefault("env", child_env())
    return subprocess.Popen([sys.executable, "-c", code, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0, **popen)


def finish(p, timeout=None):
    """communicate() of a spawn()ed process, as text."""
    out, err = p.communicate(timeout=timeout)
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@pytest.fixture
def free_port():
    """A loopback TCP port where nothing listens."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- under CTest: a run whose every test was skipped exits 77 ----------------

_outcomes = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _outcomes[report.outcome] = _outcomes.get(report.outcome, 0) + 1


def pytest_sessionfinish(session, exitstatus):
    code = os.environ.get("LEADER_PYTEST_SKIP_CODE")
    if (code and exitstatus == 0 and _outcomes["skipped"]
            and not _outcomes["passed"] and not _outcomes["failed"]):
        session.exitstatus = int(code)
