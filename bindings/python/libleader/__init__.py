# SPDX-License-Identifier: BSD-3-Clause
# libleader/__init__.py - the Python binding of libleader: leader election on
# Redis, over the C library through ctypes.
"""Leader election on Redis, with libleader.

Several copies of a service create a Leader on the same election; at most
one of them is elected at a time. The leader holds a lease that the
library renews, and steps down by its own clock when it cannot; every
leadership carries a term (a fencing token) that only grows::

    import libleader

    with libleader.Leader("redis://127.0.0.1:6379", "nightly-report") as l:
        if l.wait_elected(timeout=30):
            run_the_job(l.term)

Two ways to run:

- Leader: the library campaigns on a thread of its own and calls the
  listeners (on()) there. Queries (is_leader(), current()) block.
- AsyncLeader: no thread; the handle's descriptor is registered with the
  running asyncio loop (loop.add_reader), listeners run on the loop, and
  ``async for event in l.events()`` reads the events.

The binding uses ctypes, from the standard library: nothing to compile, so
``pip install`` needs neither a compiler nor the network, and one package
works with any build of libleader.so.0 (the C library keeps a stable ABI
with versioned structures, which the declarations here follow). The
library is found as libleader._lib.load() describes: $LIBLEADER_PATH, the
build tree, then the system's libleader.so.0.
"""

from ._core import Event, EventType, Holder
from ._errors import InvalidOptionError, LeaderError, strerror
from ._lib import LibraryNotFoundError, library_path
from ._sync import Leader
from ._aio import AsyncLeader
from . import _lib as _lib_module

ELECTED = EventType.ELECTED
REVOKED = EventType.REVOKED
ERROR = EventType.ERROR
CHANGED = EventType.CHANGED

__version__ = "0.1.0"

__all__ = [
    "AsyncLeader", "CHANGED", "ELECTED", "ERROR", "Event", "EventType",
    "Holder", "InvalidOptionError", "Leader", "LeaderError",
    "LibraryNotFoundError", "REVOKED", "errors", "library_path",
    "library_version", "strerror",
]


class errors:
    """The LEADER_E... codes by name, as in leader.h (errors.ECONN, ...)."""


for _value, _name in _lib_module.ERROR_NAMES.items():
    setattr(errors, _name[len("LEADER_"):], _value)
del _name, _value


def library_version():
    """The version of the loaded libleader.so ("MAJOR.MINOR.PATCH")."""
    return _lib_module.load().leader_version().decode("ascii")
