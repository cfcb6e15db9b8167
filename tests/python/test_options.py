# SPDX-License-Identifier: BSD-3-Clause
# tests/python/test_options.py - every option the constructor refuses, with
# the exception and message it gives; no Redis needed.
import pytest

import libleader
from libleader import AsyncLeader, InvalidOptionError, Leader, LeaderError

EINVAL = libleader.errors.EINVAL
URL = "redis://127.0.0.1:6379"


@pytest.mark.parametrize("kwargs, code, text", [
    (dict(ttl=0.001), EINVAL, "ttl must be from 0.01 to 86400 seconds"),
    (dict(ttl=-1), EINVAL, "ttl must be from"),
    (dict(ttl=86401), EINVAL, "ttl must be from"),
    (dict(ttl=float("nan")), EINVAL, "ttl must be finite"),
    (dict(ttl=float("inf")), EINVAL, "ttl must be finite"),
    (dict(wait=-0.5), EINVAL, "wait must be from 0 to 86400 seconds"),
    (dict(wait=10 ** 6), EINVAL, "wait must be from"),
    (dict(key=""), EINVAL, "key must be a non-empty string"),
    (dict(key="a\0b"), EINVAL, "key must not contain NUL"),
    (dict(id=""), EINVAL, "id must be 1 to 255 bytes"),
    (dict(id="x" * 256), EINVAL, "id must be 1 to 255 bytes"),
    (dict(id="é" * 128), EINVAL, "id must be 1 to 255 bytes"),
    (dict(id="two words"), EINVAL, "no spaces or control characters"
     .replace("no ", "not contain ")),
    (dict(id="tab\there"), EINVAL, "control characters"),
    (dict(url="http://127.0.0.1"), libleader.errors.EURL, "unknown scheme"),
    (dict(url=""), libleader.errors.EURL, "empty URL"),
    (dict(url="redis://127.0.0.1:notaport"), libleader.errors.EURL,
     "bad Redis URL"),
    (dict(url="rediss://127.0.0.1:notaport"), libleader.errors.EURL,
     "bad Redis URL"),
    (dict(url="redis://\0"), EINVAL, "url must not contain NUL"),
])
@pytest.mark.parametrize("cls", [Leader, AsyncLeader])
def test_bad_option_values(cls, kwargs, code, text):
    args = dict(url=URL, key="k")
    args.update(kwargs)
    with pytest.raises(InvalidOptionError) as e:
        cls(args.pop("url"), args.pop("key"), **args)
    assert e.value.code == code
    assert text in str(e.value)
    # Also a LeaderError and a ValueError, as callers may catch either.
    assert isinstance(e.value, LeaderError)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("kwargs, text", [
    (dict(ttl="10"), "ttl must be a number of seconds"),
    (dict(ttl=True), "ttl must be a number of seconds"),
    (dict(wait=None), "wait must be a number of seconds"),
    (dict(key=None), "key must be a string"),
    (dict(key=b"bytes"), "key must be a string"),
    (dict(id=5), "id must be a string or None"),
    (dict(url=6379), "url must be a string or None"),
])
def test_bad_option_types(kwargs, text):
    args = dict(url=URL, key="k")
    args.update(kwargs)
    with pytest.raises(TypeError) as e:
        Leader(args.pop("url"), args.pop("key"), **args)
    assert text in str(e.value)


def test_the_password_never_shows_in_a_url_error():
    with pytest.raises(InvalidOptionError) as e:
        Leader("redis://:s3cret@127.0.0.1:notaport", "k")
    assert "s3cret" not in str(e.value)
    assert "***" in str(e.value)


def test_options_only_by_keyword():
    with pytest.raises(TypeError):
        Leader(URL, "k", 10)


def test_defaults_and_units():
    l = Leader(URL, ttl=0.25, wait=0)
    try:
        assert l.name == "default"
        assert len(l.id) == 36  # a UUIDv4
        assert not l.has_lease() and l.term == 0
        assert l.lease_remaining() == 0.0
    finally:
        l.close()
    l = Leader(URL, "k", id="given-id")
    assert l.id == "given-id"
    l.close()


def test_default_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LEADER_REDIS_URL", "redis://127.0.0.1:1")
    l = Leader(key="k")
    try:
        with pytest.raises(LeaderError) as e:
            l.is_leader()
        assert e.value.code == libleader.errors.ECONN
    finally:
        l.close()
