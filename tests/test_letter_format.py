"""The letter's wording and formats, from a Letter: every count sentence, the
addressee and period, the statement's paragraphs and lists in HTML and Markdown
(read back with a CommonMark parser), and a page set for print."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from petition.letter import (
    Letter,
    count_sentence,
    md_text,
    render,
    render_html,
    render_markdown,
)

SLUG = "wewontbuildit"
TODAY = dt.date(2027, 3, 30)


# -- addressee, period, statement ----------------------------------------------------


STATEMENT = (
    "We, the undersigned, work at Acme.\n"
    "We care about Health & Safety.\n"
    "\n"
    "We ask for:\n"
    "- safe ladders\n"
    "- *real* breaks\n"
    "\n"
    "1. First, talk to us.\n"
    "2. Then act."
)


def a_letter(**fields: Any) -> Letter:
    values: dict[str, Any] = {
        "slug": SLUG,
        "title": "Health & Safety at Acme",
        "statement": STATEMENT,
        "demands": ("Ladders_that_hold", "No #1 excuse", "5 > 3 < 7"),
        "count": 3,
        "date": TODAY,
        "names": ("Anna Zed", "John Smith", "John Smith"),
        "addressee": "The Board of Acme & Co",
        "first_day": dt.date(2027, 3, 1),
        "last_day": dt.date(2027, 3, 28),
    }
    values.update(fields)
    return Letter(**values)


def test_the_letter_has_its_addressee_and_signing_period():
    md = render_markdown(a_letter())
    assert "To: The Board of Acme & Co" in md
    assert "Signed between 1 March 2027 and 28 March 2027." in md
    assert "30 March 2027" in md
    still_open = render_markdown(a_letter(last_day=None))
    assert "Signatures gathered from 1 March 2027; the campaign is still open." in still_open
    html = render_html(a_letter())
    assert "To: The Board of Acme &amp; Co" in html


class _Tags(HTMLParser):
    VOID = frozenset({"meta", "br", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.seen: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open, tag
        assert self.open[-1] == tag, (self.open, tag)
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_keeps_paragraphs_and_lists_and_prints():
    html = render_html(a_letter())
    tags = _Tags()
    tags.feed(html)
    assert tags.open == []  # every element closed, in order
    # The statement's line break, its two paragraphs and its two lists.
    assert "We, the undersigned, work at Acme.<br>" in html
    assert "<ul>" in html.split("Our demands")[0]
    assert "<li>*real* breaks</li>" in html
    assert "<ol>" in html.split("Our demands")[0]
    assert "<li>Then act.</li>" in html
    # Set for print: the page, its margins and numbers; headings kept with what follows.
    assert "@page" in html
    assert "size: A4" in html
    assert "@media print" in html
    assert "counter(page)" in html
    assert "break-after: avoid" in html
    # Names one per person.
    assert html.count("<li>John Smith</li>") == 2


def _inline_text(tokens: list[Any]) -> str:
    out = []
    for token in tokens:
        if token.type == "inline":
            for child in token.children or []:
                if child.type in {"text", "code_inline"}:
                    out.append(child.content)
                elif child.type in {"softbreak", "hardbreak"}:
                    out.append("\n")
            out.append("\n")
    return "".join(out)


def test_the_markdown_keeps_paragraphs_and_lists_with_no_needless_backslashes():
    md = render_markdown(a_letter())
    assert "Health & Safety" in md
    assert "\\&" not in md
    assert "O'Brien" in render_markdown(a_letter(names=("Zoë O'Brien (UK)",)))
    tokens = MarkdownIt("commonmark").parse(md)
    kinds = [t.type for t in tokens]
    statement = kinds[: kinds.index("heading_open", 2)]
    assert statement.count("paragraph_open") >= 3  # title-date-addressee lines, two paragraphs
    assert "bullet_list_open" in statement
    assert "ordered_list_open" in statement
    assert "hardbreak" in [c.type for t in tokens if t.children for c in t.children]
    text = _inline_text(tokens)
    assert "*real* breaks" in text  # an asterisk the organizer typed, not emphasis
    assert "Ladders_that_hold" in text
    assert "No #1 excuse" in text
    assert "5 > 3 < 7" in text
    assert "Health & Safety at Acme" in text


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=80))
def test_any_name_reads_in_markdown_exactly_as_it_was_typed(name):
    tidy = " ".join(name.split())
    if not tidy:
        return
    tokens = MarkdownIt("commonmark").parse(f"- {md_text(tidy)}\n")
    assert [t.type for t in tokens][:3] == ["bullet_list_open", "list_item_open", "paragraph_open"]
    assert _inline_text(tokens).strip("\n") == tidy


def test_render_picks_the_format():
    letter = a_letter()
    assert render(letter, "html").startswith("<!DOCTYPE html>")
    assert render(letter, "md").startswith("# Health & Safety at Acme")


@pytest.mark.parametrize(
    ("count", "names", "sentence"),
    [
        (0, (), "Nobody has signed this letter yet."),
        (1, ("Anna",), "1 person has signed this letter, with their name."),
        (1, (), "1 person has signed this letter, anonymously."),
        (2, ("Anna", "Anna"), "2 people have signed this letter, all with their name."),
        (3, (), "3 people have signed this letter, all anonymously."),
    ],
)
def test_count_sentences_read_well(count, names, sentence):
    assert count_sentence(a_letter(count=count, names=names)) == sentence
