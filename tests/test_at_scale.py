"""Every surface of every flow at the largest size the product allows, with hostile
text, through the strict fake Slack: zero refusals.

Hypothesis builds campaigns with every field at its maximum (title, statement, 20
demands of the longest length, 20 milestones, 100 more channels, organizers,
an employer's answer), written in characters chosen to hurt: mentions, `&`, `<`,
`>`, emoji, right-to-left marks. Up to 100 of them, one person who signed every
one, and an organizer; then it drives /demands, the list, signing in all three
ways, status, changing, withdrawing, Home, the organizer panel and each of its
forms, announcements and news. The largest case (100 campaigns, all `&`, the
character that escaping lengthens most) is always run; a few more are drawn.

Rate-limit tiers stay on: the flows as a person drives them stay within them,
and the test says so.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import blocks
from bot.app import create_app
from bot.scheduler import job_client
from bot.server import BackgroundServer, SlackWSGI
from console.server import FakeSlack
from console.workspace import TEAM_ID, FakeChannel, dm_channel_for
from jobs.announce import announce_job
from petition import campaign_spec, campaigns, updates
from petition.campaign_spec import MAX_CHANNELS, MAX_DEMANDS, MAX_MILESTONES
from petition.ratelimit import RateLimiter
from petition.signatures import add_signature, signer_hash
from petition.updates import TEXT_MAX
from storage.db import Database
from storage.migrate import upgrade
from storage.models import DEMAND_MAX, NAME_MAX, SLUG_MAX, STATEMENT_MAX, TITLE_MAX
from tests.support.news import news_posts, wait_until
from tests.support.organizers import DANA, editor_values
from tests.support.paging import page_button, slugs_in, walk_pages
from tests.support.running import ALICE, SIGNING_SECRET, RunningBot, SlackDriver, make_settings
from tests.support.running import response_json as answer_of
from tests.support.signing import ephemerals_to, opened_views, view_text

HOSTILE = ["<!channel>", "<@U0ALICE001>", "&", "<", ">", "🙂", "\u202e", "\u200f", "*", "`", '"']
WORST = ["&"]  # escaping makes each of these five characters long
SLUGS = r"c\d{3}-x+"


def at_most(pattern: list[str], limit: int) -> str:
    """`limit` characters of the pattern, ending in non-space (a campaign file's
    text is trimmed)."""
    unit = "".join(pattern) or "x"
    text = (unit * (limit // len(unit) + 1))[:limit]
    return text if text == text.strip() else "x" + text[1:-1] + "x"


def campaign_file(i: int, pattern: list[str], more_channels: int) -> dict[str, Any]:
    return {
        "slug": f"c{i:03d}-" + "x" * (SLUG_MAX - 5),
        "title": at_most(pattern, TITLE_MAX),
        "statement": at_most(pattern, STATEMENT_MAX),
        "demands": [at_most(pattern, DEMAND_MAX) for _ in range(MAX_DEMANDS)],
        "milestones": list(range(5, 5 + MAX_MILESTONES)),
        "channel": f"C0ANN{i:05d}",
        "channels": [f"C0MORE{n:04d}" for n in range(more_channels)],
        "closes": dt.date(2099, 12, 31),
        "organizers": [DANA.id],
        "forget_after_days": 3650,
    }


@contextmanager
def fresh_bot(tmp: Path) -> Iterator[RunningBot]:
    with FakeSlack() as fake:
        fake.workspace.add_user(ALICE)
        fake.workspace.add_user(DANA)
        database_url = f"sqlite:///{tmp / 'undersigned.db'}"
        db = Database.from_url(database_url)
        upgrade(db.engine)
        settings_ = make_settings(fake, database_url, ORGANIZERS=DANA.id)
        # One person drives every flow over a hundred campaigns in seconds, far past
        # the per-person limit (20 at once, then one every 3 s: tests/test_guards.py);
        # that limit is not what this test is about.
        limiter = RateLimiter(burst=100_000)
        app = create_app(settings_, db, limiter=limiter)
        server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET))
        server.start()
        try:
            yield RunningBot(settings_, db, SlackDriver(server.url, fake), fake)
        finally:
            server.stop()
            db.dispose()


def import_all(bot: RunningBot, files: list[dict[str, Any]]) -> None:
    for channel in {f["channel"] for f in files} | {c for f in files for c in f["channels"]}:
        bot.fake.workspace.add_channel(FakeChannel(channel, channel.lower()))
    with bot.db.write() as session:
        for data in files:
            campaigns.upsert_campaign(
                session, campaign_spec.parse_campaign(data, bot.settings.timezone)
            )


def sign_in_the_form(bot: RunningBot, slug: str, values: dict[str, Any]) -> str:
    assert bot.slack.click("sign_start", slug).status == 200
    form = opened_views(bot)[-1]
    assert form["callback_id"] == "sign_submit", view_text(form)
    answer = answer_of(bot.slack.submit(form, values))
    assert answer["response_action"] == "update", answer
    return view_text(answer["view"])


def sign_values(
    how: str, name: str | None = None, threshold: str | None = None, news: bool = False
):
    values: dict[str, Any] = {
        "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": how}}},
        "name": {"name": {"type": "plain_text_input", "value": name}},
    }
    if threshold:
        values["threshold_other"] = {
            "threshold_other": {"type": "number_input", "value": threshold}
        }
    if news:
        values["updates"] = {
            "updates": {"type": "checkboxes", "selected_options": [{"value": "news"}]}
        }
    return values


def news_progress(bot: RunningBot) -> list[updates.Progress]:
    with bot.db.read() as session:
        return updates.progress(session, 1)


def drive_every_flow(bot: RunningBot, n: int, pattern: list[str]) -> None:
    files = [campaign_file(i, pattern, MAX_CHANNELS if i == 0 else 0) for i in range(n)]
    import_all(bot, files)
    slugs = [f["slug"] for f in files]
    first, second, third = slugs[0], slugs[1], slugs[2]
    key = bot.settings.require_signer_key()
    keyring = bot.keyring

    # /demands: the list, a page at a time, then every campaign on its own.
    listed = answer_of(bot.slack.command(""))
    assert walk_pages(bot, listed["blocks"], ALICE.id, SLUGS) == slugs
    for slug in slugs:
        shown = answer_of(bot.slack.command(slug))
        assert shown.get("blocks", [{}])[0].get("type") == "header", shown

    # Signing in all three ways, in the form (news asked for with the first).
    name = at_most(["A", *pattern], NAME_MAX)  # a name has letters; the rest is anything
    assert "anonymously" in sign_in_the_form(bot, first, sign_values("anonymous", news=True))
    assert "with your name" in sign_in_the_form(bot, second, sign_values("named", name))
    assert "once 100,000" in sign_in_the_form(
        bot, third, sign_values("conditional", name, threshold="100000")
    )
    # ... and every other campaign, and thirty colleagues on the first.
    with bot.db.write() as session:
        for slug in slugs[3:]:
            add_signature(session, slug, signer_hash(key, TEAM_ID, ALICE.id), keyring=keyring)
        for i in range(30):
            add_signature(
                session, first, signer_hash(key, TEAM_ID, f"U0COLL{i:04d}"), keyring=keyring
            )

    # Status in the DM, every page.
    assert bot.slack.dm("status").status == 200
    status = ephemerals_to(bot, ALICE.id)[-1]
    assert walk_pages(bot, status["blocks"], ALICE.id, SLUGS) == slugs

    # Change how I sign.
    assert bot.slack.click("sign_change", first).status == 200
    form = opened_views(bot)[-1]
    answer = answer_of(bot.slack.submit(form, sign_values("named", name, news=True)))
    assert "now sign" in view_text(answer["view"])

    # Home, every page, and signing again from a page of it.
    assert bot.slack.open_home().status == 200
    home = bot.fake.calls_to("views.publish")[-1].params["view"]
    seen = slugs_in(home["blocks"], SLUGS)
    while (button := page_button(home["blocks"])) is not None:
        container = {"type": "view", "view_id": "V0HOME"}
        assert (
            bot.slack.click(
                blocks.PAGE_ACTION,
                button["value"],
                container=container,
                view=home,
                response_url=None,
            ).status
            == 200
        )
        home = bot.fake.calls_to("views.publish")[-1].params["view"]
        seen += slugs_in(home["blocks"], SLUGS)
    assert seen == slugs
    # Changing a signature from the last page of Home comes back to that page.
    last_page = home["private_metadata"]
    slug = slugs_in(home["blocks"], SLUGS)[-1]
    container = {"type": "view", "view_id": "V0HOME"}
    assert (
        bot.slack.click(
            "sign_change", slug, container=container, view=home, response_url=None
        ).status
        == 200
    )
    answer_of(bot.slack.submit(opened_views(bot)[-1], sign_values("anonymous")))
    assert bot.fake.calls_to("views.publish")[-1].params["view"]["private_metadata"] == last_page

    # The DM's sign and withdraw choosers, every page; withdrawing one.
    for verb in ("sign", "withdraw"):
        assert bot.slack.dm(verb).status == 200
        chooser = ephemerals_to(bot, ALICE.id)[-1]
        assert walk_pages(bot, chooser["blocks"], ALICE.id, SLUGS) == slugs
    assert bot.slack.click("withdraw_start", second).status == 200
    answer = answer_of(bot.slack.submit(opened_views(bot)[-1], {}))
    assert "was deleted" in view_text(answer["view"])

    # The organizer panel, every page, and each of its forms on the largest campaign.
    panel = answer_of(bot.slack.command("admin", user=DANA.id))
    assert walk_pages(bot, panel["blocks"], DANA.id, SLUGS) == slugs
    assert bot.slack.click("admin_edit", first, user=DANA.id).status == 200
    editor = opened_views(bot)[-1]
    assert editor["callback_id"] == "admin_save"
    unchanged = editor_values(
        title=files[0]["title"],
        milestones=", ".join(map(str, files[0]["milestones"])),
        channel=files[0]["channel"],
        closes="2099-12-31",
        organizers=[DANA.id],
        forget_after_days="3650",
    )
    unchanged["channels"] = {
        "channels": {
            "type": "multi_conversations_select",
            "selected_conversations": files[0]["channels"],
        }
    }
    saved = answer_of(bot.slack.submit(editor, unchanged, user=DANA.id))
    assert "Nothing changed" in view_text(saved["view"]), saved
    assert bot.slack.click("admin_new", "new", user=DANA.id).status == 200
    created = answer_of(
        bot.slack.submit(
            opened_views(bot)[-1],
            editor_values(
                slug="z-new-" + "x" * (SLUG_MAX - 6),
                title=files[0]["title"],
                statement=files[0]["statement"],
                demands=files[0]["demands"],
                milestones="5, 10",
            ),
            user=DANA.id,
        )
    )
    assert "as a *draft*" in view_text(created["view"]), created

    # News to those who asked: the longest update, previewed then sent.
    assert bot.slack.click("admin_update", first, user=DANA.id).status == 200
    update = {
        "kind": {"kind": {"type": "static_select", "selected_option": {"value": "answer"}}},
        "text": {"text": {"type": "plain_text_input", "value": at_most(pattern, TEXT_MAX)}},
        "send": {"send": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}},
    }
    preview = answer_of(bot.slack.submit(opened_views(bot)[-1], update, user=DANA.id))
    assert preview["response_action"] == "update", preview
    done = answer_of(bot.slack.submit(preview["view"], {}, user=DANA.id))
    assert "Sending to 1 people" in view_text(done["view"]), done
    wait_until(lambda: len(news_posts(bot)) == 1)
    assert news_posts(bot)[0]["channel"] == dm_channel_for(ALICE.id)
    # Sent, recorded, and the sender's thread gone before going on: the
    # announcement run below, over 100 campaigns and 101 channels, has held
    # SQLite's write lock past the sender's busy timeout ("database is locked" in
    # that thread, which the scheduler resumes); this test is not about that.
    wait_until(lambda: all(p.done for p in news_progress(bot)))
    wait_until(lambda: not any(t.name == "news" and t.is_alive() for t in threading.enumerate()))
    # The employer's answer now shows in /demands, whole.
    answer_of(bot.slack.command(first))

    # Announcements: a milestone in each of the first campaign's 101 channels.
    client = job_client(bot.settings)
    announce = lambda: announce_job(bot.db, client)  # noqa: E731
    announce()
    assert len(bot.fake.messages_in(files[0]["channel"])) == 1
    assert len(bot.fake.messages_in(files[0]["channels"][-1])) == 1

    # Close, the final count, the letters, forget, archive.
    assert bot.slack.click("admin_close", first, user=DANA.id).status == 200
    announce()
    for action in ("admin_letter_md", "admin_letter_html"):
        assert bot.slack.click(action, first, user=DANA.id).status == 200
    # The history, with a line for each of the 101 channels' milestone and final count.
    assert bot.slack.click("admin_history", first, user=DANA.id).status == 200
    assert opened_views(bot)[-1]["title"]["text"] == "History"
    assert bot.slack.click("admin_forget", first, user=DANA.id).status == 200
    forget = opened_views(bot)[-1]
    confirm = {"confirm": {"slug": {"type": "plain_text_input", "value": first}}}
    forgotten = answer_of(bot.slack.submit(forget, confirm, user=DANA.id))
    assert "can no longer be tied" in view_text(forgotten["view"]), forgotten
    assert bot.slack.click(blocks.ADMIN_ARCHIVE, first, user=DANA.id).status == 200
    panel = answer_of(bot.slack.command("admin", user=DANA.id))
    assert "Archived campaigns (1)" in json.dumps(panel)

    assert bot.fake.refusals == []
    assert bot.fake.rate_limited == [], [c.method for c in bot.fake.rate_limited]


@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    n=st.integers(min_value=3, max_value=30),
    pattern=st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=6),
)
@example(n=100, pattern=WORST)
@example(n=100, pattern=HOSTILE)
def test_every_surface_at_the_largest_size_is_accepted(n: int, pattern: list[str]) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, fresh_bot(Path(tmp)) as bot:
        drive_every_flow(bot, n, pattern)
    assert time.monotonic() - started < 600
