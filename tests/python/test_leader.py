# SPDX-License-Identifier: BSD-3-Clause
# tests/python/test_leader.py - the thread-mode Leader against a real Redis:
# node-leader's README scenario, handover, the context manager, listeners,
# observing, queries and new terms.
import hashlib
import logging
import queue
import threading
import time

import pytest

import libleader
from libleader import ELECTED, REVOKED, CHANGED, ERROR, Leader, LeaderError

from conftest import SLACK


class Recorder:
    """Collects a Leader's events; waits for one of a kind."""

    def __init__(self, leader):
        self.events = []
        self.q = queue.Queue()
        leader.on("*", self._on)

    def _on(self, ev):
        self.events.append(ev)
        self.q.put(ev)

    def next(self, kind, timeout=5 * SLACK):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind.name} within {timeout} s: "
                                     f"{[str(e) for e in self.events]}")
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if ev.type == kind:
                return ev

    def kinds(self):
        return [e.type for e in self.events]


def test_seed_scenario(redis_url, name):
    # node-leader's README: create, print id and key, elect, ELECTED,
    # isLeader(), stop, REVOKED.
    candidate = Leader(redis_url, name, ttl=2, wait=0.5)
    assert candidate.id
    assert candidate.key == "leader:" + hashlib.sha1(
        name.encode()).hexdigest()
    assert candidate.name == name
    rec = Recorder(candidate)
    elected = threading.Event()
    candidate.on(Leader.event.ELECTED, lambda ev: elected.set())

    candidate.elect()
    assert elected.wait(5 * SLACK)
    ev = rec.next(ELECTED)
    assert ev.term > 0 and ev.error == 0
    assert candidate.is_leader() is True
    assert candidate.has_lease()
    assert candidate.term == ev.term
    assert 0 < candidate.lease_remaining() <= 2

    candidate.stop()
    revoked = rec.next(REVOKED, timeout=0.1)  # delivered before stop returns
    assert revoked.term == ev.term and revoked.error == 0
    assert candidate.is_leader() is False
    assert not candidate.has_lease() and candidate.term == 0
    candidate.close()


def test_two_candidates_hand_over(redis_url, name):
    a = Leader(redis_url, name, ttl=5, wait=1)
    b = Leader(redis_url, name, ttl=5, wait=1)
    try:
        a.elect()
        assert a.wait_elected(5 * SLACK)
        b.elect()
        assert b.wait_elected(0.3) is False
        assert not b.has_lease() and b.is_leader() is False
        old = a.term
        t0 = time.monotonic()
        a.stop()
        assert b.wait_elected(1 * SLACK)
        took = time.monotonic() - t0
        # A released key is taken at once on the "released" notification,
        # not after wait (1 s).
        assert took < 0.5 * SLACK, took
        assert b.term > old
        assert b.is_leader() and a.is_leader() is False
        print(f"handover {took * 1000:.1f} ms")
    finally:
        a.close()
        b.close()


def test_with_campaigns_and_releases_on_exit(redis_url, name):
    with Leader(redis_url, name, ttl=30) as l:
        assert l.wait_elected(5 * SLACK)
        held = l.term
    # The key was released, not left to expire (ttl is 30 s).
    probe = Leader(redis_url, name)
    try:
        assert probe.current() is None
    finally:
        probe.close()
    assert l.closed and not l.has_lease() and l.term == 0
    assert l.id and l.key  # identity stays readable
    with pytest.raises(LeaderError) as e:
        l.is_leader()
    assert e.value.code == libleader.errors.ESTATE
    assert held > 0
    l.close()  # idempotent


def test_with_releases_when_the_block_raises(redis_url, name):
    with pytest.raises(RuntimeError):
        with Leader(redis_url, name, ttl=30) as l:
            assert l.wait_elected(5 * SLACK)
            raise RuntimeError("the job failed")
    probe = Leader(redis_url, name)
    try:
        assert probe.current() is None
    finally:
        probe.close()


def test_wait_elected_times_out_while_another_leads(redis_url, name):
    with Leader(redis_url, name, ttl=5) as a:
        assert a.wait_elected(5 * SLACK)
        with Leader(redis_url, name, ttl=5) as b:
            t0 = time.monotonic()
            assert b.wait_elected(0.3) is False
            assert time.monotonic() - t0 >= 0.29
            assert b.holder == a.id or b.holder is None


def test_elect_twice_is_refused(redis_url, name):
    with Leader(redis_url, name) as l:
        with pytest.raises(LeaderError) as e:
            l.elect()
        assert e.value.code == libleader.errors.ESTATE
        assert "already campaigning" in str(e.value)
        with pytest.raises(LeaderError):
            l.observe()
    l.stop()  # after close: nothing to do


def test_listeners_on_off_and_decorator(redis_url, name):
    l = Leader(redis_url, name, ttl=2)
    seen = []

    @l.on("elected")
    def on_elected(ev):
        seen.append(("decorated", ev.type))

    def other(ev):
        seen.append(("other", ev.type))

    l.on(ELECTED, other)
    assert l.off("elected", other) is True
    assert l.off("elected", other) is False
    with pytest.raises(ValueError):
        l.on("crowned", other)
    with pytest.raises(TypeError):
        l.on("elected", 42)

    async def coroutine_listener(ev):
        pass

    with pytest.raises(TypeError) as e:
        l.on("elected", coroutine_listener)
    assert "AsyncLeader" in str(e.value)
    with l:
        assert l.wait_elected(5 * SLACK)
    assert seen == [("decorated", ELECTED)]


