# SPDX-License-Identifier: BSD-3-Clause
# libleader/_errors.py - LeaderError, the exception that carries a LEADER_E...
# code and its text, and the helpers that raise it.
"""Exceptions of the libleader binding."""

from . import _lib


def strerror(code):
    """The library's description of a LEADER_E... code."""
    return _lib.load().leader_strerror(int(code)).decode("utf-8", "replace")


class LeaderError(Exception):
    """A libleader call failed.

    Attributes:
        code: the negative LEADER_E... code (see ``libleader.errors``).
        name: its symbolic name, such as ``"LEADER_ECONN"``.
        strerror: the library's description of the code.
        detail: a more specific message when there is one, else None.
    """

    def __init__(self, code, detail=None):
        self.code = int(code)
        self.name = _lib.ERROR_NAMES.get(self.code, f"LEADER_E({self.code})")
        try:
            self.strerror = strerror(self.code)
        except _lib.LibraryNotFoundError:
            self.strerror = self.name
        self.detail = detail
        text = detail if detail else self.strerror
        super().__init__(f"{text} ({self.name})")


class InvalidOptionError(LeaderError, ValueError):
    """An option given to Leader() is refused (a ValueError too)."""


def check(rc, what=None):
    """Returns rc when it is not negative, else raises LeaderError."""
    if rc < 0:
        raise LeaderError(rc, f"{what}: {strerror(rc)}" if what else None)
    return rc
