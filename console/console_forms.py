"""A modal's inputs as the Slack client keeps them, for the offline console.

The console plays the part of Slack's client: it holds what the person typed in
each input, checks what the client checks before sending (required fields,
lengths), and hands the app a view_submission `state` exactly as Slack builds it.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console.console_render import Names, Style, mrkdwn, plain, wrap

State = dict[str, Any]

TEXT_TYPES = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
OPTION_TYPES = {"radio_buttons", "static_select", "external_select"}
MULTI_OPTION_TYPES = {"checkboxes", "multi_static_select", "multi_external_select"}
# element type -> (state key, initial key, what it lists, several allowed)
PICKERS: dict[str, tuple[str, str, str, bool]] = {
    "channels_select": ("selected_channel", "initial_channel", "channel", False),
    "conversations_select": ("selected_conversation", "initial_conversation", "channel", False),
    "users_select": ("selected_user", "initial_user", "user", False),
    "multi_channels_select": ("selected_channels", "initial_channels", "channel", True),
    "multi_conversations_select": (
        "selected_conversations",
        "initial_conversations",
        "channel",
        True,
    ),
    "multi_users_select": ("selected_users", "initial_users", "user", True),
}
CLEAR = "-"  # typed at a field prompt: empty an optional field
# Typed at a field prompt: press the form's button at once, as one can in Slack
# without going through every field (and what keeps scripts working when a form
# gains a field).
BUTTONS = ("submit", "cancel")


@dataclass(frozen=True)
class Directory:
    """Who and what a picker offers: (id, name) pairs from the fake workspace."""

    channels: list[tuple[str, str]] = field(default_factory=list)
    users: list[tuple[str, str]] = field(default_factory=list)

    def name_of(self, kind: str, ident: str) -> str:
        pairs = self.channels if kind == "channel" else self.users
        mark = "#" if kind == "channel" else "@"
        for key, name in pairs:
            if key == ident:
                return mark + name
        return ident


@dataclass
class Field:
    block_id: str
    action_id: str
    element: dict[str, Any]
    label: str
    optional: bool
    hint: str

    @property
    def kind(self) -> str:
        return str(self.element.get("type"))

    @property
    def multiline(self) -> bool:
        return self.kind == "plain_text_input" and bool(self.element.get("multiline"))


def fields_of(view: dict[str, Any]) -> list[Field]:
    out = []
    for block in view.get("blocks") or []:
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        element = block.get("element") or {}
        out.append(
            Field(
                block_id=str(block.get("block_id") or ""),
                action_id=str(element.get("action_id") or ""),
                element=element,
                label=plain(block.get("label")),
                optional=bool(block.get("optional")),
                hint=plain(block.get("hint")),
            )
        )
    return out


def initial_state(element: dict[str, Any]) -> State:
    kind = str(element.get("type"))
    state: State = {"type": kind}
    if kind in TEXT_TYPES:
        state["value"] = element.get("initial_value") or None
    elif kind in OPTION_TYPES:
        state["selected_option"] = element.get("initial_option")
    elif kind in MULTI_OPTION_TYPES:
        state["selected_options"] = list(element.get("initial_options") or [])
    elif kind == "datepicker":
        state["selected_date"] = element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = element.get("initial_time")
    elif kind in PICKERS:
        key, initial, _, several = PICKERS[kind]
        state[key] = element.get(initial) or ([] if several else None)
    return state


def options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [o for o in options if isinstance(o, dict)]


def is_empty(state: State) -> bool:
    values = [v for k, v in state.items() if k != "type"]
    return all(v in (None, "", []) for v in values)


def describe(fld: Field, state: State, directory: Directory) -> str:
    """The value as the person sees it in the form."""
    kind = fld.kind
    if kind in TEXT_TYPES:
        return state.get("value") or ""
    if kind in OPTION_TYPES:
        option = state.get("selected_option")
        return plain(option.get("text")) if isinstance(option, dict) else ""
    if kind in MULTI_OPTION_TYPES:
        return ", ".join(plain(o.get("text")) for o in state.get("selected_options") or [])
    if kind == "datepicker":
        return state.get("selected_date") or ""
    if kind == "timepicker":
        return state.get("selected_time") or ""
    if kind in PICKERS:
        key, _, what, several = PICKERS[kind]
        value = state.get(key)
        ids = value if several else [value] if value else []
        return ", ".join(directory.name_of(what, i) for i in ids or [])
    return ""


def choices(fld: Field, directory: Directory) -> list[tuple[str, Any]]:
    """(label, value) pairs to choose from by number, or [] for free text."""
    kind = fld.kind
    if kind in OPTION_TYPES or kind in MULTI_OPTION_TYPES:
        return [(plain(o.get("text")), o) for o in options_of(fld.element)]
    if kind in PICKERS:
        what = PICKERS[kind][2]
        if what == "channel":
            return [(f"#{name}", ident) for ident, name in directory.channels]
        return [(f"@{name}", ident) for ident, name in directory.users]
    return []


def selected_numbers(fld: Field, state: State, directory: Directory) -> list[int]:
    """Which of `choices` are selected, numbered from 1."""
    kind = fld.kind
    if kind in OPTION_TYPES:
        picked = [state.get("selected_option")]
    elif kind in MULTI_OPTION_TYPES:
        picked = list(state.get("selected_options") or [])
    elif kind in PICKERS:
        key, _, _, several = PICKERS[kind]
        value = state.get(key)
        picked = list(value or []) if several else [value]
    else:
        return []
    wanted = {p.get("value") if isinstance(p, dict) else p for p in picked if p}
    return [
        number
        for number, (_, value) in enumerate(choices(fld, directory), start=1)
        if (value.get("value") if isinstance(value, dict) else value) in wanted
    ]


def _pick(token: str, options: list[tuple[str, Any]]) -> Any:
    token = token.strip()
    if token.isascii() and token.isdigit() and 1 <= int(token) <= len(options):
        return options[int(token) - 1][1]
    wanted = token.lstrip("#@").lower()
    for label, value in options:
        ident = value.get("value") if isinstance(value, dict) else value
        if wanted in {label.lstrip("#@").lower(), str(ident).lower()}:
            return value
    starts = [v for label, v in options if label.lstrip("#@").lower().startswith(wanted)]
    if wanted and len(starts) == 1:
        return starts[0]
    raise ValueError(f"no choice {token!r}: give its number or name")


def parse_answer(fld: Field, text: str, directory: Directory) -> State:
    """The state after the person typed `text` for this field; ValueError says why not."""
    kind = fld.kind
    state: State = {"type": kind}
    if text.strip() == CLEAR:
        return initial_state({"type": kind})
    if kind in TEXT_TYPES:
        if kind == "number_input" and not re.fullmatch(r"-?\d+(\.\d+)?", text.strip()):
            raise ValueError("type a number")
        state["value"] = text if fld.multiline else text.strip()
        return state
    if kind == "datepicker":
        try:
            state["selected_date"] = dt.date.fromisoformat(text.strip()).isoformat()
        except ValueError:
            raise ValueError("type a date as YYYY-MM-DD") from None
        return state
    if kind == "timepicker":
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text.strip()):
            raise ValueError("type a time as HH:MM")
        state["selected_time"] = text.strip()
        return state
    options = choices(fld, directory)
    if kind in OPTION_TYPES:
        state["selected_option"] = _pick(text, options)
        return state
    tokens = [t for t in re.split(r"[,\s]+", text) if t]
    if kind in MULTI_OPTION_TYPES:
        state["selected_options"] = [_pick(t, options) for t in tokens]
        return state
    if kind in PICKERS:
        key, _, _, several = PICKERS[kind]
        picked = [_pick(t, options) for t in tokens] if several else _pick(text, options)
        state[key] = picked
        return state
    raise ValueError(f"{kind} inputs cannot be filled in here")


def client_errors(fld: Field, state: State) -> str | None:
    """What Slack's client itself refuses before anything is sent."""
    if is_empty(state):
        return None if fld.optional else "Please complete this required field."
    value = state.get("value")
    if fld.kind == "plain_text_input" and isinstance(value, str):
        most, least = fld.element.get("max_length"), fld.element.get("min_length")
        if isinstance(most, int) and len(value) > most:
            return f"Please use {most} characters or fewer (you used {len(value)})."
        if isinstance(least, int) and len(value) < least:
            return f"Please use at least {least} characters."
    return None


