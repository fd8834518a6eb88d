"""Block Kit as readable terminal text, for the offline console.

Pure functions over the blocks the app sent: no Slack calls, no state beyond the
numbering of the buttons shown, so the console's transcript is a faithful picture
of what a person would see in Slack.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]
# Given a user or channel id, its name in the fake workspace (or None).
Lookup = Callable[[str], str | None]

_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_ANGLE = re.compile(r"<([^<>\s][^<>]*)>")


@dataclass(frozen=True)
class Style:
    """How text is decorated: ANSI only when writing to a terminal."""

    color: bool = False
    width: int = 88

    def _sgr(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        return self._sgr("1", text)

    def dim(self, text: str) -> str:
        return self._sgr("2", text)

    def italic(self, text: str) -> str:
        return self._sgr("3", text)

    def underline(self, text: str) -> str:
        return self._sgr("4", text)

    def red(self, text: str) -> str:
        return self._sgr("31", text)

    def green(self, text: str) -> str:
        return self._sgr("32", text)

    def cyan(self, text: str) -> str:
        return self._sgr("36", text)


@dataclass
class Clickable:
    """A button on screen, numbered for `click N`."""

    number: int
    element: dict[str, Any]
    block_id: str
    surface: Any = None

    @property
    def label(self) -> str:
        return plain(self.element.get("text"))


@dataclass
class Numbering:
    """Numbers the buttons of everything shown for one command, from 1."""

    clickables: list[Clickable] = field(default_factory=list)
    surface: Any = None

    def add(self, element: dict[str, Any], block_id: str) -> int:
        number = len(self.clickables) + 1
        self.clickables.append(Clickable(number, element, block_id, self.surface))
        return number

    def get(self, number: int) -> Clickable | None:
        if 1 <= number <= len(self.clickables):
            return self.clickables[number - 1]
        return None


def _no_names(_id: str) -> str | None:
    return None


@dataclass(frozen=True)
class Names:
    """Resolves the ids Slack puts in mrkdwn (`<@U...>`, `<#C...>`) to names."""

    user: Lookup = _no_names
    channel: Lookup = _no_names


def unescape(text: str) -> str:
    """Slack's three escapes, undone for display (`&amp;` last, so `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _angle(match: re.Match[str], names: Names) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        name = label or names.user(target[1:])
        return f"@{name or target[1:]}"
    if target.startswith("#"):
        name = label or names.channel(target[1:])
        return f"#{name or target[1:]}"
    if target.startswith("!date^"):
        return label  # Slack shows it in the reader's time zone; the fallback names one
    if target.startswith("!"):
        return "@" + (label or target[1:].split("^")[0])
    return f"{label} ({target})" if label else target


def mrkdwn(text: str, names: Names = Names(), style: Style = Style()) -> str:
    """Slack mrkdwn as text: mentions and links resolved, escapes undone.

    Emphasis marks stay as typed unless the output is a terminal, where they
    become bold and italic.
    """
    text = _ANGLE.sub(lambda m: _angle(m, names), text)
    text = unescape(text)
    if style.color:
        text = _BOLD.sub(lambda m: style.bold(m.group(1)), text)
        text = _ITALIC.sub(lambda m: style.italic(m.group(1)), text)
    return text


def plain(obj: Any) -> str:
    """The text of a text object (plain_text or mrkdwn) or a string."""
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return obj if isinstance(obj, str) else ""


def text_of(obj: Any, names: Names, style: Style) -> str:
    if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
        return mrkdwn(plain(obj), names, style)
    return plain(obj)


