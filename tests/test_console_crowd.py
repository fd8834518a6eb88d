"""A rehearsal at a real campaign's size: `console --people N` adds members, so that
milestones past the demo's six people, conditional names and the letter can be
rehearsed; then `campaign letter` works on the rehearsal with its key."""

from __future__ import annotations

from tests.support.cli import base_env, run_bot

PEOPLE = 100
NAMED = ("Sam Lee", "sam lee", "Sam  Lee")  # three people, one name between them


def test_a_hundred_signers_rehearsed_and_their_letter_exact(tmp_path):
    """Before: the console had 6 signers and no --people; and `campaign letter`
    after a rehearsal failed with "SIGNER_KEY is needed"."""
    env = {**base_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'rehearsal.db'}"}
    lines: list[str] = []
    for number in range(1, PEOPLE + 1):
        lines += [f"as member{number}", "/demands"]
        named = number - (PEOPLE - len(NAMED)) - 1
        if named >= 0:
            # A name goes through the form.
            lines += ["click Sign with my name…", "2", NAMED[named], "submit", "close"]
        else:
            # Anonymous in one click, after Slack's confirmation.
            lines += ["click Sign privately", "yes"]
    lines += ["announce", "#announcements", "quit"]
    script = tmp_path / "crowd.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rehearsal = run_bot(tmp_path, env, "console", "--people", str(PEOPLE), "--script", str(script))
    assert rehearsal.returncode == 0, rehearsal.stdout[-3000:] + rehearsal.stderr
    # Past the demo's milestones (5, 10, 25), announced with the count.
    assert "has passed *25* signatures" in rehearsal.stdout
    assert f"Signed so far: *{PEOPLE}*" in rehearsal.stdout

    letter = run_bot(tmp_path, env, "campaign", "letter", "demo")
    assert letter.returncode == 0, letter.stderr
    assert "rehearsal key" in letter.stderr
    assert (
        f"{PEOPLE} people have signed this letter: 3 with their name, {PEOPLE - 3} anonymously."
        in letter.stdout
    )
    names = [
        line[2:]
        for line in letter.stdout.split("## Signatures")[1].splitlines()
        if line.startswith("- ")
    ]
    assert sorted(names) == ["Sam Lee", "Sam Lee", "sam lee"]


def test_people_is_bounded_with_a_clear_error(tmp_path):
    env = {**base_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'rehearsal.db'}"}
    done = run_bot(tmp_path, env, "console", "--people", "99999999999999999999")
    assert done.returncode == 2
    assert "whole number from 0 to 5,000" in done.stderr
