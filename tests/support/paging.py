"""Walking the pages of a paged surface."""

from __future__ import annotations

import re
from typing import Any

import blocks
from tests.support.running import RunningBot
from tests.support.scheduling import wait_for


def page_button(content: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The "next page" button of a paged list, if there is one."""
    for block in content:
        for element in block.get("elements", []):
            if element.get("type") != "button" or element["action_id"] != blocks.PAGE_ACTION:
                continue
            if element["text"]["text"].startswith("Next"):
                return element
    return None


SLUG_PATTERN = r"campaign-\d{3}"


def slugs_in(content: list[dict[str, Any]], pattern: str = SLUG_PATTERN) -> list[str]:
    """The campaigns a page has buttons for, in order (each once, however many)."""
    values = [
        element.get("value", "")
        for block in content
        for element in [*block.get("elements", []), block.get("accessory") or {}]
    ]
    return list(dict.fromkeys(v for v in values if re.fullmatch(pattern, v)))


def walk_pages(
    bot: RunningBot, first: list[dict[str, Any]], user: str, pattern: str = SLUG_PATTERN
) -> list[str]:
    """Every campaign a person reaches by clicking "Next" from the first page, via
    the response URL the click carried (a message replaced in place)."""
    seen = slugs_in(first, pattern)
    content = first
    while (button := page_button(content)) is not None:
        before = len(bot.fake.calls_to("response_url"))
        assert bot.slack.click(blocks.PAGE_ACTION, button["value"], user=user).status == 200
        # The page follows the acknowledgement (handlers/intime.py): under load it can
        # arrive after the click's own response.
        assert wait_for(lambda seen=before: len(bot.fake.calls_to("response_url")) > seen)
        [posted] = bot.fake.calls_to("response_url")[before:]
        assert posted.params.get("replace_original") in (True, "true")
        content = posted.params["blocks"]
        seen += slugs_in(content, pattern)
    return seen
