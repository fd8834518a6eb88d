"""Slack's documented limits: what real Slack refuses, in one place.

Each figure names the page of Slack's developer docs it comes from. Two readers use
it: the blocks package sizes every surface to fit (pages, splits, shortens), and
console/slackcheck.py (behind console/server.py) refuses what goes past, as Slack does.
A figure changed here changes both, so the tests keep checking what the app sends
against the same rule the app was built to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOCS = "https://docs.slack.dev"

# -- surfaces ------------------------------------------------------------------------
# Block Kit reference, "Blocks": "You can include up to 50 blocks in each message,
# and 100 blocks in modals or Home tabs."  (DOCS/reference/block-kit/blocks)
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100

# View object reference (DOCS/reference/views/modal-views):
# title, submit and close are plain_text, at most 24 characters; submit is required
# when the view holds an input block; private_metadata at most 3000 characters;
# callback_id at most 255.
VIEW_TITLE = 24
VIEW_BUTTON = 24  # submit and close
PRIVATE_METADATA = 3000
CALLBACK_ID = 255
EXTERNAL_ID = 255
# views.open, views.update, views.push, views.publish (DOCS/reference/methods/views.open):
# error view_too_large "if the provided view is greater than 250kb".
VIEW_BYTES = 250 * 1000

# -- composition objects (DOCS/reference/block-kit/composition-objects) -----------------
# Text object: "The minimum length is 1 and maximum length is 3000 characters."
TEXT_OBJECT = 3000
# Option object (.../composition-objects/option-object): text 75 (plain_text in
# selects; radio buttons and checkboxes may use mrkdwn), value 150, description 75.
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTION_DESCRIPTION = 75
# Confirmation dialog object (.../confirmation-dialog-object): title 100, text 300,
# confirm and deny 30, each plain_text.
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30

# -- blocks (DOCS/reference/block-kit/blocks/...) ---------------------------------------
BLOCK_ID = 255  # every block: "Maximum length for this field is 255 characters."
# Section block: text 3000; fields at most 10, each 2000.
SECTION_TEXT = 3000
SECTION_FIELDS = 10
SECTION_FIELD_TEXT = 2000
# Header block: plain_text only, 150 characters.
HEADER_TEXT = 150
# Context block: at most 10 elements.
CONTEXT_ELEMENTS = 10
# Actions block: at most 25 elements.
ACTIONS_ELEMENTS = 25
# Input block: label and hint plain_text, 2000 each.
INPUT_LABEL = 2000
INPUT_HINT = 2000

# -- block elements (DOCS/reference/block-kit/block-elements/...) -----------------------
ACTION_ID = 255  # "Should be unique among all other action_ids in the containing block."
# Button element: text plain_text 75; value 2000; url 3000.
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTON_URL = 3000
# Placeholders of inputs and menus: plain_text, 150.
PLACEHOLDER = 150
# Select menu element (static): at most 100 options or option groups.
SELECT_OPTIONS = 100
# Radio button group element and checkboxes element: at most 10 options.
RADIO_OPTIONS = 10
CHECKBOX_OPTIONS = 10
# Overflow menu element: 1 to 5 options.
OVERFLOW_OPTIONS = 5
# Plain-text input element: min_length 0 to 3000, max_length 1 to 3000; Slack
# refuses an initial_value longer than max_length.
TEXT_INPUT_LENGTH = 3000

# -- messages (DOCS/reference/methods/chat.postMessage) ---------------------------------
# Top-level `text`, which is also the notification: truncated past 40,000.
MESSAGE_TEXT = 40_000


# -- rate limits (DOCS/apis/web-api/rate-limits) ---------------------------------------
# Applied "per API method per workspace per app". Each tier is a floor ("100+ per
# minute"), with bursts tolerated; the fake Slack refuses only past the floor.


@dataclass(frozen=True)
class Tier:
    name: str
    per_minute: int
    # How many calls may come at once. Slack gives no figure: "a small amount of
    # burst behavior is tolerated" (Tier 1), "occasional bursts" (2), "sporadic
    # bursts" (3), "generous burst behavior" (4). Our reading: a minute's worth at
    # once, and a few for Tier 1 (a Socket Mode reconnect asks for a new URL).
    burst: int


TIER_1 = Tier("Tier 1", 1, burst=3)
TIER_2 = Tier("Tier 2", 20, burst=20)
TIER_3 = Tier("Tier 3", 50, burst=50)
TIER_4 = Tier("Tier 4", 100, burst=100)


@dataclass(frozen=True)
class MethodLimit:
    tier: Tier
    page: str  # the method's own page, which states its tier


def _method(tier: Tier, method: str) -> MethodLimit:
    return MethodLimit(tier, f"{DOCS}/reference/methods/{method}")


# Every Web API method the app calls, with the tier its page states.
METHOD_TIERS: dict[str, MethodLimit] = {
    name: _method(tier, name)
    for name, tier in (
        ("views.open", TIER_4),
        ("views.push", TIER_4),
        ("views.update", TIER_4),
        ("views.publish", TIER_4),
        ("users.info", TIER_4),
        ("users.list", TIER_2),
        ("chat.postEphemeral", TIER_4),
        ("chat.update", TIER_3),
        ("chat.delete", TIER_3),
        ("conversations.open", TIER_3),
        ("conversations.info", TIER_3),
        ("conversations.history", TIER_3),
        ("files.getUploadURLExternal", TIER_4),
        ("files.completeUploadExternal", TIER_4),
        ("apps.connections.open", TIER_1),
    )
}

# chat.postMessage has a special limit (its page, and "Rate limits"): "generally
# allows posting one message per second per channel, while also maintaining a
# workspace-wide limit" and "short bursts >1 allowed". The burst size is our reading:
# Slack states no figure, nor one for the workspace-wide limit, which is not modelled.
POST_MESSAGE_PER_CHANNEL_PER_SECOND = 1
POST_MESSAGE_BURST = 5
POST_MESSAGE_PAGE = f"{DOCS}/reference/methods/chat.postMessage"
# auth.test is "Special" too, with no figure; it is called once at start-up.


# -- rate limits ---------------------------------------------------------------------
# Web API rate limits (DOCS/apis/web-api/rate-limits): a refused call is answered
# HTTP 429 with a Retry-After header, the seconds to wait before calling again.


def retry_after_seconds(headers: Any) -> int | None:
    """Slack's Retry-After, in whole seconds, from headers of any shape slack_sdk
    hands over (a value or a list of values per name)."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(1, int(raw))
            except (TypeError, ValueError):
                return None
    return None
