# SPDX-License-Identifier: BSD-3-Clause
# libleader/_sync.py - Leader: a candidate (or observer) on the library's own
# thread, with blocking queries and a context manager.
"""The thread-mode Leader."""

import ctypes
import weakref

from . import _lib
from ._core import _Base, _holder_from_info
from ._errors import LeaderError


class Leader(_Base):
    """A candidate in an election on Redis.

    ``Leader(url, key, ttl=10.0, wait=1.0, id=None)``:

    - url: ``redis://[[user]:password@]host[:port][/db]`` or
      ``unix:///path[?db=N]``; None means ``$LEADER_REDIS_URL``, else
      ``redis://127.0.0.1:6379``.
    - key: the election's name (default ``"default"``).
    - ttl: the lease length in seconds (default 10; 0.01 to 86400).
    - wait: the longest pause between two tries to be elected, in seconds
      (default 1; 0 to 86400).
    - id: this candidate's id (1-255 bytes, no spaces or control
      characters); None means a random UUIDv4.

    Times are seconds (int or float), as everywhere in Python's standard
    library; the C library counts milliseconds and is given them rounded
    to the nearest one.

    ``with Leader(url, key) as l:`` campaigns on entry (unless observe()
    or elect() was called already) and on exit stops, releases the key if
    leading, and frees the handle. Without ``with``, call close(); a Leader
    that is collected or still open when the interpreter exits is closed
    then.

    The library campaigns on a thread of its own, which also runs the
    listeners added with on(): keep them short, and do not call is_leader()
    or current() from them (they wait for Redis; they raise LeaderError
    with LEADER_ESTATE there). stop() and close() may be called from a
    listener. An exception a listener raises is logged (logger
    "libleader") and goes no further.
    """

    def __init__(self, url=None, key="default", *, ttl=10.0, wait=1.0,
                 id=None):
        super().__init__(url, key, ttl=ttl, wait=wait, id=id)
        self._finalizer = weakref.finalize(self, _finalize, self._h,
                                           self._state)

    # -- campaigning and observing --

    def elect(self):
        """Starts campaigning and returns at once; ELECTED comes through the
        listeners. Raises LeaderError (LEADER_ESTATE) if already
        campaigning or observing."""
        self._request("elect", "campaign")
        return self

    def observe(self):
        """Starts watching who leads, without campaigning, and returns
        self: every change comes as a CHANGED event (the first reading
        always does) and in the holder property.
        ``with Leader(url, key).observe() as w:`` observes for the block."""
        self._request("observe", "observe")
        return self

    def stop(self):
        """Stops campaigning or observing. If leading, REVOKED has been
        delivered when it returns, and the key is released. Does nothing
        when neither campaigning nor observing."""
        try:
            self._h.call("stop")
        except LeaderError as e:
            if e.code != _lib.LEADER_ESTATE:
                raise
        self._mode = None

    def close(self):
        """Stops (as stop()), releases and frees the handle. Idempotent.
        Afterwards id, key and name still answer; the rest raises
        LeaderError (LEADER_ESTATE) or reports no lease."""
        self._mode = None
        self._finalizer()

    def __enter__(self):
        if self._mode is None:
            self.elect()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- waiting --

    def wait_elected(self, timeout=None):
        """Waits until this candidate is elected, at most timeout seconds
        (None: no limit). True if it was elected meanwhile (or already
        leads), False on timeout or close. Leadership may be lost again at
        any time: check has_lease() before acting."""
        self._check_not_in_listener("wait_elected()")
        st = self._state
        with st.cond:
            start = st.elections
            st.cond.wait_for(
                lambda: st.elected or st.elections > start or st.closed,
                timeout)
            return st.elected or st.elections > start

    def wait_revoked(self, timeout=None):
        """Waits until this candidate does not lead (as delivered events
        tell), at most timeout seconds. True if it does not lead."""
        self._check_not_in_listener("wait_revoked()")
        st = self._state
        with st.cond:
            return st.cond.wait_for(lambda: not st.elected or st.closed,
                                    timeout)

    def wait_holder(self, predicate, timeout=None):
        """Waits until predicate(holder) is true for the holder that CHANGED
        events report (an id, or None for nobody); for observers. Returns
        the holder, or raises TimeoutError."""
        self._check_not_in_listener("wait_holder()")
        st = self._state
        with st.cond:
            if not st.cond.wait_for(lambda: predicate(st.holder) or st.closed,
                                    timeout) or not predicate(st.holder):
                raise TimeoutError(f"no matching holder within {timeout} s "
                                   f"(last: {st.holder!r})")
            return st.holder

    # -- queries that ask Redis --

    def is_leader(self):
        """Asks Redis whether this candidate holds the key (one round trip,
        blocking). True or False; raises LeaderError if Redis cannot be
        asked."""
        try:
            return self._h.call("is_leader", what="is_leader()") == 1
        except LeaderError as e:
            raise self._query_error(e, "is_leader()") from None

    def current(self):
        """Reads who leads from Redis (one round trip, blocking): a Holder,
        or None when nobody leads."""
        info = _lib._Info()
        try:
            rc = self._h.call("current_size", ctypes.byref(info),
                              ctypes.sizeof(info), what="current()")
        except LeaderError as e:
            raise self._query_error(e, "current()") from None
        return _holder_from_info(rc, info)


def _finalize(handle, state):
    # Runs once: from close(), when the Leader is collected, or at exit.
    try:
        handle.free()
    finally:
        state.close()
