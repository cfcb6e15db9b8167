#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# bench/python/handover.py - the Python binding's handover: from the moment
# the leader is told to stop (which releases the key) to the other
# candidate's ELECTED listener, in thread mode (Leader) and asyncio mode
# (AsyncLeader). Run through the Redis fixture:
#
#   build/tests/redis-fixture -- python3 bench/python/handover.py [ROUNDS]
import asyncio
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "bindings", "python"))
import libleader  # noqa: E402

URL = os.environ.get("REDIS_URL")
TTL = 10.0  # a handover never waits for expiry
WAIT = 1.0


def thread_mode(rounds):
    pair = [libleader.Leader(URL, "bench-py-thread", ttl=TTL, wait=WAIT)
            for _ in range(2)]
    got = [threading.Event(), threading.Event()]
    at = [0.0, 0.0]
    for i, l in enumerate(pair):
        def on_elected(ev, i=i):
            at[i] = time.perf_counter()
            got[i].set()
        l.on("elected", on_elected)
    pair[0].elect()
    assert got[0].wait(10)
    pair[1].elect()
    time.sleep(0.2)
    samples = []
    leader = 0
    for _ in range(rounds):
        other = 1 - leader
        got[other].clear()
        t0 = time.perf_counter()
        pair[leader].stop()
        assert got[other].wait(10), "no handover"
        samples.append((at[other] - t0) * 1000)
        pair[leader].elect()  # back in line as a follower
        time.sleep(0.02)
        leader = other
    for l in pair:
        l.close()
    return samples


async def async_mode(rounds):
    pair = [libleader.AsyncLeader(URL, "bench-py-async", ttl=TTL, wait=WAIT)
            for _ in range(2)]
    got = [asyncio.Event(), asyncio.Event()]
    at = [0.0, 0.0]
    for i, l in enumerate(pair):
        def on_elected(ev, i=i):
            at[i] = time.perf_counter()
            got[i].set()
        l.on("elected", on_elected)
    pair[0].elect()
    await asyncio.wait_for(got[0].wait(), 10)
    pair[1].elect()
    await asyncio.sleep(0.2)
    samples = []
    leader = 0
    for _ in range(rounds):
        other = 1 - leader
        got[other].clear()
        t0 = time.perf_counter()
        await pair[leader].stop()
        await asyncio.wait_for(got[other].wait(), 10)
        samples.append((at[other] - t0) * 1000)
        pair[leader].elect()
        await asyncio.sleep(0.02)
        leader = other
    for l in pair:
        await l.aclose()
    return samples


def report(what, samples):
    s = sorted(samples)
    p90 = s[min(len(s) - 1, int(len(s) * 0.9))]
    print(f"{what:8} n={len(s)} median {statistics.median(s):.2f} ms, "
          f"p90 {p90:.2f} ms, min {s[0]:.2f} ms, max {s[-1]:.2f} ms")


def main():
    if not URL:
        sys.exit("REDIS_URL is not set: run through build/tests/redis-fixture")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(f"libleader {libleader.library_version()} "
          f"({libleader.library_path()}), Python {sys.version.split()[0]}; "
          "handover = stop() of the leader to the other's ELECTED listener")
    report("thread", thread_mode(rounds))
    report("asyncio", asyncio.run(async_mode(rounds)))


if __name__ == "__main__":
    main()