def wrap(text: str, width: int) -> list[str]:
    """Wrap each line of text to width, keeping blank lines and leading indents."""
    lines: list[str] = []
    for line in text.split("\n"):
        if not line.strip():
            lines.append("")
            continue
        indent = line[: len(line) - len(line.lstrip())]
        lines.extend(
            textwrap.wrap(
                line,
                width=max(20, width),
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [""]
        )
    return lines


def button_label(number: int, element: dict[str, Any], style: Style) -> str:
    label = f"[{number}] {plain(element.get('text'))}"
    if element.get("style") == "primary":
        return style.bold(style.green(label))
    if element.get("style") == "danger":
        return style.bold(style.red(label))
    return style.bold(label)


def element_label(
    element: dict[str, Any], numbering: Numbering, block_id: str, style: Style
) -> str:
    """One interactive element as shown in a message or view."""
    kind = element.get("type")
    if kind == "button":
        return button_label(numbering.add(element, block_id), element, style)
    placeholder = plain(element.get("placeholder")) or str(kind)
    # Selects and pickers outside a form are shown but cannot be used here.
    return style.dim(f"<{placeholder}>")


@dataclass
class BlockRenderer:
    """Renders a list of blocks into lines, numbering the buttons it shows."""

    style: Style
    names: Names
    numbering: Numbering
    width: int
    # For input blocks: (block_id, action_id) -> display of the current value.
    show_input: Callable[[Block], list[str]] | None = None

    def text(self, obj: Any) -> str:
        return text_of(obj, self.names, self.style)

    def render(self, blocks: list[Block]) -> list[str]:
        lines: list[str] = []
        for index, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            block_id = str(block.get("block_id") or f"b{index}")
            lines.extend(self.block(block, block_id))
        return lines

    def block(self, block: Block, block_id: str) -> list[str]:
        kind = block.get("type")
        style = self.style
        if kind == "header":
            title = plain(block.get("text"))
            if style.color:
                return [style.bold(style.underline(title))]
            return [title, "═" * min(len(title), self.width)]
        if kind == "section":
            lines: list[str] = []
            if block.get("text"):
                lines.extend(wrap(self.text(block["text"]), self.width))
            for item in block.get("fields") or []:
                lines.extend(wrap("  " + self.text(item), self.width))
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") != "image":
                lines.append("    → " + element_label(accessory, self.numbering, block_id, style))
            return lines
        if kind == "context":
            parts = []
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("type") == "image":
                    parts.append(f"[image: {element.get('alt_text', '')}]")
                else:
                    parts.append(self.text(element))
            text = "  ".join(p for p in parts if p)
            return [style.dim("› " + line) for line in wrap(text, self.width - 2)]
        if kind == "divider":
            return [style.dim("─" * min(40, self.width))]
        if kind == "actions":
            labels = [
                element_label(e, self.numbering, block_id, style)
                for e in block.get("elements") or []
                if isinstance(e, dict)
            ]
            return ["  ".join(labels)] if labels else []
        if kind == "input":
            if self.show_input is not None:
                return self.show_input(block)
            return [plain(block.get("label"))]
        if kind == "image":
            return [style.dim(f"[image: {block.get('alt_text', '')}]")]
        if kind == "rich_text":
            return wrap(_rich_text(block), self.width)
        return [style.dim(f"[{kind} block]")]


def _rich_text(block: Block) -> str:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(str(node.get("text", "")))
            for child in node.get("elements") or []:
                walk(child)

    walk(block)
    return "".join(out)


def frame(title: str, body: list[str], style: Style, footer: str = "") -> list[str]:
    """Box a surface so it reads as one thing on screen."""
    lines = [style.dim("┌─ ") + title]
    lines.extend(style.dim("│ ") + line for line in body)
    lines.append(style.dim("└─" + (" " + footer if footer else "")))
    return lines


def render_message(
    message: dict[str, Any],
    *,
    where: str,
    ephemeral: bool,
    style: Style,
    names: Names,
    numbering: Numbering,
    author: str = "undersigned",
    note: str = "",
) -> list[str]:
    """A message from the bot (or a person), with where it is and who sees it."""
    blocks = message.get("blocks")
    renderer = BlockRenderer(style, names, numbering, style.width - 2)
    if isinstance(blocks, list) and blocks:
        body = renderer.render(blocks)
    else:
        body = wrap(mrkdwn(str(message.get("text") or ""), names, style), style.width - 2)
    title = style.bold(author) + style.dim(f" in {where}")
    if ephemeral:
        title += " " + style.cyan("(only visible to you)")
    if note:
        title += " " + style.dim(note)
    return frame(title, body, style)


def render_view(
    view: dict[str, Any],
    *,
    style: Style,
    names: Names,
    numbering: Numbering,
    show_input: Callable[[Block], list[str]] | None = None,
    footer: str = "",
) -> list[str]:
    """A modal or the Home tab."""
    renderer = BlockRenderer(style, names, numbering, style.width - 2, show_input)
    body = renderer.render(view.get("blocks") or [])
    if view.get("type") == "home":
        title = style.bold("Home") + style.dim(" · undersigned")
    else:
        title = style.bold(plain(view.get("title")) or "Form") + style.dim(" · form")
    return frame(title, body, style, footer)


FILE_PREVIEW_LINES = 40


def render_file(upload: dict[str, Any], *, where: str, style: Style) -> list[str]:
    """A file the bot shared (the letter): its name, then its text."""
    title = str(upload.get("title") or upload.get("filename") or "a file")
    body = [style.bold(f"File: {upload.get('filename', '')}") + style.dim(f" ({title})")]
    lines = str(upload.get("content") or "").splitlines()
    body.extend(lines[:FILE_PREVIEW_LINES])
    if len(lines) > FILE_PREVIEW_LINES:
        body.append(style.dim(f"… {len(lines) - FILE_PREVIEW_LINES} more lines"))
    return frame(style.bold("undersigned") + style.dim(f" in {where}"), body, style)