@dataclass
class Form:
    """The inputs of one modal and what has been entered in them."""

    view_id: str
    fields: list[Field]
    values: dict[tuple[str, str], State]
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, view: dict[str, Any], previous: Form | None = None) -> Form:
        """Slack keeps what was typed when a view is updated with the same input ids."""
        fields = fields_of(view)
        kept = previous.values if previous is not None else {}
        values = {
            (f.block_id, f.action_id): kept.get((f.block_id, f.action_id))
            or initial_state(f.element)
            for f in fields
        }
        return cls(str(view.get("id") or ""), fields, values)

    def value(self, fld: Field) -> State:
        return self.values[(fld.block_id, fld.action_id)]

    def set(self, fld: Field, state: State) -> None:
        self.values[(fld.block_id, fld.action_id)] = state
        self.errors.pop(fld.block_id, None)

    def field_for(self, block_id: str) -> Field | None:
        return next((f for f in self.fields if f.block_id == block_id), None)

    def check(self) -> dict[str, str]:
        found = {}
        for fld in self.fields:
            problem = client_errors(fld, self.value(fld))
            if problem:
                found[fld.block_id] = problem
        return found

    def state(self) -> dict[str, dict[str, State]]:
        values: dict[str, dict[str, State]] = {}
        for (block_id, action_id), state in self.values.items():
            values.setdefault(block_id, {})[action_id] = state
        return values


