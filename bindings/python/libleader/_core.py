# SPDX-License-Identifier: BSD-3-Clause
# libleader/_core.py - what both modes share: events, option checking, and
# _Handle, which owns one leader handle, its ctypes callback and its
# listeners, and frees the handle exactly once.
"""Events, options and the handle wrapper shared by Leader and AsyncLeader."""

import ctypes
import enum
import inspect
import logging
import math
import threading
from dataclasses import dataclass
from typing import Optional

from . import _lib
from ._errors import InvalidOptionError, LeaderError, check

log = logging.getLogger("libleader")


class EventType(enum.IntEnum):
    """The kinds of event (enum leader_event_type)."""

    ELECTED = 1  #: this candidate is now the leader
    REVOKED = 2  #: this candidate is no longer the leader
    ERROR = 3  #: something failed; the library keeps trying
    CHANGED = 4  #: who leads changed (candidates and observers)

    @classmethod
    def parse(cls, value):
        """An EventType from itself, its number or its name ("elected")."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                pass
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        names = ", ".join(m.name.lower() for m in cls)
        raise ValueError(f"unknown event {value!r}: use one of {names}")


@dataclass(frozen=True)
class Event:
    """One event, copied out of the library's leader_event.

    Attributes:
        type: an EventType (a plain int for a kind newer than this binding).
        term: the fencing token of the leadership concerned (0 if none).
        leader_id: who leads now, when known, else None.
        error: 0, or the LEADER_E... code of an ERROR, or of a REVOKED's
            cause (0 when REVOKED follows stop() or close()).
        message: human-readable detail; for CHANGED the cause
            ("elected", "released", "expired" or "no leader").
    """

    type: int
    term: int
    leader_id: Optional[str]
    error: int
    message: str

    @property
    def holder(self):
        """Who leads now, when known (the same as leader_id)."""
        return self.leader_id

    @property
    def error_name(self):
        """The symbolic name of error, or None when it is 0."""
        if not self.error:
            return None
        return _lib.ERROR_NAMES.get(self.error, f"LEADER_E({self.error})")

    def exception(self):
        """A LeaderError for error, or None when it is 0."""
        return LeaderError(self.error, self.message) if self.error else None

    def __str__(self):
        name = getattr(self.type, "name", str(self.type)).lower()
        parts = [name, f"term={self.term}"]
        if self.leader_id is not None:
            parts.append(f"leader={self.leader_id}")
        if self.error:
            parts.append(self.error_name)
        parts.append(repr(self.message))
        return " ".join(parts)

    @classmethod
    def _from_c(cls, ev):
        try:
            kind = EventType(ev.type)
        except ValueError:
            kind = ev.type
        lid = ev.leader_id
        return cls(
            type=kind,
            term=int(ev.term),
            leader_id=lid.decode("utf-8", "replace") if lid else None,
            error=int(ev.error),
            message=(ev.message or b"").decode("utf-8", "replace"),
        )


@dataclass(frozen=True)
class Holder:
    """Who leads an election, as current() reads it from Redis.

    Attributes:
        id: the holder's id.
        term: the election's latest term (0: none yet).
        lease_left: seconds left on the holder's key, or None if it has no
            expiry (a key not set by libleader).
    """

    id: str
    term: int
    lease_left: Optional[float]


# ---- options ----------------------------------------------------------------


def _text(name, value, *, optional):
    if value is None and optional:
        return None
    if not isinstance(value, str):
        kind = "a string or None" if optional else "a string"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")
    if "\0" in value:
        raise InvalidOptionError(_lib.LEADER_EINVAL,
                                 f"{name} must not contain NUL characters")
    return value.encode("utf-8")


def _seconds_to_ms(name, value, low_ms, high_ms):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds (int or float), "
                        f"not {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidOptionError(_lib.LEADER_EINVAL,
                                 f"{name} must be finite, not {value!r}")
    ms = round(value * 1000)
    if ms < low_ms or ms > high_ms:
        raise InvalidOptionError(
            _lib.LEADER_EINVAL,
            f"{name} must be from {low_ms / 1000:g} to {high_ms // 1000} "
            f"seconds, not {value!r}")
    return ms


def _check_id(raw):
    if not 1 <= len(raw) <= _lib.ID_MAX:
        raise InvalidOptionError(
            _lib.LEADER_EINVAL,
            f"id must be 1 to {_lib.ID_MAX} bytes in UTF-8, not {len(raw)}")
    if any(b <= 0x20 or b == 0x7F for b in raw):
        raise InvalidOptionError(
            _lib.LEADER_EINVAL,
            "id must not contain spaces or control characters")


def _options(url, key, ttl, wait, id, event_loop):
    """A filled leader_options and the bytes it points to (keep both)."""
    raw_url = _text("url", url, optional=True)
    raw_key = _text("key", key, optional=False)
    if not raw_key:
        raise InvalidOptionError(_lib.LEADER_EINVAL,
                                 "key must be a non-empty string")
    raw_id = _text("id", id, optional=True)
    if raw_id is not None:
        _check_id(raw_id)
    ttl_ms = _seconds_to_ms("ttl", ttl, _lib.TTL_MIN_MS, _lib.DAY_MS)
    wait_ms = _seconds_to_ms("wait", wait, 0, _lib.DAY_MS)

    lib = _lib.load()
    opts = _lib._Options()
    lib.leader_options_init_size(ctypes.byref(opts), ctypes.sizeof(opts))
    opts.url = raw_url
    opts.key = raw_key
    opts.id = raw_id
    opts.ttl_ms = ttl_ms
    opts.wait_ms = wait_ms
    opts.event_loop = 1 if event_loop else 0
    return opts, (raw_url, raw_key, raw_id)


def _construction_error(url, message):
    # leader_new() reports a reason but no code. The options other than the
    # URL are checked above, so what it still refuses is the URL (or a lack
    # of memory or randomness).
    if message.startswith("out of memory"):
        code = _lib.LEADER_ENOMEM
    elif message.startswith("no randomness"):
        code = _lib.LEADER_EINVAL
    else:
        code = _lib.LEADER_EURL
        message = f"bad Redis URL {_redact(url)}: {message}"
    return InvalidOptionError(code, message)


def _redact(url):
    lib = _lib.load()
    buf = ctypes.create_string_buffer(1024)
    raw = url.encode("utf-8") if url is not None else None
    lib.leader_url_redact(raw, buf, len(buf))
    return buf.value.decode("utf-8", "replace")


# ---- the handle ---------------------------------------------------------------


class _Handle:
    """One leader handle, its callback and its listeners.

    Holds no reference to the Leader object that owns it, so that a Leader
    that is no longer used can be collected; its finalizer calls free().
    Every call into the library goes through use(), which refuses a freed
    handle and makes free() wait for calls in progress.
    """

    def __init__(self, url, key, ttl, wait, id, event_loop, deliver):
        opts, keep = _options(url, key, ttl, wait, id, event_loop)
        lib = self.lib = _lib.load()
        err = ctypes.create_string_buffer(512)
        ptr = lib.leader_new(ctypes.byref(opts), err, len(err))
        del keep  # leader_new() copied every string
        if not ptr:
            raise _construction_error(url, err.value.decode("utf-8",
                                                            "replace"))
        self.ptr = ptr
        self.event_loop = event_loop
        self.id = lib.leader_id(ptr).decode("utf-8", "replace")
        self.key = lib.leader_key(ptr).decode("ascii")
        self.cond = threading.Condition()
        self.inflight = 0
        self.closed = False
        self.callback_thread = None  # the thread running a callback now
        self.deliver = deliver
        self.pending_free = None
        self.before_free = None  # called just before leader_free()
        # The ctypes callback lives as long as this object: the library may
        # call it until leader_free() returns.
        self.cfunc = _lib.CALLBACK(self._trampoline)
        lib.leader_on(ptr, self.cfunc, None)

    def _trampoline(self, _ptr, evp, _userdata):
        # Runs on the library's thread (thread mode) or inside
        # leader_process() (event-loop mode). Nothing may escape from here
        # into C.
        previous = self.callback_thread
        self.callback_thread = threading.get_ident()
        try:
            self.deliver(Event._from_c(evp.contents))
        except BaseException:  # noqa: BLE001 - never raise into C
            log.exception("libleader: error in an event callback")
        finally:
            self.callback_thread = previous

    def in_callback(self):
        return self.callback_thread == threading.get_ident()

    def use(self):
        return _InUse(self)

    def call(self, name, *args, what=None):
        """Calls leader_<name>(ptr, *args), which returns 0 or a negative
        code (1/0 for a query); raises LeaderError on a negative one."""
        with self.use() as ptr:
            rc = getattr(self.lib, "leader_" + name)(ptr, *args)
        return check(rc, what)

    def get(self, name):
        """leader_<name>(ptr) for a getter that cannot fail; its default
        (0) once the handle is closed."""
        with self.cond:
            ptr = self.ptr
            if ptr is None:
                return 0
            self.inflight += 1
        try:
            return getattr(self.lib, "leader_" + name)(ptr)
        finally:
            with self.cond:
                self.inflight -= 1
                if not self.inflight:
                    self.cond.notify_all()

    def free(self):
        """Stops, releases and frees the handle; once; from any thread
        (thread mode) or from the loop's thread (event-loop mode)."""
        with self.cond:
            if self.closed:
                return
            self.closed = True
            ptr, self.ptr = self.ptr, None
            self.cond.notify_all()
        if not self.in_callback():
            self._free_now(ptr)
        elif self.event_loop:
            # Inside leader_process(): process() frees it once that call
            # has returned.
            self.pending_free = ptr
        else:
            # leader_free() from a callback is deferred by the library until
            # the callback returns, and the callback (REVOKED) may run once
            # more after that: free from another thread, which keeps the
            # ctypes callback alive until leader_free() has returned.
            threading.Thread(target=self._free_now, args=(ptr,),
                             name="libleader-free").start()

    def process(self):
        """leader_process() (event-loop mode); then a free asked for by a
        callback inside it."""
        try:
            with self.use() as ptr:
                rc = self.lib.leader_process(ptr)
        except LeaderError:
            rc = 0  # closed meanwhile
        ptr, self.pending_free = self.pending_free, None
        if ptr is not None:
            self._free_now(ptr)
        return rc

    def _free_now(self, ptr):
        with self.cond:
            while self.inflight:
                self.cond.wait()
        if self.before_free is not None:
            self.before_free()
        self.lib.leader_free(ptr)
        # Only now may the callback go: leader_free() has returned, so the
        # library calls it no more.
        self.cfunc = None


