# SPDX-License-Identifier: BSD-3-Clause
# libleader/_lib.py - finds and loads libleader.so with ctypes, and declares
# the C structures and function prototypes of include/leader.h.
"""Loading of the libleader shared library and its C declarations.

The library is looked for, in this order:

1. ``$LIBLEADER_PATH``: the path of the shared library itself, or of a
   directory holding ``libleader.so.0`` (or ``libleader.so``);
2. the build tree, when this package is imported from a libleader source
   tree (``bindings/python`` next to ``build/libleader.so.0``);
3. the soname ``libleader.so.0`` through the dynamic linker's own search
   (``LD_LIBRARY_PATH``, the ldconfig cache, the default directories);
4. ``ctypes.util.find_library("leader")``.

A library whose major version differs from the one these declarations were
written for is refused rather than called with the wrong layout.
"""

import ctypes
import ctypes.util
import os
import threading

# The soname of the ABI these declarations describe (docs/abi.md).
SONAME = "libleader.so.0"
ABI_MAJOR = 0
ABI_MIN_MINOR = 1

# Error codes (enum leader_error).
LEADER_OK = 0
LEADER_EINVAL = -1
LEADER_ENOMEM = -2
LEADER_EURL = -3
LEADER_ENOTSUP = -4
LEADER_ECONN = -5
LEADER_ETIMEDOUT = -6
LEADER_EAUTH = -7
LEADER_EWRONGTYPE = -8
LEADER_EREADONLY = -9
LEADER_EPROTO = -10
LEADER_EREDIS = -11
LEADER_ESTATE = -12
LEADER_ELOST = -13
LEADER_ELEASE = -14
LEADER_ETERM = -15
LEADER_ETLS = -16
LEADER_EUNHEALTHY = -17

ERROR_NAMES = {
    value: name
    for name, value in globals().items()
    if name.startswith("LEADER_E") and isinstance(value, int)
}

# Option ranges (docs/api.md, "Options").
TTL_MIN_MS = 10
DAY_MS = 86400 * 1000
ID_MAX = 255


class LibraryNotFoundError(OSError):
    """No usable libleader shared library could be loaded."""


class _Options(ctypes.Structure):
    # struct leader_options, first version. leader_options_init_size() is
    # given this size, so a newer library takes its defaults for any field
    # appended after event_loop.
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("url", ctypes.c_char_p),
        ("key", ctypes.c_char_p),
        ("id", ctypes.c_char_p),
        ("ttl_ms", ctypes.c_long),
        ("wait_ms", ctypes.c_long),
        ("event_loop", ctypes.c_int),
    ]


class _Event(ctypes.Structure):
    # struct leader_event, first version. Owned by the library; its
    # struct_size is the library's and at least this size.
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("type", ctypes.c_int),
        ("term", ctypes.c_uint64),
        ("leader_id", ctypes.c_char_p),
        ("error", ctypes.c_int),
        ("message", ctypes.c_char_p),
    ]


class _Info(ctypes.Structure):
    # struct leader_info, first version; the library writes no byte past
    # the size it is given.
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("id", ctypes.c_char * 256),
        ("term", ctypes.c_uint64),
        ("lease_left_ms", ctypes.c_longlong),
    ]


CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Event),
                            ctypes.c_void_p)

_P = ctypes.c_void_p
_PROTOTYPES = {
    "leader_options_init_size": (None, [ctypes.POINTER(_Options),
                                        ctypes.c_size_t]),
    "leader_new": (_P, [ctypes.POINTER(_Options), ctypes.c_char_p,
                        ctypes.c_size_t]),
    "leader_id": (ctypes.c_char_p, [_P]),
    "leader_key": (ctypes.c_char_p, [_P]),
    "leader_on": (None, [_P, CALLBACK, _P]),
    "leader_elect": (ctypes.c_int, [_P]),
    "leader_observe": (ctypes.c_int, [_P]),
    "leader_is_leader": (ctypes.c_int, [_P]),
    "leader_has_lease": (ctypes.c_int, [_P]),
    "leader_lease_deadline": (ctypes.c_int64, [_P]),
    "leader_clock_ms": (ctypes.c_int64, []),
    "leader_current_size": (ctypes.c_int, [_P, ctypes.POINTER(_Info),
                                           ctypes.c_size_t]),
    "leader_term": (ctypes.c_uint64, [_P]),
    "leader_new_term": (ctypes.c_int, [_P]),
    "leader_stop": (ctypes.c_int, [_P]),
    "leader_free": (None, [_P]),
    "leader_fd": (ctypes.c_int, [_P]),
    "leader_timeout_ms": (ctypes.c_int, [_P]),
    "leader_process": (ctypes.c_int, [_P]),
    "leader_url_redact": (None, [ctypes.c_char_p, ctypes.c_char_p,
                                 ctypes.c_size_t]),
    "leader_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "leader_version": (ctypes.c_char_p, []),
}

_lock = threading.Lock()
_lib = None
_lib_path = None


def _source_tree_candidates():
    # bindings/python/libleader/_lib.py -> the source tree's root.
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", "..", ".."))
    if not os.path.isfile(os.path.join(root, "include", "leader.h")):
        return []
    build = os.environ.get("LEADER_BUILD_DIR") or os.path.join(root, "build")
    return [os.path.join(build, SONAME), os.path.join(build, "libleader.so")]


def _env_candidates(value):
    if os.path.isdir(value):
        return [os.path.join(value, SONAME),
                os.path.join(value, "libleader.so")]
    return [value]


def _candidates():
    """(where it came from, path or name) pairs, in the order tried."""
    found = []
    env = os.environ.get("LIBLEADER_PATH")
    if env:
        # An explicit choice: nothing else is tried when it is set.
        return [("$LIBLEADER_PATH", p) for p in _env_candidates(env)]
    found += [("build tree", p) for p in _source_tree_candidates()
              if os.path.exists(p)]
    found.append(("soname", SONAME))
    name = ctypes.util.find_library("leader")
    if name:
        found.append(("find_library", name))
    return found


def _declare(lib):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def _check_version(lib, path):
    version = lib.leader_version().decode("ascii", "replace")
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        raise LibraryNotFoundError(
            f"{path}: unexpected libleader version {version!r}") from None
    if major != ABI_MAJOR or minor < ABI_MIN_MINOR:
        raise LibraryNotFoundError(
            f"{path} is libleader {version}; this binding needs "
            f"{ABI_MAJOR}.{ABI_MIN_MINOR} or a later {ABI_MAJOR}.x")


def load():
    """Loads libleader once and returns the ctypes library object.

    Raises LibraryNotFoundError, saying what was tried, when none of the
    places in this module's docstring holds a usable library.
    """
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for origin, path in _candidates():
            try:
                # CDLL (not PyDLL): every call releases the GIL, so that the
                # library's own thread can run Python callbacks while a call
                # such as leader_stop() waits for it.
                lib = ctypes.CDLL(path)
            except OSError as e:
                tried.append(f"  {origin}: {path}: {e}")
                continue
            try:
                _declare(lib)
            except AttributeError as e:
                tried.append(f"  {origin}: {path}: not libleader ({e})")
                continue
            _check_version(lib, path)
            _lib, _lib_path = lib, path
            return lib
        raise LibraryNotFoundError(
            "libleader shared library not found. Tried:\n" + "\n".join(tried)
            + "\nBuild it (make, in the libleader source tree), install it "
            "(make install; ldconfig), or set LIBLEADER_PATH to the path of "
            "libleader.so.0.")


def library_path():
    """The path or name libleader was loaded from (loads it if needed)."""
    load()
    return _lib_path
