"""Escaping, checked where the text is shown: every Block Kit surface that carries
what an organizer or a worker typed is built with hostile text, and every field
that Slack reads as mrkdwn (block texts, option texts, a message's notification
text, an ephemeral answer) is read as Slack would receive it.

Catches planted bug 2 of issue 23 (`escape()` doing nothing): the only test that
once caught it was the unknown-slug echo in test_demands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markdown_it import MarkdownIt

import blocks
from petition.campaigns import CampaignView
from petition.letter import Letter, render_html, render_markdown
from storage.models import CampaignStatus

UTC = ZoneInfo("UTC")
# Everything Slack's mrkdwn would act on: a broadcast, a mention, a channel link, a
# disguised link, and the ampersand that starts an entity.
HOSTILE = "<!channel> & <@U0EVIL0001> <#C0EVIL0001> <https://evil.example|click here>"
# Written out by hand from Slack's rule (& < > become &amp; &lt; &gt;), not by
# calling the code under test.
ESCAPED = (
    "&lt;!channel&gt; &amp; &lt;@U0EVIL0001&gt; &lt;#C0EVIL0001&gt; "
    "&lt;https://evil.example|click here&gt;"
)
# A slug is echoed clipped to 40 characters: short enough to come back whole.
SLUG = "<!channel> & <@U0EVIL0001>"
SLUG_ESCAPED = "&lt;!channel&gt; &amp; &lt;@U0EVIL0001&gt;"
RAW = ("<!channel>", "<@U0EVIL0001>", "<#C0EVIL0001>", "<https://evil.example", " & ")


def _view(slug: str = "evil", **more: Any) -> CampaignView:
    values: dict[str, Any] = {
        "slug": slug,
        "title": f"Title {HOSTILE}",
        "statement": f"Statement {HOSTILE}",
        "demands": (f"Demand {HOSTILE}", "A plain demand"),
        "signatures": 7,
        "is_open": True,
        "status": CampaignStatus.OPEN,
        "closes_at": None,
        "employer_answer": f"Answer {HOSTILE}",
        "delivered_on": dt.date(2027, 3, 1),
    }
    values.update(more)
    return CampaignView(**values)


def _row(**more: Any) -> blocks.AdminRow:
    values: dict[str, Any] = {
        "slug": "evil",
        "title": f"Title {HOSTILE}",
        "status": "open",
        "is_open": True,
        "count": 7,
        "channel_id": "C0123456789",
        "closes_at": None,
        "forgotten": False,
    }
    values.update(more)
    return blocks.AdminRow(**values)


def _mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every text Slack parses as mrkdwn: {"type": "mrkdwn", "text": ...} objects."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn_texts(item)


def _shown(surface: Any) -> list[str]:
    """What Slack would parse: a message's (notification text, blocks), a view, or
    the text of an ephemeral answer."""
    if isinstance(surface, str):
        return [surface]
    if isinstance(surface, tuple):
        fallback, content = surface
        return [fallback, *_mrkdwn_texts(content)]
    return list(_mrkdwn_texts(surface))


def _status_line(**more: Any) -> blocks.StatusLine:
    return blocks.StatusLine(view=_view(), signed=True, named=False, **more)


SURFACES: dict[str, Callable[[], Any]] = {
    "/demands, one campaign": lambda: blocks.campaign_message(_view(), UTC),
    "/demands, a closed campaign": lambda: blocks.campaign_message(
        _view(is_open=False, status=CampaignStatus.CLOSED), UTC
    ),
    "/demands, the list": lambda: blocks.campaign_list_message([_view(), _view("b")], UTC),
    "the channel card": lambda: blocks.campaign_card(_view(), UTC),
    "the card of a closed campaign": lambda: blocks.campaign_card(
        _view(is_open=False, status=CampaignStatus.CLOSED), UTC
    ),
    "a draft's preview": lambda: blocks.draft_preview_message(
        _view(is_open=False, status=CampaignStatus.DRAFT), UTC
    ),
    "Sign privately's answer": lambda: blocks.signed_message(_view(), False),
    "the sign form": lambda: blocks.sign_modal(_view(), "m", None),
    "the change form": lambda: blocks.sign_modal(_view(), "m", "A Name", changing=True),
    "the signed confirmation": lambda: blocks.signed_modal(
        f"Title {HOSTILE}", True, False, news=True
    ),
    "the withdraw form": lambda: blocks.withdraw_modal(_view(), "m"),
    "the withdrawn confirmation": lambda: blocks.withdrawn_modal(f"Title {HOSTILE}", True),
    "the DM's open-form message": lambda: blocks.open_form_message(_view(), "sign_start"),
    "the DM's chooser": lambda: blocks.choose_campaign_message(
        [_view(), _view("b")], "sign_start", "Which one?"
    ),
    "the DM's status": lambda: blocks.status_message(
        [_status_line(), _status_line(threshold=10)], UTC
    ),
    "the Home tab": lambda: blocks.home_view([_status_line(subscribed=True)], UTC),
    "the closed text": lambda: blocks.closed_text(
        _view(is_open=False, status=CampaignStatus.CLOSED), UTC
    ),
    "the organizer panel": lambda: blocks.admin_panel([_row()], UTC, True),
    "the archive": lambda: blocks.archived_panel(
        [_row(is_open=False, status="closed", archived=True)], UTC
    ),
    # History lines, a notice's text and a not-saved problem arrive escaped (the
    # handler escapes an audit entry's detail): only the title is the surface's own.
    "a campaign's history": lambda: blocks.history_modal(_row(), [], [], UTC),
    "the forget form": lambda: blocks.forget_modal(_row(is_open=False, status="closed"), "m"),
    "a milestone in the channel": lambda: blocks.milestone_announcement(
        f"Title {HOSTILE}", "evil", 5, 7, 10
    ),
    "the final count in the channel": lambda: blocks.final_count_announcement(
        f"Title {HOSTILE}", "evil", 7
    ),
    "a news DM": lambda: blocks.update_message(f"Title {HOSTILE}", "news", f"News {HOSTILE}"),
    "the follow answer": lambda: blocks.followed_text(f"Title {HOSTILE}", True),
    "the news preview": lambda: blocks.update_preview(
        "evil", f"Title {HOSTILE}", "news", f"News {HOSTILE}", True, 3, "m"
    ),
    "the outcome lines": lambda: blocks.outcome_lines(dt.date(2027, 3, 1), f"Answer {HOSTILE}"),
}


def test_escape_known_answers():
    """Planted bug 2 (escape() doing nothing) fails here first."""
    assert blocks.escape(HOSTILE) == ESCAPED
    assert blocks.escape("&amp;") == "&amp;amp;"
    assert blocks.escape("a > b < c") == "a &gt; b &lt; c"
    assert blocks.escape("plain words") == "plain words"


@pytest.mark.parametrize("surface", list(SURFACES))
def test_hostile_campaign_text_is_escaped_on_every_surface(surface: str):
    """Each surface that shows organizer or worker text shows it escaped, in every
    field Slack parses as mrkdwn; catches planted bug 2 (escape() doing nothing)."""
    shown = _shown(SURFACES[surface]())
    assert any(ESCAPED in text for text in shown), f"{surface} never shows the text"
    for text in shown:
        for raw in RAW:
            assert raw not in text, (surface, raw, text)


@pytest.mark.parametrize(
    "answer",
    [
        lambda: blocks.unknown_campaign_message(SLUG, ["evil"]),
        lambda: blocks.unknown_campaign_message(SLUG, []),
        lambda: blocks.not_found_text(SLUG, ["evil"]),
    ],
    ids=["with campaigns", "with none", "as a notice's text"],
)
def test_an_unknown_slug_is_echoed_escaped(answer: Callable[[], Any]):
    """Planted bug 2 (escape() doing nothing): the slug a worker typed comes back."""
    shown = _shown(answer())
    assert any(SLUG_ESCAPED in text for text in shown)
    assert all("<!channel>" not in text and "<@U0EVIL0001>" not in text for text in shown)


def test_a_hostile_name_is_escaped_where_it_is_shown():
    """A signer's name reaches Slack only as the change form's prefilled input
    (plain text, which Slack never parses) and never in mrkdwn; the letter shows it
    escaped for Markdown and for HTML, so that it renders as the name it is."""
    name = "<script>x</script> *Bold* [link](https://evil.example) & <!channel>"
    form = blocks.sign_modal(_view(), "m", name, changing=True)
    assert name in _initial_values(form)
    assert all(name not in text for text in _mrkdwn_texts(form))
    letter = Letter(
        slug="evil",
        title=f"Title {HOSTILE}",
        statement="We ask.",
        demands=("One",),
        count=3,
        date=dt.date(2027, 3, 1),
        names=(name,),
    )
    html = render_html(letter)
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt; *Bold* [link](https://evil.example) &amp; " in html
    markdown = render_markdown(letter)
    assert "- &lt;script" not in markdown, "Markdown escapes with backslashes, not entities"
    # Only what CommonMark would act on is escaped (an "&" that starts no entity and a
    # "!" before no "[" are left alone), and the line reads back as the name.
    assert r"- \<script\>x\</script\> \*Bold\* \[link\](https://evil.example) & \<!channel\>" in (
        markdown
    )
    lines = [
        "".join(c.content for c in t.children or [] if c.type == "text")
        for t in MarkdownIt("commonmark").parse(markdown)
        if t.type == "inline"
    ]
    assert name in lines


def _initial_values(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["initial_value"]] if isinstance(node.get("initial_value"), str) else []
        return found + [v for value in node.values() for v in _initial_values(value)]
    if isinstance(node, list):
        return [v for item in node for v in _initial_values(item)]
    return []
