"""The helpers every shown text goes through to fit Slack's limits, with answers
worked out by hand: plain text is clipped, escaped mrkdwn is shortened or split
without cutting an entity (`&amp;`, `&lt;`, `&gt;`) in two, and long text is cut
at a line break, else a space, near the end of a piece."""

from __future__ import annotations

import pytest

from blocks import kit


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [("abcdef", 6, "abcdef"), ("abcdefg", 6, "abcde…"), ("", 3, "")],
)
def test_clip_keeps_text_within_the_limit_with_an_ellipsis(text: str, limit: int, clipped: str):
    assert kit.clip(text, limit) == clipped


@pytest.mark.parametrize(
    ("escaped", "limit", "fitted"),
    [
        ("abcdef", 6, "abcdef"),
        ("abcdefg", 6, "abcde…"),
        ("abc&amp;", 8, "abc&amp;"),  # fits exactly: never cut
        ("abc&amp;x", 8, "abc…"),  # a cut inside &amp; moves before it
        ("a&amp;bcdef", 4, "a…"),
        ("ab&lt;cdef", 5, "ab…"),
        ("ab&lt;cdef", 7, "ab&lt;…"),  # a cut just after an entity keeps it
        ("ab&lt;cdef", 8, "ab&lt;c…"),
        ("&amp;x", 4, "…"),  # an entity at the very start
        ("a;b&amp;c", 6, "a;b…"),  # a semicolon before the entity is not its end
        ("ab&lt;;cd", 7, "ab&lt;…"),  # nor is one after it
        ("abcd&amp;", 4, "abc…"),  # an entity past the cut does not move it
    ],
)
def test_fit_never_cuts_an_entity(escaped: str, limit: int, fitted: str):
    assert kit.fit(escaped, limit) == fitted
    assert len(kit.fit(escaped, limit)) <= limit


@pytest.mark.parametrize(
    ("escaped", "limit", "pieces"),
    [
        ("aaaaaaaaaa", 10, ["aaaaaaaaaa"]),
        ("aaaa bbbb cccc", 10, ["aaaa bbbb", "cccc"]),  # at a space, which goes
        ("aaaaaaaaaa bbbbbbbbbb", 10, ["aaaaaaaaaa", "bbbbbbbbbb"]),  # a space one past
        # A line break is taken before a space; the break goes, the space stays.
        ("a" * 19 + " \n" + "bbbbb", 20, ["a" * 19 + " ", "bbbbb"]),
        ("a" * 18 + "\n bbbbbbbbbb", 20, ["a" * 18, " bbbbbbbbbb"]),
        # A space far from the end is not a cut: the piece would be half empty.
        ("aaaaa aaaaaaaaaa", 10, ["aaaaa aaaa", "aaaaaa"]),
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
        # No break near the end: cut anywhere but inside an entity.
        ("aaaaaaaa&amp;bbbbbbbbbb", 10, ["aaaaaaaa", "&amp;bbbbb", "bbbbb"]),
        ("ab;", 1, ["a", "b", ";"]),
        # A line break counts only near the end of the piece, and within it.
        ("a\n" + "b" * 12, 10, ["a\nbbbbbbbb", "bbbb"]),
        ("a" * 12 + "\nb", 10, ["a" * 10, "aa\nb"]),
        ("a" * 11 + "\nb", 10, ["a" * 10, "a\nb"]),
        # The last of two breaks near the end.
        ("a" * 18 + "\nb\n" + "c" * 5, 20, ["a" * 18 + "\nb", "ccccc"]),
        # Slack refuses an empty text: an empty piece is a zero-width space.
        ("", 10, ["\u200b"]),
        ("aaaaaaaaaa\n   ", 10, ["aaaaaaaaaa", "\u200b"]),
    ],
)
def test_split_text_cuts_near_the_end_at_a_break(escaped: str, limit: int, pieces: list[str]):
    assert kit.split_text(escaped, limit) == pieces


def test_a_long_text_is_split_at_slacks_section_limit_by_default():
    text = ("word " * 1300).strip()  # 6,499 characters
    pieces = kit.split_text(text)
    assert [len(p) for p in pieces] == [2999, 2999, 499]
    assert " ".join(pieces) == text


def test_text_objects_and_sections():
    assert kit._plain("x" * 151) == {
        "type": "plain_text",
        "text": "x" * 149 + "…",
        "emoji": True,
    }
    assert kit._plain("x" * 150)["text"] == "x" * 150
    button = {"type": "button", "text": kit._plain("Go"), "action_id": "a", "value": "v"}
    assert kit._section("*t*", button) == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*t*"},
        "accessory": button,
    }
    assert kit._section("*t*") == {"type": "section", "text": {"type": "mrkdwn", "text": "*t*"}}
    assert kit._context("c") == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "c"}],
    }
    long = "a" * 2998 + "&amp;"
    assert kit._mrkdwn(long) == {"type": "mrkdwn", "text": "a" * 2998 + "…"}
    assert [len(b["text"]["text"]) for b in kit._sections("a " * 3000)] == [2999, 3000]
