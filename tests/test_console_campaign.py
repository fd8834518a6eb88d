"""The issue's "done when", as one scripted console session: an organizer drafts a
campaign, previews it, publishes it (confirming), posts its card; a hundred people
sign from the card; the milestones are announced; and the letter's named list and
counts are exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.cli import base_env

PEOPLE = 100
NAMED = {98: "Sam Lee", 99: "sam lee", 100: "Sam  Lee"}  # three people, one name


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def _flat(text: str) -> str:
    return " ".join(line.lstrip("│└┌─ ›") for line in text.splitlines())


def test_draft_preview_publish_card_a_hundred_signers_and_an_exact_letter(tmp_path):
    env = {**base_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'rehearsal.db'}"}
    lines = [
        # Draft.
        "as dana",
        "/demands admin",
        "click New campaign",
        "fair-pay",
        "Fair pay now",
        "The Board of Acme",
        "We ask for fair pay.",
        ".",
        "Publish pay bands",
        ".",
        "Close the gap",
        ".",
        "",
        "",
        "5, 50",
        "announcements",
        "submit",
        "close",
        # Preview, then publish.
        "/demands fair-pay",
        "/demands admin",
        "click Open fair-pay",
        "yes",
        # The card, in #general.
        "/demands card fair-pay",
    ]
    for number in range(1, PEOPLE + 1):
        lines += [f"as member{number}", "#general", "click Read and sign privately"]
        lines += ["2", NAMED[number]] if number in NAMED else ["1"]
        lines += ["submit", "close"]
    lines += ["announce", "#announcements", "quit"]
    script = tmp_path / "campaign.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    session = _run(tmp_path, env, "console", "--people", str(PEOPLE), "--script", str(script))
    assert session.returncode == 0, session.stdout[-3000:] + session.stderr
    out = _flat(session.stdout)
    assert "Created `fair-pay` as a *draft*" in out
    assert "Preview of a draft." in out
    assert "Open the campaign?" in out
    assert "Posted a card for `fair-pay` here." in out
    assert out.count("You signed *Fair pay now*") == PEOPLE
    assert "*Fair pay now* has passed *50* signatures." in out

    letter = _run(tmp_path, env, "campaign", "letter", "fair-pay")
    assert letter.returncode == 0, letter.stderr
    text = letter.stdout
    assert "To: The Board of Acme" in text
    assert f"{PEOPLE} people have signed this letter: 3 with their name, 97 anonymously." in text
    names = [line[2:] for line in text.split("## Signatures")[1].splitlines() if line[:2] == "- "]
    assert sorted(names) == ["Sam Lee", "Sam Lee", "sam lee"]
