# SPDX-License-Identifier: BSD-3-Clause
# tests/python/test_async.py - AsyncLeader on asyncio: the handle's
# descriptor on the loop, events as an async iterator, handover, observe,
# queries off the loop, and cleanup.
import asyncio
import time

import pytest

import libleader
from libleader import (CHANGED, ELECTED, REVOKED, AsyncLeader, Leader,
                       LeaderError)

from conftest import SLACK


async def next_of(stream, kind, timeout=5 * SLACK):
    async def find():
        async for ev in stream:
            if ev.type == kind:
                return ev
        raise AssertionError(f"stream ended before {kind.name}")
    return await asyncio.wait_for(find(), timeout)


async def until(stream, predicate, timeout=5 * SLACK):
    async def find():
        async for ev in stream:
            if predicate(ev):
                return ev
        raise AssertionError("stream ended")
    return await asyncio.wait_for(find(), timeout)


def test_seed_scenario_with_async_events(redis_url, name):
    async def main():
        l = AsyncLeader(redis_url, name, ttl=2, wait=0.5)
        stream = l.events()
        l.elect()
        kinds = []
        async for ev in stream:
            kinds.append(ev.type)
            if ev.type == ELECTED:
                assert ev.term > 0
                assert l.has_lease() and l.term == ev.term
                assert await l.is_leader() is True
                stopping = l.stop()
            if ev.type == REVOKED:
                assert ev.error == 0
                break
        # CHANGED (who leads) may come on either side of ELECTED: it can
        # come from the election's notification, which may overtake the
        # reply that elects.
        assert [k for k in kinds if k != CHANGED] == [ELECTED, REVOKED]
        await stopping  # the release has been answered
        assert await l.is_leader() is False
        await l.aclose()
        # The stream of a closed leader ends.
        assert [ev async for ev in l.events()] == []
    asyncio.run(main())


def test_async_with_registers_and_unregisters_the_descriptor(redis_url, name):
    async def main():
        loop = asyncio.get_running_loop()
        async with AsyncLeader(redis_url, name, ttl=30) as l:
            fd = l._driver.fd
            assert await l.wait_elected(5 * SLACK)
            stream = l.events()
        # Removed from the loop before the library closed it.
        assert loop.remove_reader(fd) is False
        assert l.closed and not l.has_lease()
        # A closed leader neither campaigns nor goes back on the loop.
        with pytest.raises(LeaderError) as e:
            l.elect()
        assert e.value.code == libleader.errors.ESTATE
        assert loop.remove_reader(fd) is False
        # Released, not left to expire.
        probe = AsyncLeader(redis_url, name)
        assert await probe.current() is None
        await probe.aclose()
        # Streams end when the leader closes.
        rest = [ev.type async for ev in stream]
        assert rest[-1] == REVOKED
    asyncio.run(main())


def test_two_async_candidates_hand_over(redis_url, name):
    async def main():
        a = AsyncLeader(redis_url, name, ttl=5, wait=1).elect()
        assert await a.wait_elected(5 * SLACK)
        b = AsyncLeader(redis_url, name, ttl=5, wait=1)
        events = b.events()
        b.elect()
        assert await b.wait_elected(0.3) is False
        old = a.term
        t0 = time.monotonic()
        await a.aclose()
        ev = await next_of(events, ELECTED)
        took = time.monotonic() - t0
        assert ev.term > old and b.term == ev.term
        assert took < 0.5 * SLACK, took
        assert await b.is_leader()
        await b.aclose()
    asyncio.run(main())


def test_async_and_thread_candidates_share_an_election(redis_url, name):
    async def main():
        t = Leader(redis_url, name, ttl=5).elect()
        assert t.wait_elected(5 * SLACK)
        a = AsyncLeader(redis_url, name, ttl=5).elect()
        assert not await a.wait_elected(0.2)
        t.close()
        assert await a.wait_elected(2 * SLACK)
        assert (await a.current()).id == a.id
        await a.aclose()
    asyncio.run(main())


def test_async_observe(redis_url, name):
    async def main():
        w = AsyncLeader(redis_url, name, wait=0.2).observe()
        changes = w.events()
        first = await next_of(changes, CHANGED)
        assert first.leader_id is None
        async with AsyncLeader(redis_url, name, ttl=5) as a:
            assert await w.wait_holder(lambda h: h == a.id, 5 * SLACK)
            ev = await until(changes, lambda e: e.leader_id == a.id)
            assert ev.type == CHANGED and ev.message == "elected"
        await w.wait_holder(lambda h: h is None, 5 * SLACK)
        ev = await until(changes, lambda e: e.leader_id is None)
        assert ev.message == "released"
        await w.aclose()
    asyncio.run(main())


def test_coroutine_listeners_run_as_tasks(redis_url, name):
    async def main():
        done = asyncio.Event()
        l = AsyncLeader(redis_url, name, ttl=2)

        @l.on("elected")
        async def on_elected(ev):
            await asyncio.sleep(0)
            # Queries are fine in a task: it runs after the callback.
            assert await l.is_leader()
            done.set()

        async with l:
            await asyncio.wait_for(done.wait(), 5 * SLACK)
    asyncio.run(main())


def test_the_loop_keeps_running_while_leading(redis_url, name):
    # Renewals come from the loop: with ttl 0.3 s a leader that the loop
    # did not serve would lose its lease within the second.
    async def main():
        async with AsyncLeader(redis_url, name, ttl=0.3, wait=0.05) as l:
            stream = l.events()
            assert await l.wait_elected(5 * SLACK)
            term = l.term
            for _ in range(10):
                await asyncio.sleep(0.1)
                assert l.has_lease() and l.term == term
            assert stream.get_nowait().type in (ELECTED, CHANGED)
    asyncio.run(main())


def test_elect_needs_a_running_loop(redis_url, name):
    l = AsyncLeader(redis_url, name)
    with pytest.raises(RuntimeError):
        l.elect()
    assert not l.has_lease()

    async def close():
        await l.aclose()
        await l.aclose()  # idempotent
    asyncio.run(close())
    with pytest.raises(LeaderError) as e:
        asyncio.run(l.is_leader())
    assert e.value.code == libleader.errors.ESTATE


def test_one_live_loop_per_leader(redis_url, name):
    l = AsyncLeader(redis_url, name, ttl=1)

    async def campaign():
        l.elect()
        assert await l.wait_elected(5 * SLACK)
        l.stop()
        assert not l.has_lease()

    async def elsewhere():
        with pytest.raises(RuntimeError):
            l.elect()

    first = asyncio.new_event_loop()
    first.run_until_complete(campaign())
    # Another loop while the first is still open: refused.
    asyncio.run(elsewhere())
    first.close()

    # Once the first loop is closed, the leader moves to a new one.
    async def again():
        await campaign()
        await l.aclose()
    asyncio.run(again())


def test_no_thread_or_descriptor_left_after_aclose(redis_url, name,
                                                  no_leftovers):
    async def main():
        for _ in range(3):
            async with AsyncLeader(redis_url, name, ttl=2) as a:
                assert await a.wait_elected(5 * SLACK)
                assert await a.is_leader()  # makes the query handle
    # asyncio.run() leaves its executor's threads joined and its selector
    # closed, so anything still open would be the binding's.
    asyncio.run(main())
