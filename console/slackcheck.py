"""What Slack refuses in a message, a view or an acknowledgement, and why.

The fake Slack (console/server.py) answers with these problems the way Slack does
(`invalid_blocks`, `invalid_arguments`), and the tests check every acknowledgement
body with them too. slack_sdk's own models check what they know (`Block.parse(...)`,
`View(...).validate_json()`); the rest is checked here against blocks/limits.py,
each figure with the page it comes from. A problem reads like Slack's own:
`must be at most 75 characters [json-pointer:/blocks/3/element/options/2/description/text]`.

The checks cover the blocks and elements the app uses; any other type is refused
as unknown, so that nothing new reaches real Slack without being checked here first.

Why it runs past 500 lines: it is one walk over Block Kit (blocks, elements, texts,
options) whose checks call each other; read top to bottom it follows Slack's
reference, and split it would send the reader back and forth between files.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from blocks import limits

PLAIN = "plain_text"
MRKDWN = "mrkdwn"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# slack_sdk logs a warning for every key its models do not know (such as `emoji` on
# some objects); the checks here are the ones that count.
logging.getLogger("slack_sdk.models").setLevel(logging.ERROR)


class _Problems:
    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, pointer: str, message: str) -> None:
        self.found.append(f"{message} [json-pointer:{pointer}]")

    def at_most(self, pointer: str, value: Any, limit: int, what: str = "characters") -> None:
        if value is not None and len(value) > limit:
            self.add(pointer, f"must be at most {limit} {what} (is {len(value)})")


# -- text objects -------------------------------------------------------------------


def _text(
    p: _Problems,
    obj: Any,
    ptr: str,
    limit: int,
    *,
    plain_only: bool = False,
    required: bool = True,
) -> None:
    if obj is None:
        if required:
            p.add(ptr, "is required")
        return
    if not isinstance(obj, dict):
        p.add(ptr, "must be a text object")
        return
    kind = obj.get("type")
    if kind not in (PLAIN, MRKDWN):
        p.add(f"{ptr}/type", "must be plain_text or mrkdwn")
        return
    if plain_only and kind != PLAIN:
        p.add(f"{ptr}/type", "must be plain_text here")
    if "emoji" in obj and kind != PLAIN:
        p.add(f"{ptr}/emoji", "is only allowed in plain_text")
    if "verbatim" in obj and kind != MRKDWN:
        p.add(f"{ptr}/verbatim", "is only allowed in mrkdwn")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        p.add(f"{ptr}/text", "must be a string of at least 1 character")
        return
    p.at_most(f"{ptr}/text", text, min(limit, limits.TEXT_OBJECT))


# -- elements -------------------------------------------------------------------------


def _options(
    p: _Problems, options: Any, ptr: str, most: int, *, mrkdwn_allowed: bool
) -> list[dict[str, Any]]:
    if not isinstance(options, list) or not options:
        p.add(ptr, "must be a non-empty array")
        return []
    p.at_most(ptr, options, most, "items")
    values = set()
    for i, option in enumerate(options):
        here = f"{ptr}/{i}"
        if not isinstance(option, dict):
            p.add(here, "must be an option object")
            continue
        _text(
            p, option.get("text"), f"{here}/text", limits.OPTION_TEXT, plain_only=not mrkdwn_allowed
        )
        value = option.get("value")
        if not isinstance(value, str) or not value:
            p.add(f"{here}/value", "must be a non-empty string")
        else:
            p.at_most(f"{here}/value", value, limits.OPTION_VALUE)
            if value in values:
                p.add(f"{here}/value", "must be unique among the options")
            values.add(value)
        _text(
            p,
            option.get("description"),
            f"{here}/description",
            limits.OPTION_DESCRIPTION,
            plain_only=not mrkdwn_allowed,
            required=False,
        )
    return [o for o in options if isinstance(o, dict)]


def _chosen(p: _Problems, element: dict[str, Any], ptr: str, options: list[dict]) -> None:
    # "An option object that exactly matches one of the options" (select, radio, checkboxes).
    if "initial_option" in element and element["initial_option"] not in options:
        p.add(f"{ptr}/initial_option", "must exactly match one of the options")
    for i, option in enumerate(element.get("initial_options") or []):
        if option not in options:
            p.add(f"{ptr}/initial_options/{i}", "must exactly match one of the options")


def _confirm(p: _Problems, confirm: Any, ptr: str) -> None:
    if confirm is None:
        return
    if not isinstance(confirm, dict):
        p.add(ptr, "must be a confirmation dialog object")
        return
    _text(p, confirm.get("title"), f"{ptr}/title", limits.CONFIRM_TITLE, plain_only=True)
    _text(p, confirm.get("text"), f"{ptr}/text", limits.CONFIRM_TEXT, plain_only=True)
    _text(p, confirm.get("confirm"), f"{ptr}/confirm", limits.CONFIRM_BUTTON, plain_only=True)
    _text(p, confirm.get("deny"), f"{ptr}/deny", limits.CONFIRM_BUTTON, plain_only=True)


def _placeholder(p: _Problems, element: dict[str, Any], ptr: str) -> None:
    _text(
        p,
        element.get("placeholder"),
        f"{ptr}/placeholder",
        limits.PLACEHOLDER,
        plain_only=True,
        required=False,
    )


_SELECTS = {
    "users_select",
    "multi_users_select",
    "conversations_select",
    "multi_conversations_select",
    "channels_select",
    "multi_channels_select",
}


def _element(p: _Problems, element: Any, ptr: str) -> str | None:
    """Check one interactive element; returns its action_id."""
    if not isinstance(element, dict):
        p.add(ptr, "must be an element object")
        return None
    kind = element.get("type")
    action_id = element.get("action_id")
    if action_id is not None:
        if not isinstance(action_id, str) or not action_id:
            p.add(f"{ptr}/action_id", "must be a non-empty string")
        else:
            p.at_most(f"{ptr}/action_id", action_id, limits.ACTION_ID)
    if kind == "button":
        _text(p, element.get("text"), f"{ptr}/text", limits.BUTTON_TEXT, plain_only=True)
        value = element.get("value")
        if value is not None:
            p.at_most(f"{ptr}/value", value, limits.BUTTON_VALUE)
        p.at_most(f"{ptr}/url", element.get("url"), limits.BUTTON_URL)
        if element.get("style") not in (None, "primary", "danger"):
            p.add(f"{ptr}/style", "must be primary or danger")
        _confirm(p, element.get("confirm"), f"{ptr}/confirm")
    elif kind in ("static_select", "multi_static_select"):
        options = _options(
            p, element.get("options"), f"{ptr}/options", limits.SELECT_OPTIONS, mrkdwn_allowed=False
        )
        _chosen(p, element, ptr, options)
        _placeholder(p, element, ptr)
    elif kind == "radio_buttons":
        options = _options(
            p, element.get("options"), f"{ptr}/options", limits.RADIO_OPTIONS, mrkdwn_allowed=True
        )
        _chosen(p, element, ptr, options)
    elif kind == "checkboxes":
        options = _options(
            p,
            element.get("options"),
            f"{ptr}/options",
            limits.CHECKBOX_OPTIONS,
            mrkdwn_allowed=True,
        )
        _chosen(p, element, ptr, options)
    elif kind == "overflow":
        _options(
            p,
            element.get("options"),
            f"{ptr}/options",
            limits.OVERFLOW_OPTIONS,
            mrkdwn_allowed=False,
        )
    elif kind == "plain_text_input":
        _text_input(p, element, ptr)
    elif kind == "number_input":
        if not isinstance(element.get("is_decimal_allowed"), bool):
            p.add(f"{ptr}/is_decimal_allowed", "is required")
        for key in ("initial_value", "min_value", "max_value"):
            if key in element and not isinstance(element[key], str):
                p.add(f"{ptr}/{key}", "must be a string")
        _placeholder(p, element, ptr)
    elif kind == "datepicker":
        initial = element.get("initial_date")
        if initial is not None and not (isinstance(initial, str) and _DATE.match(initial)):
            p.add(f"{ptr}/initial_date", "must be YYYY-MM-DD")
        _placeholder(p, element, ptr)
    elif kind in _SELECTS:
        most = element.get("max_selected_items")
        if most is not None and (not isinstance(most, int) or most < 1):
            p.add(f"{ptr}/max_selected_items", "must be a number of 1 or more")
        _placeholder(p, element, ptr)
    else:
        p.add(f"{ptr}/type", f"is not an element type this check knows ({kind!r})")
    return action_id if isinstance(action_id, str) else None


def _text_input(p: _Problems, element: dict[str, Any], ptr: str) -> None:
    most = element.get("max_length")
    least = element.get("min_length")
    if most is not None and (
        not isinstance(most, int) or not 1 <= most <= limits.TEXT_INPUT_LENGTH
    ):
        p.add(f"{ptr}/max_length", f"must be from 1 to {limits.TEXT_INPUT_LENGTH}")
        most = limits.TEXT_INPUT_LENGTH
    if least is not None and (
        not isinstance(least, int) or not 0 <= least <= limits.TEXT_INPUT_LENGTH
    ):
        p.add(f"{ptr}/min_length", f"must be from 0 to {limits.TEXT_INPUT_LENGTH}")
    initial = element.get("initial_value")
    if initial is not None:
        if not isinstance(initial, str):
            p.add(f"{ptr}/initial_value", "must be a string")
        else:
            p.at_most(
                f"{ptr}/initial_value",
                initial,
                most if isinstance(most, int) else limits.TEXT_INPUT_LENGTH,
            )
    _placeholder(p, element, ptr)


# -- blocks ---------------------------------------------------------------------------


def _block(p: _Problems, block: Any, ptr: str, block_ids: set[str]) -> None:
    if not isinstance(block, dict):
        p.add(ptr, "must be a block object")
        return
    kind = block.get("type")
    block_id = block.get("block_id")
    if block_id is not None:
        if not isinstance(block_id, str) or not block_id:
            p.add(f"{ptr}/block_id", "must be a non-empty string")
        else:
            p.at_most(f"{ptr}/block_id", block_id, limits.BLOCK_ID)
            if block_id in block_ids:
                p.add(f"{ptr}/block_id", f"must be unique in the surface ({block_id!r} repeats)")
            block_ids.add(block_id)
    actions: list[str | None] = []
    if kind == "section":
        if block.get("text") is None and not block.get("fields"):
            p.add(ptr, "must define either text or fields")
        _text(p, block.get("text"), f"{ptr}/text", limits.SECTION_TEXT, required=False)
        fields = block.get("fields")
        if fields is not None:
            p.at_most(f"{ptr}/fields", fields, limits.SECTION_FIELDS, "items")
            for i, item in enumerate(fields if isinstance(fields, list) else []):
                _text(p, item, f"{ptr}/fields/{i}", limits.SECTION_FIELD_TEXT)
        if block.get("accessory") is not None:
            actions.append(_element(p, block["accessory"], f"{ptr}/accessory"))
    elif kind == "header":
        _text(p, block.get("text"), f"{ptr}/text", limits.HEADER_TEXT, plain_only=True)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            p.add(f"{ptr}/elements", "must be a non-empty array")
        else:
            p.at_most(f"{ptr}/elements", elements, limits.CONTEXT_ELEMENTS, "items")
            for i, item in enumerate(elements):
                _text(p, item, f"{ptr}/elements/{i}", limits.TEXT_OBJECT)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            p.add(f"{ptr}/elements", "must be a non-empty array")
        else:
            p.at_most(f"{ptr}/elements", elements, limits.ACTIONS_ELEMENTS, "items")
            actions += [_element(p, e, f"{ptr}/elements/{i}") for i, e in enumerate(elements)]
    elif kind == "input":
        _text(p, block.get("label"), f"{ptr}/label", limits.INPUT_LABEL, plain_only=True)
        _text(
            p, block.get("hint"), f"{ptr}/hint", limits.INPUT_HINT, plain_only=True, required=False
        )
        if block.get("element") is None:
            p.add(f"{ptr}/element", "is required")
        else:
            actions.append(_element(p, block["element"], f"{ptr}/element"))
    elif kind == "divider":
        pass
    else:
        p.add(f"{ptr}/type", f"is not a block type this check knows ({kind!r})")
        return
    seen = [a for a in actions if a is not None]
    if len(seen) != len(set(seen)):
        p.add(ptr, "action_id must be unique among the elements of a block")
    # And whatever slack_sdk's models check on top (lengths they know of).
    try:
        parsed = Block.parse(block)
        if parsed is not None:
            parsed.to_dict()
    except SlackObjectFormationError as error:
        p.add(ptr, f"slack_sdk: {error}")
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        p.add(ptr, f"slack_sdk could not read it ({type(error).__name__})")


def _blocks(p: _Problems, blocks: Any, ptr: str, most: int) -> None:
    if not isinstance(blocks, list):
        p.add(ptr, "must be an array of blocks")
        return
    p.at_most(ptr, blocks, most, "items")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        _block(p, block, f"{ptr}/{i}", seen)


# -- surfaces ------------------------------------------------------------------------


class Refused(Exception):
    """What Slack would answer instead of taking the request."""

    def __init__(self, error: str, problems: list[str]) -> None:
        self.error = error
        self.problems = problems
        super().__init__(f"{error}: " + "; ".join(problems))


def parsed_json(value: Any, error: str) -> Any:
    """A JSON argument as the Web API takes it (a string, or already parsed)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise Refused(error, ["is not valid JSON"]) from None
    return value


