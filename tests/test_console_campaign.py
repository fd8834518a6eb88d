"""The issue's "done when", as one scripted console session: an organizer drafts a new
campaign through Slack's forms, previews it and tries its signing form (nothing is
recorded), publishes it (confirming), posts its card in #general; a hundred people
sign, from the card and from /demands; the milestones are announced once each, with
counts only; #general never shows who signed; and the letter's named list and counts
are exact."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

from tests.support.cli import base_env, run_bot

PEOPLE = 100
SLUG = "fair-pay"
TITLE = "Fair pay now"
NAMED = {98: "Sam Lee", 99: "sam lee", 100: "Sam  Lee"}  # three people, one name
MILESTONES = (10, 50, 100)
ANNOUNCE_AFTER = (9, 10, 11, 50, 100)  # the scheduler's runs, as the crowd grows
PROMPT = re.compile(r"^(\S+) in #(\S+)(?: \[form: [^\]]*\])?> (.*)$")
# Who someone is, in any spelling the transcript could show: a member's handle or
# real name ("Member 7"), a named signer's name, the organizer ("Dana Lee", @dana).
NAMES = re.compile(r"(?i)\bmember\s*\d+|\bsam\b|\blee\b|\bdana\b|@")


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = run_bot(cwd, env, *args)
    assert "Traceback" not in done.stdout, done.stdout[-3000:]
    return done


def _flat(text: str) -> str:
    return " ".join(line.lstrip("│└┌─ ›") for line in text.splitlines())


def _script(last_day: dt.date) -> list[str]:
    lines = [
        # Draft, as Slack's organizer does it: the organizer view, New campaign, the
        # form field by field (multi-line fields end with "."; Enter keeps a value).
        "as dana",
        "/demands admin",
        "click New campaign",
        SLUG,  # short name
        TITLE,
        "The Board of Acme",  # addressed to
        "We ask for fair pay.",  # statement
        ".",
        "Publish pay bands",  # demand 1
        ".",
        "Close the gap",  # demand 2
        ".",
        "",  # demand 3
        "",  # demand 4
        ", ".join(map(str, MILESTONES)),
        "announcements",  # announcement channel
        "",  # more announcement channels
        last_day.isoformat(),  # last day to sign
        "submit",
        "close",
        # Preview the draft, and try its signing form with a name: nothing recorded.
        "/demands " + SLUG,
        "click Try the signing form",
        "2",
        "Dana Lee",
        "submit",
        "close",
        # Publish, answering Slack's confirmation.
        "/demands admin",
        "click Open " + SLUG,
        "yes",
        # The card, in #general.
        "/demands card " + SLUG,
    ]
    for number in range(1, PEOPLE + 1):
        lines.append(f"as member{number}")
        if number in NAMED:
            # A name goes through the form, from the /demands answer.
            lines += ["/demands " + SLUG, "click Sign with my name…", "2", NAMED[number]]
            lines += ["submit", "close"]
        elif number % 3 == 1:
            # The card's one-click button, after Slack's confirmation.
            lines += ["#general", "click Sign privately", "yes"]
        elif number % 3 == 2:
            # The same button on the /demands answer.
            lines += ["/demands " + SLUG, "click Sign privately", "yes"]
        else:
            # The card's private form, anonymously.
            lines += ["#general", "click Read and sign privately", "1", "submit", "close"]
        if number in ANNOUNCE_AFTER:
            lines.append("announce")
    # One more run: nothing is announced twice. Then the channels as a bystander sees them.
    lines += ["announce", "as alice", "#announcements", "#general", "quit"]
    return lines


def _blocks(transcript: str) -> list[tuple[str, str]]:
    """Each message or form the console drew: (its header line, its body)."""
    found: list[tuple[str, str]] = []
    header: str | None = None
    body: list[str] = []
    for line in transcript.splitlines():
        if line.startswith("┌─ "):
            header, body = line[3:], []
        elif header is not None and line.startswith("└─"):
            found.append((header, "\n".join(body)))
            header = None
        elif header is not None:
            body.append(line)
    return found


def _after(transcript: str, command: str) -> str:
    """What the console printed for the last prompt that ran `command`."""
    lines = transcript.splitlines()
    starts = [
        i for i, line in enumerate(lines) if (m := PROMPT.match(line)) and m.group(3) == command
    ]
    assert starts, command
    shown: list[str] = []
    for line in lines[starts[-1] + 1 :]:
        if PROMPT.match(line):
            break
        shown.append(line)
    return "\n".join(shown)


def _public(blocks: list[tuple[str, str]], channel: str) -> list[str]:
    """The bodies of the messages everyone in `channel` sees (not ephemeral, not forms)."""
    return [
        body
        for header, body in blocks
        if header.startswith(f"undersigned in #{channel}") and "only visible to you" not in header
    ]


def test_draft_preview_publish_card_a_hundred_signers_and_an_exact_letter(tmp_path):
    env = {**base_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'rehearsal.db'}"}
    script = tmp_path / "campaign.txt"
    last_day = dt.date.today() + dt.timedelta(days=30)
    script.write_text("\n".join(_script(last_day)) + "\n", encoding="utf-8")
    session = _run(tmp_path, env, "console", "--people", str(PEOPLE), "--script", str(script))
    assert session.returncode == 0, session.stdout[-3000:] + session.stderr
    transcript = session.stdout
    out = _flat(transcript)
    blocks = _blocks(transcript)
    for refused in ("There is no button", "Unknown command", "no choice", "Slack refused"):
        assert refused not in transcript

    # Drafted, previewed (marked so), the form tried in preview mode.
    assert f"Created `{SLUG}` as a *draft*" in out
    assert "Preview of a draft." in out
    assert "Nothing was recorded: this was a preview of a draft." in out
    # Published after the confirmation; the card posted in #general with its buttons.
    assert "Open the campaign?" in out
    assert f"Posted a card for `{SLUG}` here." in out
    cards = _public(blocks, "general")
    assert cards, "no card in #general"
    assert all(TITLE in card and "Publish pay bands" in card for card in cards)
    assert all("[1] Sign privately  [2] Read and sign privately" in card for card in cards)

    # Every one of the hundred signed, each told so privately.
    assert out.count(f"You signed *{TITLE}* anonymously.") == PEOPLE - len(NAMED)
    assert out.count(f"You signed *{TITLE}* with your name.") == len(NAMED)

    # The preview recorded nothing: the run after nine signers had nothing to announce,
    # the run after the tenth announced 10 with the exact count 10 (the organizer's
    # preview, with her name, would have made it 10 a signer early, and 11).
    runs = [m.group(1) for m in re.finditer(r"^(\S+) in #\S+> announce$", transcript, re.M)]
    assert runs == [f"member{n}" for n in ANNOUNCE_AFTER] + ["member100"]
    reports = re.findall(r"Announcement job: (.*)\.$", transcript, re.M)
    # Each run also updates the card when its count moved; what it posted is the rest.
    posted = [
        "; ".join(p for p in r.split("; ") if not p.startswith("card updated"))
        or "nothing to announce"
        for r in reports
    ]
    assert all("card updated: " + SLUG in r for r in reports[:-1]), reports
    assert posted == [
        "nothing to announce",
        f"posted: {SLUG} 10 in C0ANNOUNCE",
        "nothing to announce",
        f"posted: {SLUG} 50 in C0ANNOUNCE",
        f"posted: {SLUG} 100 in C0ANNOUNCE",
        "nothing to announce",
    ]

    # #announcements as a bystander sees it: each milestone once, counts only.
    announced = _public(_blocks(_after(transcript, "#announcements")), "announcements")
    assert len(announced) == len(MILESTONES)
    for message, milestone in zip(announced, MILESTONES, strict=True):
        text = _flat(message)
        assert f"*{TITLE}* has passed *{milestone}* signatures." in text
        assert f"Signed so far: *{milestone}*" in text
        assert not NAMES.search(text), text

    # #general never shows who clicked: the card is all anyone there sees, and no
    # message everyone in #general sees, at any point of the session, names anyone.
    general = _public(_blocks(_after(transcript, "#general")), "general")
    assert len(general) == 1
    # Kept current: `announce` is the scheduler's hour (the counts shown refreshed,
    # then the cards), so the card shows the hundred.
    assert "Signed so far: *100*" in _flat(general[0]), general[0]
    for message in cards:
        assert not NAMES.search(_flat(message)), message

    letter = _run(tmp_path, env, "campaign", "letter", SLUG)
    assert letter.returncode == 0, letter.stderr
    assert "rehearsal key" in letter.stderr
    text = letter.stdout
    assert "To: The Board of Acme" in text
    assert f"{PEOPLE} people have signed this letter: 3 with their name, 97 anonymously." in text
    names = [line[2:] for line in text.split("## Signatures")[1].splitlines() if line[:2] == "- "]
    assert sorted(names) == ["Sam Lee", "Sam Lee", "sam lee"]  # one entry per person
    assert "Dana Lee" not in text
