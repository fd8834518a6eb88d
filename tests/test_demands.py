"""`/demands` end to end: signed requests into the running app, answers checked as
Slack would receive them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from petition.signatures import add_signature, signer_hash
from storage.models import Signature
from tests.support.counts import next_hour
from tests.support.running import RunningBot, response_json


def _texts(blocks: list[dict]) -> str:
    """Every piece of text in a list of blocks, in order."""
    out: list[str] = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), dict):
                out.append(element["text"]["text"])
            elif isinstance(element.get("text"), str):
                out.append(element["text"])
        if "accessory" in block:
            out.append(block["accessory"]["text"]["text"])
    return "\n".join(out)


def _buttons(blocks: list[dict]) -> list[dict]:
    found = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    found += [b["accessory"] for b in blocks if "accessory" in b]
    return found


def _add_signatures(bot: RunningBot, slug: str, count: int) -> None:
    key = bot.settings.require_signer_key()
    with bot.db.write() as session:
        start = session.scalar(select(func.count()).select_from(Signature))
        for i in range(start, start + count):
            add_signature(
                session, slug, signer_hash(key, "T0UNDRSGN", f"U{i:09d}"), keyring=bot.keyring
            )
    # What Slack shows moves on the hour (petition/counts.py).
    next_hour(bot.db)


def test_one_campaign_is_shown_ephemerally_with_everything_a_worker_needs(running_bot):
    running_bot.import_campaign(closes=dt.date(2099, 3, 1))
    answer = response_json(running_bot.slack.command(""))
    assert answer["response_type"] == "ephemeral"
    blocks = answer["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "We won't build it", "emoji": True},
    }
    text = _texts(blocks)
    assert "We, the undersigned, ask our employer to stop." in text
    assert "*1.* Cancel the contract" in text
    assert "*2.* Publish the terms" in text
    assert "*3.* No retaliation" in text
    assert "Signed so far: *fewer than 5*" in text
    # The closing date is the last day to sign; each reader sees it in their own
    # time zone (Slack's <!date>), the campaign's is the fallback.
    assert "Open, until <!date^4076092740^{date_long_pretty} at {time}|" in text
    assert "|Sunday 1 March 2099 at 23:59 (Europe/London)>" in text
    quick, form, news = _buttons(blocks)
    # Sign privately (anonymous, after Slack's confirmation), the form, news.
    assert (quick["action_id"], quick["value"]) == ("sign_quick", "wewontbuildit")
    assert quick["confirm"]["confirm"]["text"] == "Sign anonymously"
    assert (form["action_id"], form["value"]) == ("sign_start", "wewontbuildit")
    assert (news["action_id"], news["value"]) == ("news_follow", "wewontbuildit")
    assert "We won't build it" in answer["text"]
    # The answer is the acknowledgement itself: no message was posted anywhere.
    assert running_bot.fake.calls_to("chat.postMessage") == []
    assert running_bot.fake.calls_to("chat.postEphemeral") == []


def test_counts_below_five_are_hidden_and_exact_from_five(running_bot):
    running_bot.import_campaign()
    _add_signatures(running_bot, "wewontbuildit", 4)
    assert "*fewer than 5*" in _texts(response_json(running_bot.slack.command(""))["blocks"])
    _add_signatures(running_bot, "wewontbuildit", 996)
    assert "Signed so far: *1,000*" in _texts(
        response_json(running_bot.slack.command(""))["blocks"]
    )


def test_several_open_campaigns_give_a_list_to_pick_from(running_bot):
    running_bot.import_campaign()
    running_bot.import_campaign(slug="fair-pay", title="Fair pay now")
    answer = response_json(running_bot.slack.command(""))
    text = _texts(answer["blocks"])
    assert "We won't build it" in text
    assert "Fair pay now" in text
    buttons = _buttons(answer["blocks"])
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("campaign_show", "wewontbuildit"),
        ("campaign_show", "fair-pay"),
    ]
    assert "`/demands wewontbuildit`" in text


def test_a_slug_picks_one_campaign_among_several(running_bot):
    running_bot.import_campaign()
    running_bot.import_campaign(slug="fair-pay", title="Fair pay now", demands=["Raise pay"])
    answer = response_json(running_bot.slack.command("fair-pay"))
    assert answer["blocks"][0]["text"]["text"] == "Fair pay now"
    assert "*1.* Raise pay" in _texts(answer["blocks"])
    # Slugs are matched without regard to case or surrounding space.
    again = response_json(running_bot.slack.command("  FAIR-PAY "))
    assert again["blocks"][0]["text"]["text"] == "Fair pay now"


def test_picking_from_the_list_replaces_it_with_the_campaign(running_bot):
    running_bot.import_campaign()
    running_bot.import_campaign(slug="fair-pay", title="Fair pay now")
    result = running_bot.slack.click("campaign_show", "fair-pay")
    assert result.status == 200
    [call] = running_bot.fake.calls_to("response_url")
    assert call.params["replace_original"] is True
    assert call.params["blocks"][0]["text"]["text"] == "Fair pay now"


def test_an_unknown_slug_names_the_campaigns_that_exist(running_bot):
    running_bot.import_campaign()
    running_bot.import_campaign(slug="fair-pay", title="Fair pay now")
    answer = response_json(running_bot.slack.command("nope"))
    assert answer["response_type"] == "ephemeral"
    assert "no campaign called `nope`" in answer["text"]
    assert "`wewontbuildit`" in answer["text"]
    assert "`fair-pay`" in answer["text"]


def test_an_unknown_slug_is_escaped_when_echoed(running_bot):
    running_bot.import_campaign()
    answer = response_json(running_bot.slack.command("<!channel>"))
    assert "<!channel>" not in answer["text"]
    assert "&lt;!channel&gt;" in answer["text"]


def test_no_campaign_yet_says_so(running_bot):
    answer = response_json(running_bot.slack.command(""))
    assert "No campaign has been published yet" in answer["text"]


def test_drafts_are_invisible_to_workers(running_bot):
    running_bot.import_campaign(status="draft")
    assert (
        "No campaign has been published yet" in response_json(running_bot.slack.command(""))["text"]
    )
    answer = response_json(running_bot.slack.command("wewontbuildit"))
    assert "no campaign called" in answer["text"]


def test_a_campaign_past_its_closing_date_is_shown_closed_without_a_sign_button(running_bot):
    running_bot.import_campaign()
    running_bot.pass_closing_date("wewontbuildit", dt.date(2020, 1, 6))
    answer = response_json(running_bot.slack.command(""))
    text = _texts(answer["blocks"])
    assert "Closed since <!date^" in text
    assert "|Monday 6 January 2020 at 00:00 (Europe/London)>" in text
    assert "no longer takes signatures" in text
    assert _buttons(answer["blocks"]) == []


def test_open_campaigns_come_before_closed_ones(running_bot):
    running_bot.import_campaign(status="closed")
    running_bot.import_campaign(slug="fair-pay", title="Fair pay now")
    answer = response_json(running_bot.slack.command(""))
    # Only one open campaign: it is shown directly, the closed one stays reachable by slug.
    assert answer["blocks"][0]["text"]["text"] == "Fair pay now"
    closed = response_json(running_bot.slack.command("wewontbuildit"))
    assert "Closed" in _texts(closed["blocks"])


def test_campaign_text_is_escaped_so_it_cannot_ping_anyone(running_bot):
    running_bot.import_campaign(
        title="<!channel> title",
        statement="Statement <!here> & <@U0ALICE001> <https://evil.example|click>",
        demands=["<!everyone> demand"],
    )
    answer = response_json(running_bot.slack.command(""))
    text = _texts(answer["blocks"][1:])
    for raw in ("<!here>", "<@U0ALICE001>", "<!everyone>", "<https://"):
        assert raw not in text
    assert "&lt;!here&gt; &amp; &lt;@U0ALICE001&gt;" in text
    assert "&lt;!everyone&gt; demand" in text
    # The header is plain_text, which Slack never parses for mentions.
    assert answer["blocks"][0]["text"]["type"] == "plain_text"


def test_help_explains_the_command(running_bot):
    answer = response_json(running_bot.slack.command("help"))
    assert "`/demands SLUG`" in answer["text"]


def test_oversized_text_gets_help_not_an_error(running_bot):
    running_bot.import_campaign()
    answer = response_json(running_bot.slack.command("x" * 5000))
    assert "`/demands SLUG`" in answer["text"]
