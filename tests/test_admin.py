"""Organizer tools end to end: `/demands admin`, its buttons and forms, the letter
and forgetting, through signed requests and the fake Slack."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from console.workspace import FakeUser
from petition.signatures import signer_hash, signer_status
from storage.models import AuditEntry, Campaign, CampaignStatus, Signature
from tests.support.counts import next_hour
from tests.support.organizers import (
    ANNOUNCEMENTS,
    DANA,
    ELSEWHERE,
    NEW_CAMPAIGN,
    SLUG,
    Organizing,
    editor_values,
    open_editor,
)
from tests.support.running import ALICE, BOB, SIGNER_KEY, RunningBot, key_store_for, response_json
from tests.support.signing import opened_views, sign, view_text

ERIN = FakeUser(id="U0ERIN0001", name="erin", real_name="Erin Helper")


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


@pytest.fixture
def organizing() -> Organizing:
    return Organizing(users=(ERIN,), channels=(ANNOUNCEMENTS, ELSEWHERE))


def panel(bot: RunningBot, user: str = DANA.id) -> dict[str, Any]:
    return response_json(bot.slack.command("admin", user=user))


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def campaign(bot: RunningBot, slug: str = SLUG) -> Campaign:
    with bot.db.read() as session:
        return session.scalars(
            select(Campaign)
            .where(Campaign.slug == slug)
            .options(selectinload(Campaign.demands), selectinload(Campaign.milestones))
        ).one()


# -- who may organize ---------------------------------------------------------------


def test_a_worker_is_refused_the_organizer_view_and_the_attempt_is_logged(bot, caplog):
    caplog.set_level(logging.WARNING)
    answer = panel(bot, ALICE.id)
    assert "for the campaign's organizers" in answer["text"]
    assert "refused an organizer action (admin view)" in caplog.text
    assert ALICE.id not in caplog.text


@pytest.mark.parametrize(
    "action", ["admin_edit", "admin_close", "admin_history", "admin_forget", "admin_letter_md"]
)
def test_forged_organizer_clicks_by_a_worker_change_nothing(bot, action):
    before = campaign(bot)
    assert bot.slack.click(action, SLUG, user=ALICE.id).status == 200
    after = campaign(bot)
    assert (after.status, after.title) == (before.status, before.title)
    shown = json.dumps([c.params for c in bot.fake.calls if c.method != "auth.test"])
    assert "for the campaign's organizers" in shown
    assert bot.fake.workspace.files == []


@pytest.mark.parametrize(
    ("action", "logged", "surface"),
    [
        ("admin_new", "create", "views.open"),
        ("admin_edit", "edit", "views.open"),
        ("admin_duplicate", "duplicate", "views.open"),
        ("admin_history", "history", "views.open"),
        ("admin_forget", "forget", "views.open"),
        ("admin_update", "update", "views.open"),
        ("admin_close", "close", "response_url"),
        ("admin_archive", "archive", "response_url"),
        ("admin_letter_md", "letter", "response_url"),
    ],
)
def test_a_refused_click_is_answered_where_it_was_made_and_logged_by_name(
    bot, caplog, action, logged, surface
):
    # One path (handlers/errors.Refusals): a button that opens a form opens the
    # refusal instead; one that acts on the message is answered under it.
    caplog.set_level(logging.WARNING)
    assert bot.slack.click(action, SLUG, user=ALICE.id).status == 200
    [answer] = bot.fake.calls_to(surface)
    assert "for the campaign's organizers" in json.dumps(answer.params)
    assert f"refused an organizer action ({logged}): not an organizer" in caplog.text
    assert ALICE.id not in caplog.text


_TEXT_ONLY = [{"type": "input", "block_id": "text"}]


@pytest.mark.parametrize(
    ("callback_id", "metadata", "shown", "values", "answer"),
    [
        # Found by tests/test_hostile.py: with no choice of kind, the answer named a
        # "kind" block this forged view does not have, which Slack refuses (the
        # driver checks every acknowledgement as Slack would).
        ("admin_update_preview", SLUG, _TEXT_ONLY, {}, "damaged"),
        # A block id that is not a string, and a kind that is a list, raised.
        ("admin_update_preview", SLUG, [{"type": "input", "block_id": ["kind"]}], {}, "damaged"),
        (
            "admin_update_preview",
            SLUG,
            [{"type": "input", "block_id": "kind"}, *_TEXT_ONLY],
            {"kind": {"k": {"type": "static_select", "selected_option": {"value": [1]}}}},
            "errors",
        ),
        ("admin_forget_confirm", json.dumps({"slug": SLUG}), [], {}, "damaged"),
        (
            "sign_submit",
            json.dumps({"slug": SLUG, "from": "message", "mode": "sign"}),
            [],
            {},
            "damaged",
        ),
    ],
)
def test_a_forged_form_without_its_fields_is_answered_as_damaged(
    bot, callback_id, metadata, shown, values, answer
):
    form = {"callback_id": callback_id, "private_metadata": metadata, "blocks": shown}
    acknowledged = response_json(bot.slack.submit(form, values, user=ALICE.id))
    if answer == "errors":
        assert acknowledged["response_action"] == "errors"
        assert set(acknowledged["errors"]) == {"kind"}
        return
    assert acknowledged["response_action"] == "update"
    assert "damaged" in json.dumps(acknowledged["view"])


@pytest.mark.parametrize(
    ("callback_id", "metadata", "values"),
    [
        (
            "admin_update_preview",
            SLUG,
            {
                "kind": {"k": {"type": "static_select", "selected_option": {"value": "news"}}},
                "text": {"t": {"type": "plain_text_input", "value": "Hello"}},
            },
        ),
        ("admin_update_send", json.dumps([SLUG, "news", True]) + "\nHello", {}),
        (
            "admin_forget_confirm",
            json.dumps({"slug": SLUG}),
            {"confirm": {"c": {"type": "plain_text_input", "value": SLUG}}},
        ),
    ],
)
def test_a_forged_organizer_form_is_turned_into_the_refusal(
    bot, caplog, callback_id, metadata, values
):
    caplog.set_level(logging.WARNING)
    form = {"callback_id": callback_id, "private_metadata": metadata}
    answer = response_json(bot.slack.submit(form, values, user=ALICE.id))
    assert answer["response_action"] == "update"
    assert "Organizers only" in json.dumps(answer["view"])
    assert "refused an organizer action" in caplog.text
    assert ALICE.id not in caplog.text


def test_a_forged_save_by_a_worker_is_refused(bot):
    form = {"callback_id": "admin_save", "private_metadata": json.dumps({"mode": "create"})}
    answer = response_json(bot.slack.submit(form, editor_values(**NEW_CAMPAIGN), user=ALICE.id))
    assert "Organizers only" in json.dumps(answer)
    with bot.db.read() as session:
        assert session.scalar(select(Campaign).where(Campaign.slug == "fair-pay")) is None


def test_the_organizer_view_shows_the_hours_counts_in_full_and_drafts(bot):
    for user in ("U0S0000001", "U0S0000002", "U0S0000003"):
        bot.fake.workspace.add_user(FakeUser(user, "s", "Signer"))
        sign(bot, user)
    bot.import_campaign(slug="draft-one", title="Secret draft", status="draft")
    # Not before the hour's refresh: an organizer is no live probe either.
    assert "Signatures: *0*" in view_text({"blocks": panel(bot)["blocks"]})
    next_hour(bot.db)
    answer = panel(bot)
    text = view_text({"blocks": answer["blocks"]})
    assert "Signatures: *3*" in text
    assert "Secret draft" in text
    assert ("admin_open", "draft-one") in buttons(answer["blocks"])
    assert ("admin_close", SLUG) in buttons(answer["blocks"])
    assert ("admin_new", "new") in buttons(answer["blocks"])


# -- create, edit, open, close, reopen --------------------------------------------------


def test_create_a_draft_then_open_it(bot):
    form = open_editor(bot, "admin_new", "new")
    assert form["callback_id"] == "admin_save"
    answer = response_json(bot.slack.submit(form, editor_values(**NEW_CAMPAIGN), user=DANA.id))
    assert "draft" in view_text(answer["view"])
    created = campaign(bot, "fair-pay")
    assert created.status is CampaignStatus.DRAFT
    assert [d.text for d in created.demands] == ["Publish pay bands", "Close the gender gap"]
    assert [m.threshold for m in created.milestones] == [10, 50]
    assert created.channel_id == "C0ANNOUNCE"
    # Workers do not see the draft.
    worker = response_json(bot.slack.command("fair-pay", user=ALICE.id))
    assert "no campaign called `fair-pay`" in worker["text"]
    # The organizer opens it from the panel; the panel is refreshed in place.
    assert bot.slack.click("admin_open", "fair-pay", user=DANA.id).status == 200
    [refresh] = [c.params for c in bot.fake.calls_to("response_url")]
    assert refresh["replace_original"] is True
    assert ("admin_close", "fair-pay") in buttons(refresh["blocks"])
    assert campaign(bot, "fair-pay").status is CampaignStatus.OPEN
    worker = response_json(bot.slack.command("fair-pay", user=ALICE.id))
    assert worker["blocks"][0]["text"]["text"] == "Fair pay now"


def test_edit_close_and_reopen(bot):
    form = open_editor(bot)
    assert "We won't build it" in json.dumps(form)
    values = editor_values(
        title="We will not build it",
        statement="We, the undersigned, ask our employer to stop.",
        demands="Cancel the contract\nPublish the terms\nNo retaliation",
        milestones="100, 250, 400",
        channel="C0ANNOUNCE",
    )
    answer = response_json(bot.slack.submit(form, values, user=DANA.id))
    assert "Changed: title" in view_text(answer["view"])
    assert campaign(bot).title == "We will not build it"
    bot.slack.click("admin_close", SLUG, user=DANA.id)
    assert campaign(bot).status is CampaignStatus.CLOSED
    closed = response_json(bot.slack.command("", user=ALICE.id))
    assert "no longer takes signatures" in json.dumps(closed)
    bot.slack.click("admin_reopen", SLUG, user=DANA.id)
    assert campaign(bot).status is CampaignStatus.OPEN
    with bot.db.read() as session:
        actions = [(e.actor, e.action) for e in session.scalars(select(AuditEntry))]
    assert (DANA.id, "edit") in actions
    assert (DANA.id, "close") in actions
    assert (DANA.id, "reopen") in actions


def test_reopening_after_the_closing_date_clears_the_date(bot):
    bot.pass_closing_date(SLUG, dt.date(2020, 1, 1))
    bot.slack.click("admin_reopen", SLUG, user=DANA.id)
    reopened = campaign(bot)
    assert reopened.status is CampaignStatus.OPEN
    assert reopened.closes_at is None


def test_a_campaign_organizer_manages_only_their_campaign(bot):
    bot.import_campaign(slug="other", title="Other campaign")
    form = open_editor(bot)
    values = editor_values(
        title="We won't build it",
        statement="We, the undersigned, ask our employer to stop.",
        demands="Cancel the contract\nPublish the terms\nNo retaliation",
        milestones="100, 250, 400",
        organizers=[ERIN.id],
    )
    response_json(bot.slack.submit(form, values, user=DANA.id))
    answer = panel(bot, ERIN.id)
    assert [v for _, v in buttons(answer["blocks"])].count(SLUG) >= 1
    assert "other" not in [v for _, v in buttons(answer["blocks"])]
    assert ("admin_new", "new") not in buttons(answer["blocks"])
    bot.slack.click("admin_close", "other", user=ERIN.id)
    assert campaign(bot, "other").status is CampaignStatus.OPEN
    bot.slack.click("admin_close", SLUG, user=ERIN.id)
    assert campaign(bot).status is CampaignStatus.CLOSED


# -- the demand-edit rule -------------------------------------------------------------


def test_signed_demands_cannot_change(bot, database_url, tmp_path):
    sign(bot, ALICE.id)
    form = open_editor(bot)
    blocks = {b.get("block_id") for b in form["blocks"]}
    assert "demand_1" not in blocks
    assert "statement" not in blocks
    assert "locked" in view_text(form)
    # A forged form that still carries demands is refused as well.
    forged = {**form, "blocks": [*form["blocks"], {"type": "input", "block_id": "demand_1"}]}
    values = editor_values(
        title="We won't build it",
        statement="Something else entirely",
        demands="New demand",
        milestones="100",
    )
    answer = response_json(bot.slack.submit(forged, values, user=DANA.id))
    assert answer["response_action"] == "errors"
    assert "can no longer change" in json.dumps(answer["errors"])
    assert next(d.text for d in campaign(bot).demands) == "Cancel the contract"
    # The title may still change.
    response_json(
        bot.slack.submit(form, editor_values(title="New title", milestones="100"), user=DANA.id)
    )
    assert campaign(bot).title == "New title"
    # And the command line follows the same rule.
    path = tmp_path / "c.toml"
    path.write_text(
        'slug = "wewontbuildit"\ntitle = "New title"\nstatement = "Changed"\n'
        'demands = ["x"]\nmilestones = [100]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["DATABASE_URL"] = database_url
    result = subprocess.run(
        [sys.executable, "-m", "bot", "campaign", "import", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "can no longer change" in result.stderr


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("milestones", "3", "expose the first signers"),
        ("milestones", "250, 100", "increasing order"),
        ("milestones", "100, 100", "repeated"),
        ("milestones", "-5", "whole numbers"),
        ("milestones", "ten", "whole numbers"),
        ("demands", "\n  \n", "at least one demand"),
        ("channel", "C0NOTIN001", "/invite @Undersigned"),
        ("channel", "C0UNKNOWN1", "cannot see this channel"),
        ("closes", "2020-01-01", "in the past"),
        ("slug", "Bad Slug!", "lowercase"),
        ("title", "x" * 151, "the most is 150"),
        ("forget_after_days", "soon", "number of days"),
    ],
)
def test_bad_campaign_input_gets_a_clear_answer_and_changes_nothing(bot, field, value, words):
    form = open_editor(bot, "admin_new", "new")
    answer = response_json(
        bot.slack.submit(form, editor_values(**{**NEW_CAMPAIGN, field: value}), user=DANA.id)
    )
    assert answer["response_action"] == "errors", answer
    # The demands' problems are shown under the first demand's field.
    shown_at = "demand_1" if field == "demands" else field
    assert words in answer["errors"][shown_at]
    with bot.db.read() as session:
        assert session.scalar(select(Campaign).where(Campaign.slug == "fair-pay")) is None


def test_an_existing_slug_cannot_be_created_twice(bot):
    form = open_editor(bot, "admin_new", "new")
    answer = response_json(
        bot.slack.submit(form, editor_values(**{**NEW_CAMPAIGN, "slug": SLUG}), user=DANA.id)
    )
    assert "already exists" in answer["errors"]["slug"]


# -- the letter -----------------------------------------------------------------------------

EVIL = "<script>alert('x')</script> **Eve** & <!channel>"


def _sign_some(bot: RunningBot) -> None:
    sign(bot, ALICE.id)  # anonymous
    sign(bot, BOB.id, how="named", name="bob builder")
    for user, name in (
        ("U0NAMED001", EVIL),
        ("U0NAMED002", "Anna Zed"),
        ("U0NAMED003", "anna zed"),
    ):
        bot.fake.workspace.add_user(FakeUser(user, "n", name))
        sign(bot, user, how="named", name=name)


def _cli(database_url: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        DATABASE_URL=database_url, SIGNER_KEY=SIGNER_KEY, KEY_STORE=key_store_for(database_url)
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        **kwargs,
    )


def test_the_letter_in_markdown_and_html(bot, database_url):
    _sign_some(bot)
    md = _cli(database_url, "campaign", "letter", SLUG)
    assert md.returncode == 0, md.stderr
    assert "# We won't build it" in md.stdout
    assert "1. Cancel the contract" in md.stdout
    assert "5 people have signed this letter: 4 with their name, 1 anonymously." in md.stdout
    names = [line for line in md.stdout.splitlines() if line.startswith("- ")]
    # One entry per person (two people named Anna Zed are two), sorted without
    # regard to case.
    assert len(names) == 4
    assert names.index("- Anna Zed") < names.index("- bob builder")
    assert "<script>" not in md.stdout
    assert "**Eve**" not in md.stdout
    assert "Alice" not in md.stdout
    html = _cli(database_url, "campaign", "letter", SLUG, "--format", "html")
    assert html.returncode == 0, html.stderr
    assert html.stdout.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;" in html.stdout
    assert "<script>" not in html.stdout
    assert "@page" in html.stdout
    assert html.stdout.index("Anna Zed") < html.stdout.index("bob builder")


def test_the_letter_from_the_admin_view_arrives_as_a_file_in_a_dm(bot):
    _sign_some(bot)
    assert bot.slack.click("admin_letter_html", SLUG, user=DANA.id).status == 200
    [shared] = bot.fake.workspace.files
    assert shared["filename"] == "wewontbuildit-letter.html"
    assert shared["channel"].startswith("D")
    assert "&lt;script&gt;" in shared["content"]
    assert "5 people have signed" in shared["content"]
    [told] = [c.params for c in bot.fake.calls_to("response_url")]
    assert "direct messages" in told["text"]


# -- forgetting -------------------------------------------------------------------------------


def test_forget_keeps_the_count_and_destroys_the_key_and_every_link(bot, database_url):
    _sign_some(bot)
    refused = _cli(database_url, "campaign", "forget", SLUG, "--yes")
    assert refused.returncode == 2
    assert "close the campaign" in refused.stderr
    letter_before = _cli(database_url, "campaign", "letter", SLUG).stdout
    assert "bob builder" in letter_before
    with bot.db.read() as session:
        key_id = session.scalar(select(Campaign.key_id))
    assert bot.keyring.store.exists(key_id)
    assert _cli(database_url, "campaign", "close", SLUG).returncode == 0
    no_tty = _cli(database_url, "campaign", "forget", SLUG, stdin=subprocess.DEVNULL)
    assert no_tty.returncode == 2
    assert "--yes" in no_tty.stderr
    done = _cli(database_url, "campaign", "forget", SLUG, "--yes")
    assert done.returncode == 0, done.stderr
    assert "5 signatures unlinked" in done.stdout
    listed = json.loads(_cli(database_url, "campaign", "list", "--json").stdout)
    assert listed[0]["signatures"] == 5
    letter_after = _cli(database_url, "campaign", "letter", SLUG).stdout
    assert "5 people have signed this letter; their names were deleted" in letter_after
    assert "- " not in letter_after.split("## Signatures")[1]
    assert not bot.keyring.store.exists(key_id)
    key = bot.settings.require_signer_key()
    with bot.db.read() as session:
        for user in (ALICE.id, BOB.id, "U0NAMED001"):
            known = signer_hash(key, "T0UNDRSGN", user)
            assert not signer_status(session, SLUG, known, bot.keyring).signed
        assert session.scalars(select(Signature)).all() == []
        assert session.scalar(select(Campaign.forgotten_at)) is not None
        assert session.scalar(select(Campaign.key_id)) is None
    # Status in the DM now finds nothing, and the campaign cannot be reopened.
    bot.slack.click("admin_reopen", SLUG, user=DANA.id)
    assert campaign(bot).status is CampaignStatus.CLOSED


def test_forget_from_the_admin_view_needs_the_slug_typed(bot):
    _sign_some(bot)
    bot.slack.click("admin_close", SLUG, user=DANA.id)
    bot.slack.click("admin_forget", SLUG, user=DANA.id)
    confirm = opened_views(bot)[-1]
    assert "for good" in view_text(confirm)
    wrong = {"confirm": {"slug": {"type": "plain_text_input", "value": "nope"}}}
    answer = response_json(bot.slack.submit(confirm, wrong, user=DANA.id))
    assert answer["response_action"] == "errors"
    assert campaign(bot).forgotten_at is None
    right = {"confirm": {"slug": {"type": "plain_text_input", "value": SLUG}}}
    answer = response_json(bot.slack.submit(confirm, right, user=DANA.id))
    assert "can no longer be tied to anyone" in view_text(answer["view"])
    assert campaign(bot).forgotten_at is not None
    assert campaign(bot).signature_count == 5


def test_the_audit_trail_names_organizers_never_signers(bot):
    _sign_some(bot)
    bot.slack.click("admin_close", SLUG, user=DANA.id)
    bot.slack.click("admin_letter_md", SLUG, user=DANA.id)
    bot.slack.click("admin_history", SLUG, user=DANA.id)
    history = opened_views(bot)[-1]
    text = view_text(history)
    assert "Count at the last full hour: *0*" in text
    assert f"<@{DANA.id}> close" in text
    with bot.db.read() as session:
        trail = " ".join(
            f"{e.actor} {e.action} {e.detail}" for e in session.scalars(select(AuditEntry))
        )
    for signer in (ALICE.id, BOB.id, "bob builder", "Anna Zed"):
        assert signer not in trail
        assert signer not in text