def test_a_failing_listener_is_logged_and_the_rest_still_run(
        redis_url, name, caplog):
    l = Leader(redis_url, name, ttl=2)
    rec = Recorder(l)

    def bad(ev):
        raise ValueError("listener bug")

    l.on("elected", bad)
    with caplog.at_level(logging.ERROR, logger="libleader"):
        with l:
            assert l.wait_elected(5 * SLACK)
            rec.next(CHANGED)
    assert REVOKED in rec.kinds()
    assert any("listener bug" in r.getMessage() or
               (r.exc_info and "listener bug" in str(r.exc_info[1]))
               for r in caplog.records)


def test_close_and_stop_from_a_listener(redis_url, name):
    # close() inside ELECTED: the handle is freed after the listener
    # returns, the key released, and another candidate takes over.
    a = Leader(redis_url, name, ttl=30)
    closed = threading.Event()

    def close_me(ev):
        a.close()
        closed.set()

    a.on("elected", close_me)
    a.elect()
    assert closed.wait(5 * SLACK)
    with Leader(redis_url, name, ttl=30) as b:
        assert b.wait_elected(2 * SLACK)
    assert a.closed

    c = Leader(redis_url, name, ttl=30)
    rec = Recorder(c)
    c.on("elected", lambda ev: c.stop())
    c.elect()
    rec.next(REVOKED)
    assert not c.has_lease()
    c.close()


def test_queries_are_refused_inside_listeners(redis_url, name):
    l = Leader(redis_url, name, ttl=2)
    got = queue.Queue()

    def ask(ev):
        try:
            l.is_leader()
        except LeaderError as e:
            got.put(e)
        got.put(l.has_lease())

    l.on("elected", ask)
    with l:
        err = got.get(timeout=5 * SLACK)
        assert err.code == libleader.errors.ESTATE
        assert "listener" in str(err)
        assert got.get(timeout=1) is True


def test_waiting_inside_a_listener_is_refused(redis_url, name):
    l = Leader(redis_url, name, ttl=2)
    got = queue.Queue()

    def wait_inside(ev):
        try:
            l.wait_revoked(1)
        except LeaderError as e:
            got.put(e)

    l.on("elected", wait_inside)
    with l:
        err = got.get(timeout=5 * SLACK)
    assert err.code == libleader.errors.ESTATE and "listener" in str(err)


def test_observe_follows_the_leader(redis_url, name):
    with Leader(redis_url, name, ttl=5, wait=0.2).observe() as w:
        rec = Recorder(w)
        first = rec.next(CHANGED)
        assert first.leader_id is None and first.message == "no leader"
        assert w.holder is None
        assert not w.elected and not w.has_lease()
        with Leader(redis_url, name, ttl=5) as a:
            assert a.wait_elected(5 * SLACK)
            assert w.wait_holder(lambda h: h == a.id, 5 * SLACK) == a.id
            ev = [e for e in rec.events if e.leader_id == a.id][0]
            assert ev.type == CHANGED and ev.term == a.term
            assert ev.holder == a.id and ev.message == "elected"
            a.stop()
            w.wait_holder(lambda h: h is None, 5 * SLACK)
            assert rec.events[-1].message in ("released", "no leader")


def test_current_names_the_holder(redis_url, name):
    with Leader(redis_url, name, ttl=5, id="py-holder") as a:
        assert a.wait_elected(5 * SLACK)
        probe = Leader(redis_url, name)
        try:
            h = probe.current()
            assert h.id == "py-holder" and h.term == a.term
            assert 0 < h.lease_left <= 5
        finally:
            probe.close()


def test_new_term_revokes_the_old_and_elects_the_new(redis_url, name):
    l = Leader(redis_url, name, ttl=5)
    rec = Recorder(l)
    with l:
        assert l.wait_elected(5 * SLACK)
        old = rec.next(ELECTED).term
        l.new_term()
        revoked = rec.next(REVOKED)
        new = rec.next(ELECTED)
        assert revoked.term == old and revoked.error == 0
        assert new.term > old and l.term == new.term
        assert l.has_lease()
    idle = Leader(redis_url, name)
    with pytest.raises(LeaderError) as e:
        idle.new_term()
    assert e.value.code == libleader.errors.ESTATE
    idle.close()


def test_unreachable_redis(name, free_port):
    url = f"redis://127.0.0.1:{free_port}"
    l = Leader(url, name, ttl=1, wait=0.1)
    rec = Recorder(l)
    with pytest.raises(LeaderError) as e:
        l.is_leader()
    assert e.value.code == libleader.errors.ECONN
    assert e.value.name == "LEADER_ECONN"
    assert e.value.strerror == libleader.strerror(libleader.errors.ECONN)
    with l:
        ev = rec.next(ERROR)
        assert ev.error == libleader.errors.ECONN
        assert ev.error_name == "LEADER_ECONN"
        assert isinstance(ev.exception(), LeaderError)
        assert not l.wait_elected(0.2)


def test_no_thread_or_descriptor_left_after_close(redis_url, name,
                                                  no_leftovers):
    for _ in range(3):
        a = Leader(redis_url, name, ttl=2).elect()
        w = Leader(redis_url, name, ttl=2).observe()
        assert a.wait_elected(5 * SLACK)
        assert a.is_leader()  # opens the query connection too
        w.close()
        a.close()
    # Collected without close(): the finalizer frees it.
    Leader(redis_url, name, ttl=2).elect()


def test_errors_namespace():
    assert libleader.errors.ECONN == -5
    assert libleader.errors.ESTATE == -12
    assert libleader.strerror(libleader.errors.ECONN)  # the library's text
    e = LeaderError(libleader.errors.ELOST)
    assert e.code == -13 and e.name == "LEADER_ELOST"
    assert "LEADER_ELOST" in str(e)
    assert libleader.library_version().count(".") == 2
