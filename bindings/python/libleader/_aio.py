# SPDX-License-Identifier: BSD-3-Clause
# libleader/_aio.py - AsyncLeader: a candidate driven by the running asyncio
# loop through the library's event-loop API (leader_fd, leader_timeout_ms,
# leader_process), with events as an async iterator.
"""The asyncio AsyncLeader."""

import asyncio
import ctypes
import inspect
import weakref

from . import _lib
from ._core import _Base, _Handle, _holder_from_info, _State, log
from ._errors import LeaderError


class _AsyncState(_State):
    """_State with async event streams and waiters; everything here runs on
    the loop's thread (deliver() runs inside leader_process())."""

    def __init__(self):
        super().__init__()
        self.streams = weakref.WeakSet()
        self.waiters = set()
        self.tasks = set()
        self.loop = None

    def forward(self, ev):
        for stream in list(self.streams):
            stream.queue.put_nowait(ev)
        self.wake()

    def wake(self):
        for fut in list(self.waiters):
            if not fut.done():
                fut.set_result(None)
        self.waiters.clear()

    def call(self, fn, ev):
        result = fn(ev)
        if inspect.isawaitable(result):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                # No loop any more (a close at interpreter exit): the
                # coroutine cannot run.
                if inspect.iscoroutine(result):
                    result.close()
                return
            task = asyncio.ensure_future(result, loop=loop)
            self.tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task):
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("libleader: an async listener failed",
                      exc_info=task.exception())

    def close(self):
        super().close()
        for stream in list(self.streams):
            stream.queue.put_nowait(None)
        self.streams.clear()
        self.wake()

    async def wait_until(self, predicate, timeout):
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not predicate():
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            fut = loop.create_future()
            self.waiters.add(fut)
            try:
                await asyncio.wait_for(fut, left)
            except asyncio.TimeoutError:
                return predicate()
            finally:
                self.waiters.discard(fut)
        return True