class _InUse:
    __slots__ = ("h",)

    def __init__(self, h):
        self.h = h

    def __enter__(self):
        h = self.h
        with h.cond:
            if h.ptr is None:
                raise LeaderError(_lib.LEADER_ESTATE, "the handle is closed")
            h.inflight += 1
            return h.ptr

    def __exit__(self, *exc):
        h = self.h
        with h.cond:
            h.inflight -= 1
            if not h.inflight:
                h.cond.notify_all()
        return False


# ---- listeners and state -------------------------------------------------------


class _State:
    """What the events tell, and who listens to them.

    deliver() is the handle's callback: it runs on the library's thread
    (thread mode) or inside leader_process() (event-loop mode).
    """

    def __init__(self):
        self.cond = threading.Condition()
        self.listeners = {}  # EventType (or None: every event) -> [fn]
        self.elected = False
        self.elections = 0
        self.holder = None
        self.holder_term = 0
        self.closed = False

    def add(self, kind, fn):
        with self.cond:
            self.listeners.setdefault(kind, []).append(fn)

    def remove(self, kind, fn):
        with self.cond:
            fns = self.listeners.get(kind, [])
            if fn in fns:
                fns.remove(fn)
                return True
            return False

    def deliver(self, ev):
        with self.cond:
            if ev.type == EventType.ELECTED:
                self.elected = True
                self.elections += 1
            elif ev.type == EventType.REVOKED:
                self.elected = False
            elif ev.type == EventType.CHANGED:
                self.holder = ev.leader_id
                self.holder_term = ev.term
            self.cond.notify_all()
            fns = (list(self.listeners.get(ev.type, ()))
                   + list(self.listeners.get(None, ())))
        self.forward(ev)
        if ev.type == EventType.ERROR and not fns:
            log.warning("libleader: %s", ev)
        for fn in fns:
            try:
                self.call(fn, ev)
            except Exception:  # noqa: BLE001 - one listener must not stop
                log.exception("libleader: the %s listener %r failed",
                              getattr(ev.type, "name", ev.type), fn)

    def forward(self, ev):
        """Hands ev on to the mode's own consumers (event streams)."""

    def call(self, fn, ev):
        fn(ev)

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class _Base:
    """Shared by Leader and AsyncLeader: options, identity, listeners and
    the queries that do no I/O."""

    #: node-leader's spelling: ``Leader.event.ELECTED``.
    event = EventType

    _state_class = _State
    _event_loop = False

    def __init__(self, url=None, key="default", *, ttl=10.0, wait=1.0,
                 id=None):
        self._state = self._state_class()
        self._h = _Handle(url, key, ttl, wait, id, self._event_loop,
                          self._state.deliver)
        self._name = key
        self._mode = None  # None, "campaign" or "observe"
        self._options = dict(url=url, key=key, ttl=ttl, wait=wait,
                             id=self._h.id)

    def __repr__(self):
        what = self._mode or ("closed" if self._h.closed else "idle")
        return (f"<{type(self).__name__} name={self._name!r} "
                f"id={self._h.id!r} {what}>")

    # -- identity --

    @property
    def id(self):
        """This candidate's id (a random UUIDv4 unless given)."""
        return self._h.id

    @property
    def key(self):
        """The election's Redis key: "leader:" + sha1hex(name), as
        node-leader names it."""
        return self._h.key

    @property
    def name(self):
        """The election's name, the key argument of the constructor."""
        return self._name

    # -- listeners --

    def on(self, event, fn=None):
        """Calls fn(event) for every event of that kind.

        event is an EventType, its name ("elected", "revoked", "error",
        "changed") or "*" for every kind. Returns fn, so this also works
        as a decorator: ``@l.on("elected")``. See the class docstring for
        the thread the listeners run on.
        """
        kind = None if event == "*" else EventType.parse(event)

        def register(f):
            if not callable(f):
                raise TypeError(f"a listener must be callable, not "
                                f"{type(f).__name__}")
            if not self._event_loop and inspect.iscoroutinefunction(f):
                raise TypeError("a coroutine function cannot listen to a "
                                "Leader (its listeners run on the library's "
                                "thread): use AsyncLeader")
            self._state.add(kind, f)
            return f

        return register if fn is None else register(fn)

    def off(self, event, fn):
        """Removes a listener added with on(); True if it was there."""
        kind = None if event == "*" else EventType.parse(event)
        return self._state.remove(kind, fn)

    # -- state without I/O --

    def has_lease(self):
        """True while this candidate's local lease is valid. No I/O (it
        compares the lease deadline with the clock): use it right before
        any action that must only happen while leading."""
        return bool(self._h.get("has_lease"))

    @property
    def term(self):
        """The fencing token of the current leadership, 0 when there is no
        valid lease."""
        return int(self._h.get("term"))

    def lease_remaining(self):
        """Seconds left on the local lease, 0.0 when not leading."""
        deadline = self._h.get("lease_deadline")
        if not deadline:
            return 0.0
        left = deadline - self._h.lib.leader_clock_ms()
        return max(left, 0) / 1000.0

    @property
    def elected(self):
        """True between an ELECTED event and its REVOKED, as the events
        have been delivered so far (has_lease() is the authority)."""
        return self._state.elected

    @property
    def holder(self):
        """Who leads, as the latest CHANGED event said (None: nobody, or
        not known yet). Kept up to date while campaigning or observing."""
        return self._state.holder

    @property
    def closed(self):
        """True once the handle has been closed."""
        return self._h.closed

    # -- requests --

    def _request(self, name, mode):
        try:
            self._h.call(name)
        except LeaderError as e:
            if e.code == _lib.LEADER_ESTATE and not self._h.closed:
                raise LeaderError(
                    e.code, f"{name}(): already {self._mode_text()}") from None
            raise
        self._mode = mode

    def _mode_text(self):
        return {"campaign": "campaigning",
                "observe": "observing"}.get(self._mode, "busy")

    def _check_open(self):
        if self._h.closed:
            raise LeaderError(_lib.LEADER_ESTATE, "the handle is closed")

    def _check_not_in_listener(self, what):
        if self._h.in_callback():
            raise LeaderError(
                _lib.LEADER_ESTATE, f"{what} cannot be called from an event "
                "listener: the events it waits for come from the thread "
                "running that listener")

    def new_term(self):
        """Asks for a new term for the current leadership without letting
        go of the key; REVOKED (old term) and ELECTED (new term) follow.
        Raises LeaderError (LEADER_ESTATE) unless leading."""
        self._h.call("new_term", what="new_term()")

    def _query_error(self, e, what):
        if e.code == _lib.LEADER_ESTATE and self._h.in_callback():
            return LeaderError(
                e.code, f"{what} cannot be called from an event listener (it "
                "waits for Redis and would hold up the loop that renews the "
                "lease); use has_lease() and term there")
        return e


def _holder_from_info(rc, info):
    if rc == 0:
        return None
    left = info.lease_left_ms
    return Holder(id=info.id.decode("utf-8", "replace"), term=int(info.term),
                  lease_left=None if left < 0 else left / 1000.0)