def message_problems(payload: dict[str, Any]) -> list[str]:
    """Problems with a message: chat.postMessage, chat.postEphemeral, chat.update, a
    response_url post, or a slash command's acknowledgement body."""
    p = _Problems()
    blocks = payload.get("blocks")
    if blocks is not None:
        _blocks(p, blocks, "/blocks", limits.MESSAGE_BLOCKS)
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        p.add("/text", "must be a string")
    if not blocks and not text and not payload.get("attachments"):
        p.add("/text", "no_text: a message needs text or blocks")
    return p.found


def view_problems(view: Any) -> list[str]:
    """Problems with a view for views.open, .push, .update or .publish, or a
    view_submission acknowledgement's `view`."""
    p = _Problems()
    if not isinstance(view, dict):
        p.add("/view", "must be a view object")
        return p.found
    kind = view.get("type")
    modal = kind == "modal"
    if kind not in ("modal", "home"):
        p.add("/view/type", "must be modal or home")
        return p.found
    if modal:
        _text(p, view.get("title"), "/view/title", limits.VIEW_TITLE, plain_only=True)
        _text(
            p, view.get("close"), "/view/close", limits.VIEW_BUTTON, plain_only=True, required=False
        )
        _text(
            p,
            view.get("submit"),
            "/view/submit",
            limits.VIEW_BUTTON,
            plain_only=True,
            required=False,
        )
        blocks = view.get("blocks") if isinstance(view.get("blocks"), list) else []
        if view.get("submit") is None and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        ):
            p.add("/view/submit", "is required when the view holds an input block")
    elif any(view.get(key) is not None for key in ("title", "submit", "close")):
        p.add("/view", "a home view has no title, submit or close")
    _blocks(p, view.get("blocks"), "/view/blocks", limits.VIEW_BLOCKS)
    metadata = view.get("private_metadata")
    if metadata is not None:
        if not isinstance(metadata, str):
            p.add("/view/private_metadata", "must be a string")
        else:
            p.at_most("/view/private_metadata", metadata, limits.PRIVATE_METADATA)
    for key, most in (("callback_id", limits.CALLBACK_ID), ("external_id", limits.EXTERNAL_ID)):
        if view.get(key) is not None:
            p.at_most(f"/view/{key}", str(view[key]), most)
    try:
        View(**view).validate_json()
    except SlackObjectFormationError as error:
        p.add("/view", f"slack_sdk: {error}")
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        p.add("/view", f"slack_sdk could not read it ({type(error).__name__})")
    return p.found


