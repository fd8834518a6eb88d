"""The fake Slack Web API (console.server) in a process of its own, for the benchmark.

Run by bench/run.py, not by hand. Its own process keeps its work off the
benchmark clients' interpreter lock, so a slow fake cannot pass for a slow app.
It prints its API URL on the first line of stdout, then answers commands read
from stdin, one per line:
    counts  print {method: number of calls so far} as one JSON line
    quit    stop (so does the end of stdin, and --max-seconds)
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections import Counter

from console.server import Call, FakeSlack
from console.workspace import FakeChannel, Workspace

# Keep only this many of the messages and ephemerals the fake was sent: it has to
# run for minutes under load without growing.
KEEP = 1000


class CountingFakeSlack(FakeSlack):
    """Counts calls instead of recording them, so memory stays flat under load."""

    def __init__(self, workspace: Workspace) -> None:
        # The benchmark measures the app: thousands of requests a minute from one
        # workspace, far past Slack's tiers, and checking every message against
        # Slack's limits would slow the fake the app waits on. The tests hold the
        # app to both (tests/test_rate_tiers.py, tests/test_at_scale.py).
        super().__init__(workspace, tiers=False, checks=False)
        self.counts: Counter[str] = Counter()

    def _record(self, call: Call) -> None:
        with self._lock:
            self.counts[call.method] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def trim(self) -> None:
        with self._lock:
            ws = self.workspace
            for kept in (ws.messages, ws.ephemerals, ws.changes, ws.responses):
                del kept[:-KEEP]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channel", default="C0ANNOUNCE", help="a channel the bot is in")
    parser.add_argument("--max-seconds", type=float, default=3 * 3600)
    args = parser.parse_args()
    workspace = Workspace(anyone_is_member=True)
    workspace.add_channel(FakeChannel(id=args.channel, name="announcements"))
    fake = CountingFakeSlack(workspace)
    fake.start()
    done = threading.Event()
    timer = threading.Timer(args.max_seconds, done.set)
    timer.daemon = True
    timer.start()

    def tidy() -> None:
        while not done.wait(1.0):
            fake.trim()

    threading.Thread(target=tidy, daemon=True).start()
    print(fake.api_url, flush=True)

    def read_commands() -> None:
        for line in sys.stdin:
            command = line.strip()
            if command == "counts":
                print(json.dumps(fake.snapshot()), flush=True)
            elif command == "quit":
                break
        done.set()

    threading.Thread(target=read_commands, daemon=True).start()
    done.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
