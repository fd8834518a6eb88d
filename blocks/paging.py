"""Long lists, a page at a time: which part of a list a surface shows, the value its
*Next* and *Previous* buttons carry, and the line that says how many more there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blocks.ids import PAGE_ACTION, PAGE_BACK_ACTION
from blocks.kit import Block, _button, _context

# How many items a page shows, per surface: each keeps the page inside its surface's
# blocks (50 in a message, 100 in the Home tab) with room for its heading and buttons.
PAGE_SIZES = {
    "demands": 20,  # one block each
    "sign": 20,
    "withdraw": 20,
    "status": 20,  # two blocks each
    "admin": 20,
    "archived": 20,
    "home": 25,  # three blocks each
}


@dataclass(frozen=True)
class Page:
    """Which part of a long list is shown: `surface` names the list (PAGE_SIZES)."""

    surface: str
    offset: int
    total: int

    @property
    def size(self) -> int:
        return PAGE_SIZES[self.surface]

    @property
    def end(self) -> int:
        return min(self.total, self.offset + self.size)

    def items(self, everything: list[Any]) -> list[Any]:
        return everything[self.offset : self.end]


def page_of(surface: str, total: int, offset: int = 0) -> Page:
    """The page starting at `offset` (brought into range), of a list of `total`."""
    size = PAGE_SIZES[surface]
    last = max(0, (total - 1) // size * size)
    offset = min(max(0, offset - offset % size), last)
    return Page(surface, offset, total)


def page_value(surface: str, offset: int) -> str:
    return f"{surface}:{offset}"


def read_page_value(value: str) -> tuple[str, int] | None:
    surface, _, offset = value.partition(":")
    if surface not in PAGE_SIZES or not offset.isdecimal() or len(offset) > 6:
        return None
    return surface, int(offset)


def _pager(page: Page, noun: str = "campaigns") -> list[Block]:
    """ "21–40 of 100 campaigns" and the buttons to the pages around it; nothing when
    everything fits on one page."""
    if page.total <= page.size:
        return []
    shown = f"{page.offset + 1}–{page.end}" if page.end > page.offset + 1 else f"{page.end}"
    more = page.total - page.end
    words = f"Showing {shown} of {page.total:,} {noun}."
    if more:
        words += f" {more:,} more: *Next* shows them."
    buttons = []
    if page.offset > 0:
        back = page.offset - page.size
        buttons.append(
            _button(f"← Previous {page.size}", PAGE_BACK_ACTION, page_value(page.surface, back))
        )
    if more:
        buttons.append(
            _button(
                f"Next {min(more, page.size)} →", PAGE_ACTION, page_value(page.surface, page.end)
            )
        )
    return [_context(words), {"type": "actions", "elements": buttons}]