class _Driver:
    """Registers the handle's descriptor with an asyncio loop and runs
    leader_process() when it is readable or leader_timeout_ms() passes.
    Holds no reference to the AsyncLeader."""

    def __init__(self, handle):
        self.h = handle
        self.fd = handle.get("fd")
        self.loop = None
        self.timer = None
        handle.before_free = self.detach

    def attach(self):
        loop = asyncio.get_running_loop()
        if self.loop is not None and self.loop.is_closed():
            # The loop it ran on is gone (asyncio.run() returned): move on.
            self.loop, self.timer = None, None
        if self.loop is None:
            loop.add_reader(self.fd, self.pump)
            self.loop = loop
        elif self.loop is not loop:
            raise RuntimeError("this AsyncLeader runs on another event loop")
        return loop

    def kick(self):
        """Processes a request just handed to the library, soon."""
        if self.loop is not None:
            self.arm(0)

    def pump(self):
        if self.h.closed:
            self.detach()
            return
        rc = self.h.process()
        if rc < 0:
            log.error("libleader: leader_process: %s",
                      LeaderError(rc).strerror)
        self.arm()

    def arm(self, delay_ms=None):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.h.closed or self.loop is None:
            return
        if delay_ms is None:
            delay_ms = self.h.get("timeout_ms")
        if delay_ms >= 0:
            self.timer = self.loop.call_later(delay_ms / 1000.0, self.pump)

    def idle(self):
        """True when the library has nothing scheduled (no timer, no
        request): after a stop, once the key is released."""
        return self.h.closed or self.h.get("timeout_ms") < 0

    def detach(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        loop, self.loop = self.loop, None
        if loop is not None and not loop.is_closed():
            try:
                loop.remove_reader(self.fd)
            except Exception:  # noqa: BLE001 - a loop shutting down
                pass


class _EventStream:
    """``async for event in leader.events()``: every event from the moment
    events() was called; ends when the leader is closed."""

    def __init__(self, state):
        self.queue = asyncio.Queue()
        self.state = state
        if state.closed:
            self.queue.put_nowait(None)
        else:
            state.streams.add(self)

    def __aiter__(self):
        return self

    async def __anext__(self):
        ev = await self.queue.get()
        if ev is None:
            self.state.streams.discard(self)
            raise StopAsyncIteration
        return ev

    async def aclose(self):
        """Stops this stream; the leader goes on."""
        self.state.streams.discard(self)

    def get_nowait(self):
        """The next event already delivered, or None (no wait)."""
        try:
            ev = self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if ev is None:
            self.queue.put_nowait(None)
        return ev


class _Stopping:
    """What AsyncLeader.stop() returns: awaiting it waits for the stop to
    go through; nothing runs unless it is awaited."""

    __slots__ = ("leader",)

    def __init__(self, leader):
        self.leader = leader

    def __await__(self):
        if self.leader is None:
            return (yield from asyncio.sleep(0).__await__())
        return (yield from self.leader._settle().__await__())


class AsyncLeader(_Base):
    """A candidate in an election on Redis, driven by asyncio.

    Same arguments as Leader: ``AsyncLeader(url, key, ttl=10.0, wait=1.0,
    id=None)``, times in seconds.

    The handle starts no thread. elect() and observe() register its
    descriptor (leader_fd()) with the running loop's add_reader() and keep
    a loop timer armed with leader_timeout_ms(); leader_process() runs on
    either, and calls the listeners on the loop. A listener may be a plain
    function or a coroutine function (its coroutine becomes a task).

    ``async with AsyncLeader(url, key) as l:`` campaigns on entry (unless
    observe() or elect() was called already) and on exit stops, releases
    the key and frees the handle. Otherwise ``await l.aclose()``.

    Call it from the loop's thread only, except has_lease(), term and
    lease_remaining(), which may be read from anywhere.
    """

    _state_class = _AsyncState
    _event_loop = True

    def __init__(self, url=None, key="default", *, ttl=10.0, wait=1.0,
                 id=None):
        super().__init__(url, key, ttl=ttl, wait=wait, id=id)
        self._driver = _Driver(self._h)
        self._queries = []  # the query handle, once made
        self._finalizer = weakref.finalize(self, _finalize, self._h,
                                           self._state, self._queries)

    # -- campaigning and observing --

    def elect(self):
        """Starts campaigning on the running loop and returns self; ELECTED
        comes through the listeners and events(). Raises RuntimeError
        without a running loop, LeaderError (LEADER_ESTATE) if already
        campaigning or observing."""
        self._check_open()
        self._driver.attach()
        self._request("elect", "campaign")
        self._driver.kick()
        return self

    def observe(self):
        """Starts watching who leads, without campaigning, on the running
        loop, and returns self: every change comes as a CHANGED event and
        in the holder property."""
        self._check_open()
        self._driver.attach()
        self._request("observe", "observe")
        self._driver.kick()
        return self

    def stop(self):
        """Stops campaigning or observing. The lease ends at once for
        has_lease(); REVOKED and the release follow on the loop. Returns an
        awaitable: ``await l.stop()`` waits until they have (at most about
        ttl/3, never more than 5 s); ``l.stop()`` alone does not wait. Does
        nothing when neither campaigning nor observing."""
        was = self._mode
        try:
            self._h.call("stop")
        except LeaderError as e:
            if e.code != _lib.LEADER_ESTATE:
                raise
        self._mode = None
        self._driver.kick()
        return _Stopping(self if was else None)

    async def _settle(self):
        # Turns of the loop until the library has nothing left to do for
        # the stop: REVOKED delivered and the release answered.
        bound = min(self._options["ttl"] / 3 + 0.1, 5.0)
        loop = asyncio.get_running_loop()
        end = loop.time() + bound
        while not self._driver.idle() and loop.time() < end:
            await asyncio.sleep(0.001)

    async def aclose(self):
        """Stops, lets the loop release the key (as ``await stop()``), then
        frees the handle. Idempotent."""
        if self._h.closed:
            return
        if self._mode is not None:
            await self.stop()
        self._finalizer()

    async def __aenter__(self):
        if self._mode is None:
            self.elect()
        return self

    async def __aexit__(self, *exc):
        await self.aclose()
        return False

    # -- events and waiting --

    def events(self):
        """An async iterator of the events from now on; it ends when the
        leader is closed. Each call gives a stream of its own."""
        return _EventStream(self._state)

    async def wait_elected(self, timeout=None):
        """Waits until this candidate is elected, at most timeout seconds.
        True if it was elected meanwhile (or already leads)."""
        st = self._state
        start = st.elections
        await st.wait_until(
            lambda: st.elected or st.elections > start or st.closed, timeout)
        return st.elected or st.elections > start

    async def wait_revoked(self, timeout=None):
        """Waits until this candidate does not lead, at most timeout
        seconds. True if it does not lead."""
        st = self._state
        return await st.wait_until(lambda: not st.elected or st.closed,
                                   timeout)

    async def wait_holder(self, predicate, timeout=None):
        """Waits until predicate(holder) is true for the holder that CHANGED
        events report; returns it, or raises TimeoutError."""
        st = self._state
        ok = await st.wait_until(lambda: predicate(st.holder) or st.closed,
                                 timeout)
        if not ok or not predicate(st.holder):
            raise TimeoutError(f"no matching holder within {timeout} s "
                               f"(last: {st.holder!r})")
        return st.holder

    # -- queries that ask Redis --

    def _query_handle(self):
        # The event-loop handle may only be called from the loop's thread,
        # where a blocking round trip would stall the loop. Queries go
        # instead through a thread-mode handle of the same election and id
        # that never campaigns (it starts no thread), on an executor thread.
        if self._h.closed:
            raise LeaderError(_lib.LEADER_ESTATE, "the handle is closed")
        if not self._queries:
            o = self._options
            self._queries.append(_Handle(o["url"], o["key"], o["ttl"],
                                         o["wait"], o["id"], False,
                                         lambda ev: None))
        return self._queries[0]

    async def is_leader(self):
        """Asks Redis whether this candidate holds the key (one round trip,
        on an executor thread). True or False; raises LeaderError if Redis
        cannot be asked."""
        q = self._query_handle()
        rc = await asyncio.get_running_loop().run_in_executor(
            None, lambda: q.call("is_leader", what="is_leader()"))
        return rc == 1

    async def current(self):
        """Reads who leads from Redis: a Holder, or None when nobody
        leads."""
        q = self._query_handle()
        info = _lib._Info()
        rc = await asyncio.get_running_loop().run_in_executor(
            None, lambda: q.call("current_size", ctypes.byref(info),
                                 ctypes.sizeof(info), what="current()"))
        return _holder_from_info(rc, info)


def _finalize(handle, state, queries):
    # Runs once: from aclose(), when the AsyncLeader is collected, or at
    # exit. The descriptor leaves the loop before leader_free() closes it.
    try:
        handle.free()
        for q in queries:
            q.free()
    finally:
        state.close()
