# SPDX-License-Identifier: BSD-3-Clause
# tests/python/test_process.py - candidates in processes of their own: a
# kill -9 failover, processes that exit by themselves, releasing what they
# hold however they end their leaders, and the seed example end to end.
import os
import signal
import subprocess
import sys
import time

import pytest

from libleader import Leader

from conftest import BINDING, SLACK, child_env, finish, spawn

CHILD = """
import asyncio, sys, time, libleader
url, name, how = sys.argv[1], sys.argv[2], sys.argv[3]
if how == "async":
    async def main():
        l = libleader.AsyncLeader(url, name, ttl=30)
        l.elect()
        assert await l.wait_elected(10)
        print("elected", l.term, flush=True)
    asyncio.run(main())  # ends with the leader still open
else:
    l = libleader.Leader(url, name, ttl=float(sys.argv[4]) if len(sys.argv) > 4
                         else 30).elect()
    assert l.wait_elected(10)
    print("elected", l.term, flush=True)
    if how == "hold":
        time.sleep(3600)
    elif how == "listener-close":
        l.on("*", lambda ev: print("event:", ev, file=sys.stderr, flush=True))
        l.on("revoked", lambda ev: print("revoked", flush=True))
        l.on("changed", lambda ev: l.close())
        l.new_term()  # its CHANGED closes the handle from a listener
        time.sleep(0.5)
    elif how == "drop":
        del l  # collected: closed by its finalizer
# "open": exits with the leader still open
"""


def start_child(redis_url, name, how, *extra):
    p = spawn(CHILD, redis_url, name, how, *extra)
    line = p.stdout.readline().decode().split()
    if not line or line[0] != "elected":
        p.kill()
        out, err = finish(p)
        pytest.fail(f"child not elected: {line} {err}")
    return p, int(line[1])


def test_kill_9_failover(redis_url, name):
    ttl = 1.0
    child, child_term = start_child(redis_url, name, "hold", str(ttl))
    watcher = Leader(redis_url, name, wait=0.2).observe()
    b = Leader(redis_url, name, ttl=ttl, wait=0.5).elect()
    try:
        assert not b.wait_elected(0.3)
        t0 = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert b.wait_elected(ttl + 3 * SLACK)
        took = time.monotonic() - t0
        # The dead leader's key expires within ttl; the follower tries at
        # the key's expiry, not a whole wait later.
        assert took < ttl + 0.5 * SLACK, took
        assert b.term > child_term
        assert b.is_leader()
        # An observer saw the change (as "expired", or as b's election when
        # b took the key at the very moment it expired).
        watcher.wait_holder(lambda h: h == b.id, 3 * SLACK)
        print(f"failover after kill -9: {took * 1000:.0f} ms (ttl {ttl} s)")
    finally:
        child.kill()
        finish(child)
        b.close()
        watcher.close()


@pytest.mark.parametrize("how", ["open", "async", "listener-close", "drop"])
def test_a_process_exits_by_itself_and_releases(redis_url, name, how):
    child, _ = start_child(redis_url, name, how)
    try:
        out, err = finish(child, timeout=15 * SLACK)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = finish(child)
        pytest.fail(f"the child ({how}) did not exit by itself: {err}")
    assert child.returncode == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    if how == "listener-close":
        assert "revoked" in out, err
    # The key was released on the way out (ttl is 30 s: not expired).
    probe = Leader(redis_url, name)
    try:
        assert probe.current() is None
    finally:
        probe.close()


def test_the_seed_example_runs(redis_url):
    example = os.path.join(BINDING, "examples", "seed.py")
    p = subprocess.run([sys.executable, example, redis_url],
                       capture_output=True, text=True, env=child_env(),
                       timeout=30 * SLACK)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("id: ") and lines[1].startswith("lock key: ")
    assert "candidate got elected! (term" in p.stdout
    assert "candidate is the leader!" in p.stdout
    assert lines[-1] == "candidate got revoked!"