def check_view(view: Any) -> None:
    """Raise Refused as views.* would: view_too_large, or invalid_arguments."""
    view = parsed_json(view, "invalid_arguments")
    # Measured as the view's JSON in UTF-8: what Slack holds once it has read the
    # request (slack_sdk sends non-ASCII as \u escapes, 12 bytes for an emoji; Slack
    # does not say which it counts, and this is the reading that allows more).
    if len(json.dumps(view, ensure_ascii=False).encode()) > limits.VIEW_BYTES:
        raise Refused("view_too_large", ["the view is larger than 250 kB"])
    problems = view_problems(view)
    if problems:
        raise Refused("invalid_arguments", problems)


def check_message(payload: dict[str, Any]) -> None:
    """Raise Refused as chat.* would: invalid_blocks_format, invalid_blocks or no_text."""
    blocks = parsed_json(payload.get("blocks"), "invalid_blocks_format")
    problems = message_problems({**payload, "blocks": blocks})
    if problems:
        nothing = all(problem.startswith("no_text") for problem in problems)
        raise Refused("no_text" if nothing else "invalid_blocks", problems)


# -- acknowledgements ----------------------------------------------------------------

RESPONSE_ACTIONS = {"errors", "update", "push", "clear"}


def acknowledgement_problems(
    kind: str, body: str | dict[str, Any] | None, submitted: dict[str, Any] | None = None
) -> list[str]:
    """Problems with the body of the app's HTTP answer to Slack (as text, or parsed).

    kind is "command" (a slash command: the body is the ephemeral answer),
    "view_submission" (the body may carry a response_action), or anything else
    (Slack reads nothing from those bodies). `submitted` is the view that was
    submitted, whose input blocks `errors` must name.
    """
    if kind not in ("command", "view_submission") or not body:
        return []
    if isinstance(body, str):
        if not body.strip():
            return []
        try:
            answer = json.loads(body)
        except ValueError:
            # A plain-text body is shown as the answer's text (slash commands only).
            return [] if kind == "command" else ["the body is not JSON [json-pointer:/]"]
    else:
        answer = body
    if not isinstance(answer, dict):
        return ["the body is not a JSON object [json-pointer:/]"]
    if kind == "command":
        return message_problems(answer)
    action = answer.get("response_action")
    if action is None:
        return []
    if action not in RESPONSE_ACTIONS:
        return [f"unknown response_action {action!r} [json-pointer:/response_action]"]
    if action in ("update", "push"):
        view = answer.get("view")
        problems = view_problems(view)
        if isinstance(view, dict) and view.get("type") != "modal":
            problems.append("must be a modal [json-pointer:/view/type]")
        return problems
    if action == "errors":
        return _errors_problems(answer.get("errors"), submitted)
    return []


def _errors_problems(errors: Any, submitted: dict[str, Any] | None) -> list[str]:
    # Modals, "Displaying errors in views": each key is the block_id of an input
    # block in the submitted view.
    if not isinstance(errors, dict) or not errors:
        return ["errors must be an object naming input blocks [json-pointer:/errors]"]
    blocks = submitted.get("blocks") if submitted is not None else None
    if not blocks:  # not a view Slack holds (a test's stub): nothing to name
        return []
    inputs = {
        b.get("block_id") for b in _iter(blocks) if isinstance(b, dict) and b.get("type") == "input"
    }
    return [
        f"names no input block of the view ({key!r}) [json-pointer:/errors/{key}]"
        for key in errors
        if key not in inputs
    ]


def _iter(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else []
