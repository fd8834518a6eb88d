"""A campaign announcing in several channels (one per workspace of an Enterprise
Grid, or a shared org-wide one): each milestone, and the final count, exactly once
in each channel, whatever Slack does in any one of them.

The real announcement run (jobs.announce) against the fake Slack playing a Grid, on a
real SQLite file; signatures through the real signing flow or add_signature."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.settings import Settings
from console.server import FakeSlack, Fault
from console.workspace import FakeChannel, FakeUser, Grid
from jobs.announce import EVENT_TYPE
from petition import announcements, campaign_spec, campaigns
from petition.errors import InvalidCampaign
from petition.signatures import add_signature, remove_signature, signer_hash
from storage.db import Database
from storage.models import Announcement, AnnouncementState, Campaign
from tests.support.announcing import SLUG, age_claims, announced, import_campaign, run
from tests.support.cli import Cli
from tests.support.grid import ORG, WENDY, WORKSPACE_A, WORKSPACE_B, grid_click, grid_submit
from tests.support.jobs import announce
from tests.support.processes import bot_env
from tests.support.running import RunningBot, make_settings, response_json
from tests.support.scheduling import wait_for
from tests.support.signing import sign_values, view_text

# One announcement channel in each workspace of the organization, and one shared.
CHANNEL_A = "C0WSPACEA1"
CHANNEL_B = "C0WSPACEB1"
SHARED = "C0ORGWIDE1"
WILL = FakeUser("W0WILL0001", "will", "Will Grid", team_id=WORKSPACE_B, enterprise_id=ORG)
DORA = FakeUser("W0DORA0001", "dora", "Dora Organizer", team_id=WORKSPACE_A, enterprise_id=ORG)
GRID = Grid(enterprise_id=ORG, org_install=True)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.workspace.grid = GRID
        fake.workspace.add_user(WENDY)
        fake.workspace.add_user(WILL)
        fake.workspace.add_user(DORA)
        fake.workspace.add_channel(FakeChannel(CHANNEL_A, "petition-a"))
        fake.workspace.add_channel(FakeChannel(CHANNEL_B, "petition-b"))
        fake.workspace.add_channel(FakeChannel(SHARED, "petition-everyone"))
        yield fake


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return make_settings(fake_slack, database_url)


@pytest.fixture
def campaign(db: Database, settings: Settings) -> Database:
    import_campaign(db, settings, channel=CHANNEL_A, channels=[CHANNEL_B])
    return db


def grid_signers(db: Database, settings: Settings, count: int, start: int = 0) -> None:
    """Members of the organization, as a Grid keys them: org and user id."""
    with db.write() as session:
        for number in range(start, start + count):
            key = settings.require_signer_key()
            add_signature(
                session, SLUG, signer_hash(key, ORG, f"W{number:09d}"), keyring=settings.keyring()
            )


def by_channel(db: Database) -> dict[tuple[str, int, str], Announcement]:
    with db.read() as session:
        return {
            (a.kind.value, a.threshold, a.channel_id): a
            for a in session.scalars(select(Announcement)).all()
        }


def states(db: Database) -> dict[tuple[str, int, str], str]:
    return {key: row.state.value for key, row in by_channel(db).items()}


def posted_to(fake: FakeSlack) -> list[str]:
    """The channel of every post attempt, in order."""
    return [c.params["channel"] for c in fake.calls_to("chat.postMessage")]


def close_now(db: Database) -> None:
    with db.write() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.slug == SLUG)
            .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )


def invite(fake: FakeSlack, channel: str, member: bool = True) -> None:
    fake.workspace.channels[channel].bot_is_member = member


# -- exactly once per channel ------------------------------------------------------


def test_each_channel_hears_each_milestone_exactly_once(campaign, settings, fake_slack):
    db = campaign
    grid_signers(db, settings, 4)
    assert run(settings).posted == []
    grid_signers(db, settings, 1, start=4)
    report = run(settings)
    assert sorted((d.threshold, d.channel_id) for d in report.posted) == [
        (5, CHANNEL_A),
        (5, CHANNEL_B),
    ]
    grid_signers(db, settings, 3, start=5)
    assert sorted(d.channel_id for d in run(settings).posted) == [CHANNEL_A, CHANNEL_B]
    for _ in range(3):
        assert run(settings).posted == []
    for channel in (CHANNEL_A, CHANNEL_B):
        assert announced(fake_slack, channel) == [("milestone", 5), ("milestone", 8)]
    assert len(fake_slack.calls_to("chat.postMessage")) == 4
    stored = by_channel(db)
    assert {k: r.state for k, r in stored.items()} == {
        (kind, t, c): AnnouncementState.POSTED
        for kind, t in (("milestone", 5), ("milestone", 8))
        for c in (CHANNEL_A, CHANNEL_B)
    }
    for channel in (CHANNEL_A, CHANNEL_B):
        assert [stored[("milestone", t, channel)].message_ts for t in (5, 8)] == [
            m["ts"] for m in fake_slack.messages_in(channel)
        ]


def test_a_jump_past_several_milestones_is_one_post_per_channel(db, settings, fake_slack):
    import_campaign(db, settings, milestones=[5, 8, 10], channel=CHANNEL_A, channels=[CHANNEL_B])
    grid_signers(db, settings, 11)
    report = run(settings)
    assert sorted((d.threshold, d.channel_id) for d in report.posted) == [
        (10, CHANNEL_A),
        (10, CHANNEL_B),
    ]
    run(settings)
    for channel in (CHANNEL_A, CHANNEL_B):
        assert announced(fake_slack, channel) == [("milestone", 10)]


def test_withdrawals_never_re_announce_in_any_channel(campaign, settings, fake_slack):
    db = campaign
    grid_signers(db, settings, 5)
    run(settings)
    with db.write() as session:
        key = settings.require_signer_key()
        assert remove_signature(
            session, SLUG, signer_hash(key, ORG, f"W{0:09d}"), settings.keyring()
        )
    run(settings)
    grid_signers(db, settings, 1, start=100)
    run(settings)
    run(settings)
    for channel in (CHANNEL_A, CHANNEL_B):
        assert announced(fake_slack, channel) == [("milestone", 5)]


def test_a_shared_org_wide_channel_is_announced_in_once(db, settings, fake_slack):
    # Listed as `channel` and again among `channels`: still one channel.
    import_campaign(db, settings, channel=SHARED, channels=[SHARED, CHANNEL_B, CHANNEL_B])
    with db.read() as session:
        campaign = session.scalar(select(Campaign))
        assert announcements.announcement_channels(campaign) == [SHARED, CHANNEL_B]
    grid_signers(db, settings, 5)
    run(settings)
    run(settings)
    assert announced(fake_slack, SHARED) == [("milestone", 5)]
    assert announced(fake_slack, CHANNEL_B) == [("milestone", 5)]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_the_final_count_is_posted_once_in_each_channel(campaign, settings, fake_slack):
    db = campaign
    grid_signers(db, settings, 6)
    invite(fake_slack, CHANNEL_B, member=False)
    run(settings)  # 5 in A; B waits for an invitation
    close_now(db)
    invite(fake_slack, CHANNEL_B)
    report = run(settings)
    assert report.closed == [SLUG]
    assert sorted((d.kind.value, d.channel_id) for d in report.posted) == [
        ("final", CHANNEL_A),
        ("final", CHANNEL_B),
    ]
    run(settings)
    run(settings)
    assert announced(fake_slack, CHANNEL_A) == [("milestone", 5), ("final", 0)]
    # The milestone that waited is said by the final count instead.
    assert announced(fake_slack, CHANNEL_B) == [("final", 0)]
    assert states(db)[("milestone", 5, CHANNEL_B)] == "superseded"
    for channel in (CHANNEL_A, CHANNEL_B):
        [final] = [m for m in fake_slack.messages_in(channel) if "Final count" in m["text"]]
        assert "Final count: *6* signatures" in json.dumps(final["blocks"])


def test_announce_runs_at_once_post_once_per_channel(campaign, settings, fake_slack):
    grid_signers(campaign, settings, 8)
    # Slack is slow to answer: every run is in its loop while the first posts.
    fake_slack.delay("chat.postMessage", 1)
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            run(settings)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=one_run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for channel in (CHANNEL_A, CHANNEL_B):
        assert announced(fake_slack, channel) == [("milestone", 8)]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


# -- trouble in one channel ----------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_in_one_channel_neither_blocks_nor_repeats_the_other(
    campaign, settings, fake_slack, status
):
    db = campaign
    grid_signers(db, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(status=status))
    report = run(settings)
    # The first attempt (channel A) failed; B was posted in the same run.
    assert posted_to(fake_slack) == [CHANNEL_A, CHANNEL_B]
    assert [d.channel_id for d in report.posted] == [CHANNEL_B]
    assert by_channel(db)[("milestone", 5, CHANNEL_A)].in_doubt_since is not None
    assert by_channel(db)[("milestone", 5, CHANNEL_B)].state is AnnouncementState.POSTED
    # The next run looks in A (only), finds nothing, posts it there.
    assert [d.channel_id for d in run(settings).posted] == [CHANNEL_A]
    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.history")] == [
        CHANNEL_A
    ]
    run(settings)
    assert announced(fake_slack, CHANNEL_A) == [("milestone", 5)]
    assert announced(fake_slack, CHANNEL_B) == [("milestone", 5)]


def test_a_long_rate_limit_in_one_channel_holds_back_only_that_channel(
    campaign, settings, fake_slack
):
    db = campaign
    grid_signers(db, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(status=429, retry_after=600))
    report = run(settings)
    assert [d.channel_id for d in report.posted] == [CHANNEL_B]
    assert report.waiting == [f"{SLUG} 5 in {CHANNEL_A} (ratelimited)"]
    # Certainly not posted, so the next run posts without a look.
    assert [d.channel_id for d in run(settings).posted] == [CHANNEL_A]
    assert not fake_slack.calls_to("conversations.history")
    run(settings)
    assert announced(fake_slack, CHANNEL_A) == [("milestone", 5)]
    assert announced(fake_slack, CHANNEL_B) == [("milestone", 5)]


def test_a_rate_limit_holds_back_the_rest_of_that_channel_in_the_run(db, settings, fake_slack):
    # Two campaigns share channel A: after A's 429, the second one's post in A
    # waits too (Retry-After), while B still hears both.
    import_campaign(db, settings, channel=CHANNEL_A, channels=[CHANNEL_B])
    import_campaign(db, settings, slug="second-one", channel=CHANNEL_A, channels=[CHANNEL_B])
    grid_signers(db, settings, 5)
    with db.write() as session:
        for number in range(5):
            add_signature(session, "second-one", f"{number:064x}", keyring=settings.keyring())
    fake_slack.fail("chat.postMessage", Fault(status=429, retry_after=600))
    report = run(settings)
    assert posted_to(fake_slack) == [CHANNEL_A, CHANNEL_B, CHANNEL_B]
    assert sorted(d.slug for d in report.posted) == ["second-one", SLUG]
    assert {d.channel_id for d in report.posted} == {CHANNEL_B}
    run(settings)
    assert len(fake_slack.messages_in(CHANNEL_A)) == 2
    assert len(fake_slack.messages_in(CHANNEL_B)) == 2


def test_a_channel_the_bot_was_not_invited_to_waits_and_the_other_is_posted(
    campaign, settings, fake_slack
):
    db = campaign
    invite(fake_slack, CHANNEL_A, member=False)
    grid_signers(db, settings, 5)
    report = run(settings)
    assert [d.channel_id for d in report.posted] == [CHANNEL_B]
    assert report.waiting == [f"{SLUG} 5 in {CHANNEL_A} (not_in_channel)"]
    run(settings)
    assert announced(fake_slack, CHANNEL_B) == [("milestone", 5)]
    invite(fake_slack, CHANNEL_A)
    assert [d.channel_id for d in run(settings).posted] == [CHANNEL_A]
    run(settings)
    assert announced(fake_slack, CHANNEL_A) == [("milestone", 5)]
    assert announced(fake_slack, CHANNEL_B) == [("milestone", 5)]


def test_a_process_killed_between_post_and_record_in_one_channel_is_not_posted_twice(
    campaign, settings, fake_slack, database_url, tmp_path
):
    """`python -m bot announce` killed (SIGKILL) while Slack holds back the answer to
    its first post: posted, never recorded. No later run posts it again."""
    db = campaign
    grid_signers(db, settings, 5)
    fake_slack.delay("chat.postMessage", 60)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "announce"],
        cwd=tmp_path,
        env=bot_env(fake_slack, database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: len(fake_slack.calls_to("chat.postMessage")) == 1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    fake_slack.delay("chat.postMessage", 0)
    [first] = fake_slack.calls_to("chat.postMessage")
    dead = first.params["channel"]
    other = CHANNEL_B if dead == CHANNEL_A else CHANNEL_A
    assert len(fake_slack.messages_in(dead)) == 1  # posted, never recorded
    left = by_channel(db)[("milestone", 5, dead)]
    assert left.state is AnnouncementState.PENDING
    assert left.in_doubt_since is not None
    # While the dead attempt's claim lasts, nobody posts in its channel; the other
    # channel is posted as usual.
    report = run(settings)
    assert [d.channel_id for d in report.posted] == [other]
    assert report.waiting == [f"{SLUG} 5 in {dead} (being posted by another run)"]
    age_claims(db)
    report = run(settings)
    assert [(d.threshold, d.channel_id) for d in report.found] == [(5, dead)]
    assert report.posted == []
    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.history")] == [dead]
    assert run(settings).posted == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    stored = by_channel(db)
    for channel in (CHANNEL_A, CHANNEL_B):
        [message] = fake_slack.messages_in(channel)
        assert stored[("milestone", 5, channel)].message_ts == message["ts"]
        assert stored[("milestone", 5, channel)].state is AnnouncementState.POSTED


# -- channels added, removed, changed ----------------------------------------------


def test_a_channel_added_later_hears_only_milestones_passed_after(db, settings, fake_slack):
    import_campaign(db, settings, channel=CHANNEL_A)
    grid_signers(db, settings, 6)
    run(settings)
    import_campaign(db, settings, channel=CHANNEL_A, channels=[CHANNEL_B])
    assert run(settings).posted == []
    assert states(db)[("milestone", 5, CHANNEL_B)] == "superseded"
    grid_signers(db, settings, 2, start=6)
    assert sorted(d.channel_id for d in run(settings).posted) == [CHANNEL_A, CHANNEL_B]
    assert announced(fake_slack, CHANNEL_A) == [("milestone", 5), ("milestone", 8)]
    assert announced(fake_slack, CHANNEL_B) == [("milestone", 8)]


def test_a_channel_added_after_a_withdrawal_is_not_told_an_announced_milestone(
    db, settings, fake_slack
):
    import_campaign(db, settings, channel=CHANNEL_A)
    grid_signers(db, settings, 5)
    run(settings)
    with db.write() as session:
        key = settings.require_signer_key()
        remove_signature(session, SLUG, signer_hash(key, ORG, f"W{0:09d}"), settings.keyring())
    import_campaign(db, settings, channel=CHANNEL_A, channels=[CHANNEL_B])
    grid_signers(db, settings, 1, start=100)  # 5 again: old news
    run(settings)
    assert announced(fake_slack, CHANNEL_B) == []


def test_a_channel_added_after_closing_is_not_told_the_final_count(campaign, settings, fake_slack):
    db = campaign
    grid_signers(db, settings, 5)
    close_now(db)
    run(settings)
    import_campaign(db, settings, status="closed", channel=CHANNEL_A, channels=[CHANNEL_B, SHARED])
    run(settings)
    assert announced(fake_slack, SHARED) == []
    assert announced(fake_slack, CHANNEL_A) == [("final", 0)]
    assert announced(fake_slack, CHANNEL_B) == [("final", 0)]


def test_a_removed_channel_hears_nothing_more(campaign, settings, fake_slack):
    db = campaign
    invite(fake_slack, CHANNEL_B, member=False)
    grid_signers(db, settings, 5)
    run(settings)  # posted in A; waiting in B
    import_campaign(db, settings, channel=CHANNEL_A)
    assert states(db)[("milestone", 5, CHANNEL_B)] == "superseded"
    invite(fake_slack, CHANNEL_B)
    grid_signers(db, settings, 3, start=5)
    run(settings)
    run(settings)
    assert announced(fake_slack, CHANNEL_A) == [("milestone", 5), ("milestone", 8)]
    assert announced(fake_slack, CHANNEL_B) == []


def test_a_removed_channel_with_a_post_in_doubt_is_looked_at_not_posted(
    campaign, settings, fake_slack
):
    db = campaign
    invite(fake_slack, CHANNEL_B, member=False)
    grid_signers(db, settings, 5)
    run(settings)  # A hears it; B refuses (certainly not posted)
    invite(fake_slack, CHANNEL_B)
    fake_slack.fail("chat.postMessage", Fault(status=502))  # B may have it now
    run(settings)
    assert by_channel(db)[("milestone", 5, CHANNEL_B)].in_doubt_since is not None
    import_campaign(db, settings, channel=CHANNEL_A)
    report = run(settings)
    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.history")] == [
        CHANNEL_B
    ]
    assert [(d.threshold, d.channel_id) for d in report.superseded] == [(5, CHANNEL_B)]
    assert announced(fake_slack, CHANNEL_B) == []


def test_the_main_channel_corrected_takes_what_waited_not_what_was_said(
    campaign, settings, fake_slack
):
    db = campaign
    invite(fake_slack, CHANNEL_A, member=False)
    grid_signers(db, settings, 5)
    run(settings)  # B hears 5; A (the wrong id) refuses it
    import_campaign(db, settings, channel=SHARED, channels=[CHANNEL_B])
    assert [d.channel_id for d in run(settings).posted] == [SHARED]
    grid_signers(db, settings, 3, start=5)
    run(settings)
    run(settings)
    assert announced(fake_slack, SHARED) == [("milestone", 5), ("milestone", 8)]
    assert announced(fake_slack, CHANNEL_B) == [("milestone", 5), ("milestone", 8)]
    assert announced(fake_slack, CHANNEL_A) == []


def test_swapping_the_main_channel_with_another_keeps_each_channels_history(
    campaign, settings, fake_slack
):
    db = campaign
    grid_signers(db, settings, 5)
    run(settings)
    import_campaign(db, settings, channel=CHANNEL_B, channels=[CHANNEL_A])
    assert run(settings).posted == []
    # The old main channel kept as another, and a new main one: that one is new.
    import_campaign(db, settings, channel=SHARED, channels=[CHANNEL_A, CHANNEL_B])
    assert run(settings).posted == []
    grid_signers(db, settings, 3, start=5)
    run(settings)
    run(settings)
    assert announced(fake_slack, CHANNEL_A) == [("milestone", 5), ("milestone", 8)]
    assert announced(fake_slack, CHANNEL_B) == [("milestone", 5), ("milestone", 8)]
    assert announced(fake_slack, SHARED) == [("milestone", 8)]


# -- the campaign file ---------------------------------------------------------------


BASE = {
    "slug": SLUG,
    "title": "t",
    "statement": "s",
    "demands": ["d"],
    "milestones": [5],
    "channel": CHANNEL_A,
}


@pytest.mark.parametrize(
    ("channels", "words"),
    [
        ("C0WSPACEB1", "must be Slack channel IDs"),
        (["#general"], "Slack channel IDs"),
        ([CHANNEL_B, 7], "Slack channel IDs"),
        ([f"C0MANY{n:05d}" for n in range(campaign_spec.MAX_CHANNELS + 1)], "the most is"),
    ],
)
def test_bad_channels_are_refused_at_import(settings, channels, words):
    with pytest.raises(InvalidCampaign, match=words) as refused:
        campaign_spec.parse_campaign({**BASE, "channels": channels}, settings.timezone)
    assert refused.value.field == "channels"


def test_channels_need_a_main_channel(settings):
    data = {k: v for k, v in BASE.items() if k != "channel"}
    with pytest.raises(InvalidCampaign, match="choose that one too"):
        campaign_spec.parse_campaign({**data, "channels": [CHANNEL_B]}, settings.timezone)


def test_importing_channels_twice_changes_nothing(db, settings):
    spec = campaign_spec.parse_campaign(
        {**BASE, "channels": [SHARED, CHANNEL_B, CHANNEL_A]}, settings.timezone
    )
    assert spec.channels == (SHARED, CHANNEL_B)  # sorted, without `channel`
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)
    with db.write() as session:
        _, changes = campaigns.upsert_campaign(session, spec)
    assert changes == []
    with db.write() as session:
        _, changes = campaigns.upsert_campaign(
            session, campaign_spec.parse_campaign({**BASE, "channels": [SHARED]}, settings.timezone)
        )
    assert changes == ["channels"]


def test_campaign_import_and_list_with_channels(tmp_path: Path):
    cli = Cli(tmp_path, tmp_path / "data" / "undersigned.db")
    path = cli.write(
        "campaign.toml",
        f'slug = "{SLUG}"\ntitle = "T"\nstatement = "S"\ndemands = ["D"]\n'
        f'milestones = [5]\nchannel = "{CHANNEL_A}"\nchannels = ["{CHANNEL_B}", "{SHARED}"]\n',
    )
    cli.ok("campaign", "import", str(path))
    [listed] = cli.campaigns()
    assert listed["channel"] == CHANNEL_A
    assert listed["channels"] == [SHARED, CHANNEL_B]


# -- through Slack ------------------------------------------------------------------


def test_signing_in_two_workspaces_is_announced_in_both_and_names_no_one(running_bot):
    bot = running_bot
    bot.import_campaign(milestones=[5, 8], channel=CHANNEL_A, channels=[CHANNEL_B])
    form = grid_click(bot, "sign_start", WENDY.id, WORKSPACE_A, GRID)
    answer = grid_submit(bot, form, sign_values("named", "Wendy Grid"), WENDY.id, WORKSPACE_A, GRID)
    assert "with your name" in view_text(answer["view"])
    form = grid_click(bot, "sign_start", WILL.id, WORKSPACE_B, GRID)
    grid_submit(bot, form, sign_values(), WILL.id, WORKSPACE_B, GRID)
    grid_signers(bot.db, bot.settings, 4)
    run(bot.settings)
    close_now(bot.db)
    run(bot.settings)
    run(bot.settings)
    for channel in (CHANNEL_A, CHANNEL_B):
        assert announced(bot.fake, channel) == [("milestone", 5), ("final", 0)]
    calls = bot.fake.calls_to("chat.postMessage")
    assert len(calls) == 4
    key = bot.settings.require_signer_key()
    forbidden = [WENDY.id, WILL.id, "Wendy", "wendy", "Will", "will", WORKSPACE_A, WORKSPACE_B]
    forbidden += [signer_hash(key, ORG, u) for u in (WENDY.id, WILL.id)]
    for call in calls:
        raw = json.dumps(call.params)
        for word in forbidden:
            assert word not in raw
        assert set(json.loads(raw)["metadata"]["event_payload"]) == {
            "campaign",
            "kind",
            "threshold",
        }
        assert json.loads(raw)["metadata"]["event_type"] == EVENT_TYPE


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DORA.id}


@pytest.fixture
def organizer_bot(running_bot: RunningBot) -> RunningBot:
    running_bot.fake.workspace.add_channel(
        FakeChannel("C0NOTIN001", "elsewhere", bot_is_member=False)
    )
    running_bot.import_campaign(channel=CHANNEL_A)
    return running_bot


def _editor_state(form: dict[str, Any], more: list[str]) -> dict[str, Any]:
    """The editor as Slack sends it back: the shown values, with `more` channels."""
    state: dict[str, Any] = {}
    for block in form["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        if element["type"] == "plain_text_input":
            value = {"type": "plain_text_input", "value": element.get("initial_value", "")}
        elif element["type"] == "conversations_select":
            value = {"type": element["type"], "selected_conversation": CHANNEL_A}
        elif element["type"] == "multi_conversations_select":
            value = {"type": element["type"], "selected_conversations": more}
        else:
            continue
        state[block["block_id"]] = {block["block_id"]: value}
    return state


def open_editor(bot: RunningBot) -> dict[str, Any]:
    return grid_click(bot, "admin_edit", DORA.id, WORKSPACE_A, GRID)


def save(bot: RunningBot, form: dict[str, Any], more: list[str]) -> dict[str, Any]:
    return grid_submit(bot, form, _editor_state(form, more), DORA.id, WORKSPACE_A, GRID)


def test_organizers_add_channels_in_the_editor(organizer_bot):
    bot = organizer_bot
    form = open_editor(bot)
    [more] = [b for b in form["blocks"] if b.get("block_id") == "channels"]
    assert more["element"]["type"] == "multi_conversations_select"
    assert "one per workspace" in more["label"]["text"]
    answer = save(bot, form, [CHANNEL_B])
    assert "Changed: more announcement channels" in view_text(answer["view"])
    with bot.db.read() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert announcements.announcement_channels(campaign) == [CHANNEL_A, CHANNEL_B]
    # The editor shows them next time; the organizer view says there are more.
    form = open_editor(bot)
    [more] = [b for b in form["blocks"] if b.get("block_id") == "channels"]
    assert more["element"]["initial_conversations"] == [CHANNEL_B]
    panel = response_json(bot.slack.command("admin", user=DORA.id, team_id=WORKSPACE_A, grid=GRID))
    assert "and 1 more" in view_text({"blocks": panel["blocks"]})


def test_a_channel_the_bot_is_not_in_is_refused_in_the_editor(organizer_bot):
    bot = organizer_bot
    form = open_editor(bot)
    answer = save(bot, form, [CHANNEL_B, "C0NOTIN001"])
    assert answer["response_action"] == "errors"
    assert "#elsewhere" in answer["errors"]["channels"]
    assert "/invite @Undersigned" in answer["errors"]["channels"]
    with bot.db.read() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert campaign.extra_channels == []


def test_the_history_says_which_channel(campaign, settings, fake_slack):
    from petition import organizing

    grid_signers(campaign, settings, 5)
    invite(fake_slack, CHANNEL_B, member=False)
    run(settings)
    with campaign.read() as session:
        row = session.scalar(select(Campaign))
        lines = [text for _at, text in organizing.milestone_history(session, row)]
    assert f"5 announced in <#{CHANNEL_A}>" in lines
    assert f"5 due at the next run in <#{CHANNEL_B}> (last error: not_in_channel)" in lines


def test_announce_job_is_the_entry_point(campaign, settings, fake_slack):
    # The scheduler's entry point and `announce` share the run: both channels.
    grid_signers(campaign, settings, 5)
    assert settings.slack_bot_token is not None
    report = announce(settings)
    assert [line for line in report.summary() if line.startswith("posted")] == [
        f"posted: {SLUG} 5 in {CHANNEL_A}",
        f"posted: {SLUG} 5 in {CHANNEL_B}",
    ]
