"""Real Slack accepts what the app sends, at any size the product allows.

One test per defect found against Slack's documented limits (blocks/limits.py);
each failed on the code before its fix, refused by the strict fake Slack (or, for
the escaping defects, which Slack accepts, showing the text that was lost or the
ping that got through). The running bot's fixture also checks, after every test,
that the fake refused nothing (tests/conftest.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import blocks
from console.workspace import TEAM_ID, FakeChannel, FakeUser
from petition.signatures import add_signature, signer_hash
from storage.models import DEMAND_MAX, STATEMENT_MAX, TITLE_MAX
from tests.support.conditional import sign_as
from tests.support.news import news_posts, wait_until
from tests.support.organizers import DANA, editor_values
from tests.support.paging import page_button, slugs_in, walk_pages
from tests.support.running import ALICE, RunningBot, response_json
from tests.support.signing import SLUG, ephemerals_to, open_sign_form, opened_views, view_text

HOSTILE = "<!channel> & <@U0ALICE001> <b>"


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.fake.workspace.add_user(DANA)
    running_bot.fake.workspace.add_channel(FakeChannel("C0ANNOUNCE", "announcements"))
    return running_bot


def many(bot: RunningBot, n: int, **fields: Any) -> list[str]:
    slugs = [f"campaign-{i:03d}" for i in range(n)]
    for i, slug in enumerate(slugs):
        bot.import_campaign(slug=slug, title=f"Campaign {i:03d}", **fields)
    return slugs


def sign_all(bot: RunningBot, slugs: list[str], user: str = ALICE.id) -> None:
    key = bot.settings.require_signer_key()
    keyring = bot.keyring
    with bot.db.write() as session:
        for slug in slugs:
            add_signature(session, slug, signer_hash(key, TEAM_ID, user), keyring=keyring)


# -- "Nobody could sign": option descriptions of 112 and 150 characters ------------------


def test_the_signing_form_and_the_change_form_are_accepted(bot):
    bot.import_campaign()
    form = open_sign_form(bot)
    assert bot.fake.refusals == []
    # The notices that did not fit an option's description are in the form still.
    text = json.dumps(form)
    assert "export them on some plans" in text
    assert "then your name joins theirs" in text
    response_json(
        bot.slack.submit(form, {"how": {"choice": {"selected_option": {"value": "anonymous"}}}})
    )
    assert bot.slack.click("sign_change", SLUG).status == 200
    assert opened_views(bot)[-1]["callback_id"] == "sign_submit"
    assert bot.fake.refusals == []


# -- Lists past 50 blocks (messages) or 100 (views) -----------------------------------------


def test_the_organizer_panel_pages_through_a_hundred_campaigns(bot):
    slugs = many(bot, 100)
    answer = response_json(bot.slack.command("admin", user=DANA.id))
    assert len(answer["blocks"]) <= 50
    assert "of 100" in json.dumps(answer["blocks"])
    assert walk_pages(bot, answer["blocks"], DANA.id) == slugs


def test_status_in_the_dm_pages_through_every_signed_campaign(bot):
    slugs = many(bot, 60)
    sign_all(bot, slugs)
    assert bot.slack.dm("status").status == 200
    assert bot.fake.refusals == []
    [answer] = ephemerals_to(bot, ALICE.id)
    assert "of 60" in json.dumps(answer["blocks"])
    assert walk_pages(bot, answer["blocks"], ALICE.id) == slugs


def test_the_home_tab_pages_through_a_hundred_open_campaigns(bot):
    slugs = many(bot, 100)
    assert bot.slack.open_home().status == 200
    assert bot.fake.refusals == []
    [published] = bot.fake.calls_to("views.publish")
    seen = slugs_in(published.params["view"]["blocks"])
    home = published.params["view"]
    while (button := page_button(home["blocks"])) is not None:
        before = len(bot.fake.calls_to("views.publish"))
        container = {"type": "view", "view_id": "V0HOME"}
        clicked = bot.slack.click(
            blocks.PAGE_ACTION, button["value"], container=container, view=home, response_url=None
        )
        assert clicked.status == 200
        [again] = bot.fake.calls_to("views.publish")[before:]
        home = again.params["view"]
        seen += slugs_in(home["blocks"])
    assert seen == slugs


def test_the_demands_list_pages_through_a_hundred_open_campaigns(bot):
    slugs = many(bot, 100)
    answer = response_json(bot.slack.command(""))
    assert "of 100" in json.dumps(answer["blocks"])
    assert walk_pages(bot, answer["blocks"], ALICE.id) == slugs


@pytest.mark.parametrize("verb", ["sign", "withdraw"])
def test_the_dm_chooser_pages_through_a_hundred_campaigns(bot, verb):
    slugs = many(bot, 100)
    if verb == "withdraw":
        sign_all(bot, slugs)
    assert bot.slack.dm(verb).status == 200
    assert bot.fake.refusals == []
    [answer] = ephemerals_to(bot, ALICE.id)
    assert "of 100" in json.dumps(answer["blocks"])
    assert walk_pages(bot, answer["blocks"], ALICE.id) == slugs


def test_an_unknown_slug_among_a_hundred_campaigns_says_how_to_find_them(bot):
    many(bot, 100)
    answer = response_json(bot.slack.command("nosuchthing"))
    text = json.dumps(answer)
    assert "100 campaigns" in text
    assert "`/demands`" in text


# -- The editor: 20 demands of 1000 characters ------------------------------------------------


def test_the_editor_holds_twenty_demands_of_the_longest_length(bot):
    demands = [f"{i:02d} " + "d" * (DEMAND_MAX - 3) for i in range(20)]
    bot.import_campaign(
        title="T" * TITLE_MAX, statement="S" * STATEMENT_MAX, demands=demands, milestones=[]
    )
    assert bot.slack.click("admin_edit", SLUG, user=DANA.id).status == 200
    assert bot.fake.refusals == []
    form = opened_views(bot)[-1]
    assert form["callback_id"] == "admin_save"
    # Saved as shown, nothing changes.
    fields = {
        b["block_id"]: b["element"].get("initial_value")
        for b in form["blocks"]
        if b["type"] == "input"
    }
    shown = [fields[f"demand_{n}"] for n in range(1, 21)]
    assert shown == demands
    values = editor_values(
        title="T" * TITLE_MAX, statement="S" * STATEMENT_MAX, demands=demands, channel="C0ANNOUNCE"
    )
    answer = response_json(bot.slack.submit(form, values, user=DANA.id))
    assert "Nothing changed" in view_text(answer["view"])


# -- Escaping before any length is decided; never cutting an entity ---------------------------

ENTITY_CUT = re.compile(r"&(a|am|amp|l|lt|g|gt)?(…|$)")


def texts_of(content: Any) -> list[str]:
    found: list[str] = []
    if isinstance(content, dict):
        if isinstance(content.get("text"), str) and content.get("type") == "mrkdwn":
            found.append(content["text"])
        for value in content.values():
            found += texts_of(value)
    elif isinstance(content, list):
        for value in content:
            found += texts_of(value)
    return found


def test_a_statement_of_ampersands_is_shown_whole_and_no_entity_is_cut(bot):
    statement = "&" * STATEMENT_MAX
    bot.import_campaign(statement=statement, demands=["<" * DEMAND_MAX] * 20)
    answer = response_json(bot.slack.command(""))
    shown = "".join(texts_of(answer["blocks"]))
    assert shown.count("&amp;") == STATEMENT_MAX
    assert shown.count("&lt;") == DEMAND_MAX * 20
    for text in texts_of(answer["blocks"]):
        assert not ENTITY_CUT.search(text), text[-20:]
    form = open_sign_form(bot)
    shown = "".join(texts_of(form["blocks"]))
    assert shown.count("&amp;") == STATEMENT_MAX


def test_titles_in_notification_text_are_escaped(bot):
    bot.import_campaign(title=HOSTILE)
    assert bot.slack.dm(f"sign {SLUG}").status == 200
    [prompt] = ephemerals_to(bot, ALICE.id)
    assert "<!channel>" not in prompt["text"]
    assert "<@U0ALICE001>" not in prompt["text"]
    # News to a subscriber: a DM whose notification shows the title.
    sign_as(bot, ALICE.id, how="anonymous", news=True)
    assert bot.slack.click("admin_update", SLUG, user=DANA.id).status == 200
    form = opened_views(bot)[-1]
    values = {
        "kind": {"kind": {"type": "static_select", "selected_option": {"value": "news"}}},
        "text": {"text": {"type": "plain_text_input", "value": "Hello"}},
        "send": {"send": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}},
    }
    preview = response_json(bot.slack.submit(form, values, user=DANA.id))
    response_json(bot.slack.submit(preview["view"], {}, user=DANA.id))
    wait_until(lambda: news_posts(bot))
    [news] = news_posts(bot)
    assert "<!channel>" not in news["text"]
    assert "&lt;!channel&gt;" in news["text"]


# -- the strict fake itself ----------------------------------------------------------------


def test_a_guest_refusal_and_every_notice_fit(bot):
    bot.import_campaign(title="T" * TITLE_MAX)
    guest = FakeUser("U0GUEST001", "guest", "Guest", is_restricted=True)
    bot.fake.workspace.add_user(guest)
    assert bot.slack.click("sign_start", SLUG, user=guest.id).status == 200
    assert "Only full members" in view_text(opened_views(bot)[-1])
    assert bot.fake.refusals == []


# -- archiving: closed and forgotten campaigns out of the organizer panel ------------------


def test_closed_campaigns_can_be_archived_out_of_the_panel_and_back(bot):
    slugs = many(bot, 3)
    assert bot.slack.click("admin_close", slugs[1], user=DANA.id).status == 200
    answer = response_json(bot.slack.command("admin", user=DANA.id))
    archive = [
        e
        for b in answer["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == blocks.ADMIN_ARCHIVE
    ]
    # Only the closed one offers it: an open campaign is never out of sight.
    assert [e["value"] for e in archive] == [slugs[1]]
    before = len(bot.fake.calls_to("response_url"))
    assert bot.slack.click(blocks.ADMIN_ARCHIVE, slugs[1], user=DANA.id).status == 200
    [refreshed] = bot.fake.calls_to("response_url")[before:]
    assert slugs_in(refreshed.params["blocks"]) == [slugs[0], slugs[2]]
    assert "Archived campaigns (1)" in json.dumps(refreshed.params["blocks"])
    # Reached with its button, and brought back from there.
    archived = walk_archived(bot)
    assert slugs_in(archived) == [slugs[1]]
    assert bot.slack.click(blocks.ADMIN_UNARCHIVE, slugs[1], user=DANA.id).status == 200
    assert slugs_in(response_json(bot.slack.command("admin", user=DANA.id))["blocks"]) == slugs
    # Workers still read it, and nobody else may archive.
    assert "Campaign 001" in json.dumps(response_json(bot.slack.command(slugs[1])))
    assert bot.slack.click(blocks.ADMIN_ARCHIVE, slugs[1], user=ALICE.id).status == 200
    assert slugs_in(response_json(bot.slack.command("admin", user=DANA.id))["blocks"]) == slugs


def test_an_open_campaign_cannot_be_archived(bot):
    [slug] = many(bot, 1)
    before = len(bot.fake.calls_to("response_url"))
    assert bot.slack.click(blocks.ADMIN_ARCHIVE, slug, user=DANA.id).status == 200
    [said] = bot.fake.calls_to("response_url")[before:]
    assert "only a closed or forgotten campaign" in said.params["text"]


def walk_archived(bot: RunningBot) -> list[dict[str, Any]]:
    before = len(bot.fake.calls_to("response_url"))
    value = blocks.page_value("archived", 0)
    assert bot.slack.click(blocks.PAGE_ACTION, value, user=DANA.id).status == 200
    [shown] = bot.fake.calls_to("response_url")[before:]
    return shown.params["blocks"]
