"""Events acted on once: a delivery claims its event id in the database, so that a
redelivery is left alone here and on every other replica, and receipts go once
Slack's retries are over."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.server import BackgroundServer, SlackWSGI
from console.payloads import message_im_body
from console.server import FakeSlack
from petition.deliveries import KEEP_MINUTES, Receipts, claim_event, current_minute
from storage.db import Database
from storage.direct import DirectCursor
from storage.models import EventReceipt
from tests.support.databases import sqlite_only
from tests.support.running import ALICE, SIGNING_SECRET, RunningBot, SlackDriver, make_settings


def _receipts(db: Database) -> list[tuple[str, int]]:
    with db.read() as session:
        return [
            tuple(r) for r in session.execute(select(EventReceipt.event_id, EventReceipt.minute))
        ]


def test_one_claim_wins_among_many_at_once(db):
    receipts = Receipts(db)
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        won = receipts.claim("Ev0RACE0001")
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_a_receipt_holds_the_event_id_and_the_minute_only(db):
    Receipts(db).claim("Ev0ONLY0001", now=1_800_000_000.7)
    assert _receipts(db) == [("Ev0ONLY0001", 1_800_000_000 // 60)]


def test_old_receipts_are_pruned_and_recent_ones_kept(db):
    now = 1_800_000_000.0
    minute = current_minute(now)
    with db.direct.write() as work:
        assert claim_event(work, "Ev0OLD00001", minute - KEEP_MINUTES - 1)
        assert claim_event(work, "Ev0RECENT01", minute - 1)
    Receipts(db).claim("Ev0NEW00001", now=now)
    assert {e for e, _ in _receipts(db)} == {"Ev0RECENT01", "Ev0NEW00001"}


def test_a_receipt_does_not_make_the_campaign_cache_stale(db):
    before = db.generation
    Receipts(db).claim("Ev0CACHE001")
    assert db.generation == before


@pytest.fixture
def two_replicas(
    fake_slack: FakeSlack, db: Database, database_url: str
) -> Iterator[tuple[RunningBot, RunningBot]]:
    """Two apps, as two replicas behind a load balancer, on one database."""
    settings = make_settings(fake_slack, database_url)
    bots, servers = [], []
    for _ in range(2):
        app = create_app(settings, db)
        server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET)).start()
        servers.append(server)
        bots.append(RunningBot(settings, db, SlackDriver(server.url, fake_slack), fake_slack))
    bots[0].import_campaign()
    try:
        yield bots[0], bots[1]
    finally:
        for server in servers:
            server.stop()


def test_a_redelivery_to_another_replica_is_not_answered_again(two_replicas, fake_slack):
    first, second = two_replicas
    body = message_im_body("status", ALICE.id)
    assert first.slack.post(body, "application/json").status == 200
    retried = second.slack.post(
        body, "application/json", {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"}
    )
    assert retried.status == 200
    replies = [c for c in fake_slack.calls_to("chat.postEphemeral") if c.params["user"] == ALICE.id]
    assert len(replies) == 1
    event_id = json.loads(body)["event_id"]
    receipts = [e for e, _ in _receipts(first.db)]
    # One receipt for the event however many deliveries; where replicas share the
    # database, each signed request is also claimed there (bot/replay.py), by a
    # digest of its signature that says nothing of the request.
    assert [e for e in receipts if not e.startswith("sig:")] == [event_id]
    signatures = [e for e in receipts if e.startswith("sig:")]
    # (Both deliveries may be signed in the same second, hence with one signature.)
    assert (signatures == []) is first.db.is_sqlite
    assert all(re.fullmatch(r"sig:[0-9a-f]{56}", e) for e in signatures)


@sqlite_only("the writer thread is SQLite's")
def test_a_first_delivery_is_answered_while_its_receipt_waits_for_the_writer(
    running_bot: RunningBot, fake_slack: FakeSlack
):
    """Over HTTP a delivery without a retry number is the event's first: it is acted
    on without waiting for its receipt's commit, and a redelivery meanwhile is still
    left alone."""
    running_bot.import_campaign()
    batcher = running_bot.db.direct._batcher
    assert batcher is not None
    busy, free = threading.Event(), threading.Event()

    def hold(work: DirectCursor) -> None:
        busy.set()
        free.wait(30)  # the writer is busy with this until the test lets it go

    holder = threading.Thread(target=batcher.run, args=(hold, 30.0))
    holder.start()
    try:
        assert busy.wait(10)
        body = message_im_body("status", ALICE.id)
        assert running_bot.slack.post(body, "application/json").status == 200
        # Slack's redelivery of the same event (signed anew), while the first
        # delivery's receipt is still queued behind the busy writer.
        redelivered = running_bot.slack.post(
            body,
            "application/json",
            {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
            timestamp=int(time.time()) - 1,
        )
        assert redelivered.status == 200
    finally:
        free.set()
        holder.join(30)
    running_bot.db.direct.write_batched(lambda work: None)  # after the receipt, in order
    replies = [c for c in fake_slack.calls_to("chat.postEphemeral") if c.params["user"] == ALICE.id]
    assert len(replies) == 1
    assert [e for e, _ in _receipts(running_bot.db)] == [json.loads(body)["event_id"]]


def test_served_events_are_acknowledged_first_then_acted_on_once(
    fake_slack: FakeSlack, db: Database, database_url: str
):
    """As `python -m bot serve` serves them: an event's acknowledgement (an empty 200
    in every case) goes out before the work, which then runs on the same server
    thread; the answer still comes once, and a redelivery is left alone."""
    settings = make_settings(fake_slack, database_url)
    app = create_app(settings, db)
    wsgi = SlackWSGI(app, db, SIGNING_SECRET, events_first_acknowledged=True)
    server = BackgroundServer(wsgi).start()
    try:
        bot = RunningBot(settings, db, SlackDriver(server.url, fake_slack), fake_slack)
        bot.import_campaign()
        fake_slack.delay("chat.postEphemeral", 2.0)  # the answer is still on its way

        def replies() -> list:
            return [
                c for c in fake_slack.calls_to("chat.postEphemeral") if c.params["user"] == ALICE.id
            ]

        body = message_im_body("status", ALICE.id)
        acknowledged = bot.slack.post(body, "application/json")
        assert (acknowledged.status, acknowledged.body) == (200, "")
        assert replies() == []  # acknowledged before the answer was sent
        fake_slack.delay("chat.postEphemeral", 0)
        retried = bot.slack.post(
            body,
            "application/json",
            {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
            timestamp=int(time.time()) - 1,
        )
        assert retried.status == 200
        deadline = time.monotonic() + 15
        while not replies() and time.monotonic() < deadline:
            time.sleep(0.05)
        db.direct.write_batched(lambda work: None)  # after the receipts, in order
        assert len(replies()) == 1
    finally:
        server.stop()