RADIO_LIKE = {"radio_buttons", "checkboxes"}


@dataclass
class FormPrompts:
    """Shows a form's inputs and asks for them one by one at the terminal."""

    read: Callable[[str], str | None]
    say: Callable[..., None]
    style: Style
    names: Names

    def input_lines(self, fld: Field, form: Form, directory: Directory) -> list[str]:
        """An input block as shown inside the form: label, value or options, hint, error."""
        style = self.style
        lines = [style.bold(fld.label) + (style.dim(" (optional)") if fld.optional else "")]
        state = form.value(fld)
        if fld.kind in RADIO_LIKE:
            chosen = selected_numbers(fld, state, directory)
            for number, (text, _) in enumerate(choices(fld, directory), start=1):
                mark = "(•)" if number in chosen else "( )"
                option = mrkdwn(text, self.names, style)
                prefix = f"  {mark} {number}. "
                lines.extend(
                    textwrap.wrap(
                        option,
                        width=style.width - 2,
                        initial_indent=prefix,
                        subsequent_indent=" " * len(prefix),
                        break_long_words=False,
                    )
                )
        else:
            current = describe(fld, state, directory)
            placeholder = plain(fld.element.get("placeholder"))
            if current:
                lines.extend(f"  > {line}" for line in current.split("\n"))
            else:
                lines.append("  > " + style.dim(f"({placeholder or 'empty'})"))
        if fld.hint:
            lines.extend(style.dim("  " + line) for line in wrap(fld.hint, style.width - 4))
        if fld.block_id in form.errors:
            lines.append(style.red(f"  ! {form.errors[fld.block_id]}"))
        return lines

    def fill(self, form: Form, fields: list[Field], directory: Directory) -> str:
        """Ask for each field in turn. Returns "done", "eof" (input ran out), or the
        button typed instead of a value ("submit" or "cancel")."""
        for fld in fields:
            outcome = self.ask(fld, form, directory)
            if outcome != "done":
                return outcome
        return "done"

    def ask(self, fld: Field, form: Form, directory: Directory) -> str:
        options = choices(fld, directory)
        current = describe(fld, form.value(fld), directory)
        if options and fld.kind not in RADIO_LIKE:
            listed = "  ".join(f"{n}. {label}" for n, (label, _) in enumerate(options, start=1))
            self.say(*(self.style.dim("  " + line) for line in wrap(listed, self.style.width)))
        default = current.replace("\n", " ")
        if fld.kind in RADIO_LIKE:
            default = ", ".join(str(n) for n in selected_numbers(fld, form.value(fld), directory))
        optional = " (optional)" if fld.optional else ""
        while True:
            if fld.multiline:
                answer = self._read_lines(fld, current)
            else:
                answer = self.read(f"  {fld.label}{optional} [{default}]: ")
            if answer is None:
                return "eof"
            if answer.strip() in BUTTONS:
                return answer.strip()
            if answer.strip() == "":
                return "done"  # Enter keeps what is there
            if answer.strip() == CLEAR and not fld.optional:
                self.say(self.style.red("  ! This field is required; it cannot be emptied."))
                continue
            try:
                form.set(fld, parse_answer(fld, answer, directory))
            except ValueError as problem:
                self.say(self.style.red(f"  ! {problem}"))
                continue
            return "done"

    def _read_lines(self, fld: Field, current: str) -> str | None:
        first_line = current.split("\n")[0] if current else ""
        more = " …" if "\n" in current else ""
        prompt = f"  {fld.label} (lines, end with `.`) [{first_line}{more}]: "
        collected: list[str] = []
        while True:
            line = self.read(prompt if not collected else "  ... ")
            if line is None:
                return None
            if not collected and line.strip() in {"", *BUTTONS}:
                return line.strip()
            if line.strip() == ".":
                return "\n".join(collected)
            collected.append(line)
