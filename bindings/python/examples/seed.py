# SPDX-License-Identifier: BSD-3-Clause
# examples/seed.py - node-leader's README scenario with the Python binding:
# a candidate is elected, asks Redis whether it leads, works, stops, and is
# revoked. Usage: python3 seed.py [REDIS_URL]
import sys
import threading

import libleader
from libleader import Leader

url = sys.argv[1] if len(sys.argv) > 1 else None  # None: $LEADER_REDIS_URL
candidate = Leader(url, "some_key", ttl=20, wait=2)
print("id: " + candidate.id)
print("lock key: " + candidate.key)

elected = threading.Event()
revoked = threading.Event()


@candidate.on(Leader.event.ELECTED)
def on_elected(ev):
    # Runs on the library's thread: no Redis queries here, hand over.
    print(f"candidate got elected! (term {ev.term})")
    elected.set()


@candidate.on(Leader.event.REVOKED)
def on_revoked(ev):
    print("candidate got revoked!")
    revoked.set()


@candidate.on(Leader.event.ERROR)
def on_error(ev):
    print(f"error: {ev.message} ({ev.error_name})", file=sys.stderr)


print("candidate tries to get elected as leader...")
candidate.elect()
if not elected.wait(30):
    sys.exit("not elected within 30 s")
try:
    is_leader = candidate.is_leader()
    print(f"candidate is {'' if is_leader else 'not '}the leader!")
except libleader.LeaderError as e:
    print(f"is_leader: {e}", file=sys.stderr)

# ... perform some task, while candidate.has_lease() ...

print("candidate stops trying to be a leader...")
candidate.stop()
revoked.wait(5)
candidate.close()
