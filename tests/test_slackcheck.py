"""Slack's documented limits, written down here from Slack's pages and not read from
blocks/limits.py, and the strict check (console/slackcheck.py, behind the fake Slack)
refusing exactly one past each: a limit changed in one place, for the app and the
fake together, is caught here.

Catches planted bug 6 of issue 23 (a section's text limit of 30,000 instead of
3,000), which once passed because the fake accepted anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import blocks
from blocks import limits
from console.slackcheck import Refused, check_message, check_view, message_problems, view_problems
from petition.campaigns import CampaignView
from storage.models import CampaignStatus

# Each figure as Slack's developer docs state it (the page is named beside it).
DOCUMENTED = {
    "MESSAGE_BLOCKS": 50,  # reference/block-kit/blocks
    "VIEW_BLOCKS": 100,  # reference/block-kit/blocks
    "VIEW_TITLE": 24,  # reference/views/modal-views
    "VIEW_BUTTON": 24,
    "PRIVATE_METADATA": 3000,
    "CALLBACK_ID": 255,
    "VIEW_BYTES": 250_000,  # reference/methods/views.open: view_too_large
    "TEXT_OBJECT": 3000,  # composition-objects/text-object
    "OPTION_TEXT": 75,  # composition-objects/option-object
    "OPTION_VALUE": 150,
    "OPTION_DESCRIPTION": 75,
    "CONFIRM_TITLE": 100,  # composition-objects/confirmation-dialog-object
    "CONFIRM_TEXT": 300,
    "CONFIRM_BUTTON": 30,
    "BLOCK_ID": 255,
    "SECTION_TEXT": 3000,  # blocks/section-block
    "SECTION_FIELDS": 10,
    "SECTION_FIELD_TEXT": 2000,
    "HEADER_TEXT": 150,  # blocks/header-block
    "CONTEXT_ELEMENTS": 10,  # blocks/context-block
    "ACTIONS_ELEMENTS": 25,  # blocks/actions-block
    "INPUT_LABEL": 2000,  # blocks/input-block
    "INPUT_HINT": 2000,
    "ACTION_ID": 255,
    "BUTTON_TEXT": 75,  # block-elements/button-element
    "BUTTON_VALUE": 2000,
    "BUTTON_URL": 3000,
    "PLACEHOLDER": 150,
    "SELECT_OPTIONS": 100,
    "RADIO_OPTIONS": 10,
    "CHECKBOX_OPTIONS": 10,
    "TEXT_INPUT_LENGTH": 3000,  # block-elements/plain-text-input-element
    "MESSAGE_TEXT": 40_000,  # reference/methods/chat.postMessage
}


def test_slacks_documented_limits_are_the_ones_checked():
    """Planted bug 6 (SECTION_TEXT = 30,000) fails here by name."""
    assert {name: getattr(limits, name) for name in DOCUMENTED} == DOCUMENTED


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _button(n: int, text: str = "Go", value: str = "v") -> dict[str, Any]:
    return {"type": "button", "text": _plain(text), "action_id": f"a{n}", "value": value}


def _message(*content: dict[str, Any]) -> dict[str, Any]:
    return {"text": "fallback", "blocks": list(content)}


def _modal(*content: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "modal", "title": _plain("Title"), "blocks": list(content), **more}


def _radio(options: int, text: str = "x", value: str | None = None) -> dict[str, Any]:
    element = {
        "type": "radio_buttons",
        "action_id": "choice",
        "options": [
            {"text": _plain(text), "value": value if value and i == 0 else f"v{i}"}
            for i in range(options)
        ],
    }
    return {"type": "input", "label": _plain("How"), "element": element}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


# (what, surface, builder of the payload at size n, the largest n Slack takes)
Case = tuple[str, str, Callable[[int], dict[str, Any]], int]
CASES: list[Case] = [
    ("section text", "message", lambda n: _message(_section("x" * n)), 3000),
    (
        "header text",
        "message",
        lambda n: _message({"type": "header", "text": _plain("x" * n)}),
        150,
    ),
    ("blocks in a message", "message", lambda n: _message(*[{"type": "divider"}] * n), 50),
    ("blocks in a modal", "view", lambda n: _modal(*[{"type": "divider"}] * n), 100),
    (
        "blocks in the Home tab",
        "view",
        lambda n: {"type": "home", "blocks": [{"type": "divider"}] * n},
        100,
    ),
    (
        "context elements",
        "message",
        lambda n: _message({"type": "context", "elements": [_mrkdwn("x")] * n}),
        10,
    ),
    (
        "actions elements",
        "message",
        lambda n: _message({"type": "actions", "elements": [_button(i) for i in range(n)]}),
        25,
    ),
    (
        "button text",
        "message",
        lambda n: _message({"type": "actions", "elements": [_button(0, text="x" * n)]}),
        75,
    ),
    (
        "button value",
        "message",
        lambda n: _message({"type": "actions", "elements": [_button(0, value="x" * n)]}),
        2000,
    ),
    (
        "section fields",
        "message",
        lambda n: _message({"type": "section", "fields": [_mrkdwn("x")] * n}),
        10,
    ),
    (
        "section field text",
        "message",
        lambda n: _message({"type": "section", "fields": [_mrkdwn("x" * n)]}),
        2000,
    ),
    ("block_id", "message", lambda n: _message({"type": "divider", "block_id": "b" * n}), 255),
    (
        "modal title",
        "view",
        lambda n: {**_modal({"type": "divider"}), "title": _plain("x" * n)},
        24,
    ),
    (
        "private_metadata",
        "view",
        lambda n: _modal({"type": "divider"}, private_metadata="x" * n),
        3000,
    ),
    ("radio options", "view", lambda n: _modal(_radio(n), submit=_plain("Save")), 10),
    ("option text", "view", lambda n: _modal(_radio(2, text="x" * n), submit=_plain("Save")), 75),
    (
        "option value",
        "view",
        lambda n: _modal(_radio(2, value="x" * n), submit=_plain("Save")),
        150,
    ),
    (
        "input label",
        "view",
        lambda n: _modal(
            {
                "type": "input",
                "label": _plain("x" * n),
                "element": {"type": "plain_text_input", "action_id": "t"},
            },
            submit=_plain("Save"),
        ),
        2000,
    ),
]


def _problems(surface: str, payload: dict[str, Any]) -> list[str]:
    return message_problems(payload) if surface == "message" else view_problems(payload)


@pytest.mark.parametrize(("what", "surface", "build", "most"), CASES, ids=[c[0] for c in CASES])
def test_every_limit_at_its_maximum_and_one_past_it(
    what: str, surface: str, build: Callable[[int], dict[str, Any]], most: int
):
    """Taken at the maximum, refused one past it. (A section's text is also held to
    a text object's 3,000, so planted bug 6 alone does not open this check: the
    test below catches it where the app splits text.)"""
    assert _problems(surface, build(most)) == []
    assert _problems(surface, build(most + 1)) != [], f"{what} past {most} was taken"


def test_a_view_of_250_kb_is_taken_and_one_byte_more_is_too_large():
    def view(size: int) -> dict[str, Any]:
        # Sections of at most 3,000 characters, trimmed from the end until the
        # view's JSON is exactly `size` bytes: only its size can be refused.
        lengths = [3000] * 100
        while True:
            sized = _modal(*(_section("x" * n) for n in lengths))
            over = len(_json_bytes(sized)) - size
            if over == 0:
                return sized
            last = max(i for i, n in enumerate(lengths) if n > 1)
            lengths[last] -= min(over, lengths[last] - 1)

    at_most = view(250_000)
    assert len(_json_bytes(at_most)) == 250_000
    check_view(at_most)
    with pytest.raises(Refused) as refused:
        check_view(view(250_001))
    assert refused.value.error == "view_too_large"


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def test_long_campaign_text_is_split_within_a_sections_limit():
    """Planted bug 6 through the app: blocks/kit.py splits long text at the section
    limit, so a wrong limit makes sections Slack refuses."""
    view = CampaignView(
        slug="long",
        title="Long",
        statement=("word " * 2000).strip(),
        demands=("A demand",),
        signatures=0,
        is_open=True,
        status=CampaignStatus.OPEN,
        closes_at=dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
    )
    fallback, content = blocks.campaign_message(view, ZoneInfo("UTC"))
    texts = [b["text"]["text"] for b in content if b["type"] == "section"]
    assert len("".join(texts)) >= 9999, "the statement is shown whole"
    assert max(len(text) for text in texts) <= 3000
    assert len(texts) >= 4
    check_message({"text": fallback, "blocks": content})
