"""The letter: counted by person, with counts that add up, the addressee and the
signing period, the statement's shape kept, Markdown that reads as its text, a
page that prints, a file only its owner reads, and a letter after a rehearsal."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from console.workspace import FakeUser
from petition.keyring import Keyring
from petition.letter import (
    build_letter,
    render_markdown,
)
from petition.organizing import CLI_ACTOR, Organizers, StatusChange, change_status
from petition.signatures import Choice, add_signature, signer_hash
from storage.models import Signature
from tests.support.cli import base_env
from tests.support.running import ALICE, SIGNER_KEY, RunningBot, key_store_for
from tests.support.signing import sign

SLUG = "wewontbuildit"
OPERATOR = Organizers(frozenset())
TODAY = dt.date(2027, 3, 30)


def cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SIGNER_"))}
    environ.update(DATABASE_URL=database_url, KEY_STORE=key_store_for(database_url), **env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def signatures_of(markdown: str) -> tuple[str, list[str]]:
    """The count sentence and the named list of a Markdown letter."""
    section = markdown.split("## Signatures", 1)[1]
    names = [line[2:] for line in section.splitlines() if line.startswith("- ")]
    sentence = next(line for line in section.splitlines() if "signed this letter" in line)
    return sentence, names


# -- counted by person ---------------------------------------------------------------


def test_people_who_share_a_name_are_each_on_the_letter(running_bot: RunningBot, database_url):
    """The defect: three people signed as `John Smith`, `john smith` and `John  Smith`,
    and the letter listed one name and called two of them anonymous."""
    bot = running_bot
    bot.import_campaign()
    for number, spelling in enumerate(("John Smith", "john smith", "John  Smith"), start=1):
        user = f"U0JOHN{number:04d}"
        bot.fake.workspace.add_user(FakeUser(user, f"john{number}", spelling))
        sign(bot, user, how="named", name=spelling)
    sign(bot, ALICE.id)  # anonymous
    letter = cli(database_url, "campaign", "letter", SLUG, SIGNER_KEY=SIGNER_KEY)
    assert letter.returncode == 0, letter.stderr
    sentence, names = signatures_of(letter.stdout)
    assert sentence == "4 people have signed this letter: 3 with their name, 1 anonymously."
    # One entry per person; the spelling each typed (spaces tidied).
    assert sorted(names) == ["John Smith", "John Smith", "john smith"]


CHOICES = st.lists(
    st.tuples(
        st.sampled_from(["anonymous", "named", "conditional"]),
        st.sampled_from(["John Smith", "john smith", "Anna", "Zoë Ó'Brien & co", "x"]),
        st.sampled_from([1, 2, 3, 10]),
    ),
    max_size=25,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choices=CHOICES, forget=st.booleans())
def test_the_counts_always_add_up(tmp_path_factory, choices, forget):
    from zoneinfo import ZoneInfo

    from bot.settings import load_settings
    from petition.campaign_spec import parse_campaign
    from petition.campaigns import upsert_campaign
    from petition.keyring import KeyStore
    from petition.organizing import forget_campaign
    from storage.db import Database
    from storage.migrate import upgrade

    tmp = tmp_path_factory.mktemp("letter")
    db = Database.from_url(f"sqlite:///{tmp / 'l.db'}")
    upgrade(db.engine)
    key = load_settings({"SIGNER_KEY": SIGNER_KEY}).require_signer_key()
    keyring = Keyring(key, KeyStore(tmp / "keys", key))
    try:
        with db.write() as session:
            spec = parse_campaign(
                {"slug": SLUG, "title": "T", "statement": "S", "demands": ["D"]}, ZoneInfo("UTC")
            )
            upsert_campaign(session, spec)
            for i, (how, name, threshold) in enumerate(choices):
                choice = {
                    "anonymous": Choice(),
                    "named": Choice(name=name),
                    "conditional": Choice(name=name, threshold=threshold),
                }[how]
                person = signer_hash(key, "T0", f"U0P{i:05d}")
                add_signature(session, SLUG, person, keyring=keyring, choice=choice)
        if forget:
            with db.write() as session:
                change_status(session, OPERATOR, CLI_ACTOR, SLUG, StatusChange.CLOSE)
            forget_campaign(db, keyring, OPERATOR, CLI_ACTOR, SLUG)
        with db.write() as session:
            letter = build_letter(session, OPERATOR, CLI_ACTOR, SLUG, TODAY, keyring)
            rows = session.scalar(select(func.count()).select_from(Signature))
        assert letter.count == len(choices)
        assert letter.named + letter.anonymous == letter.count
        assert letter.anonymous >= 0
        if forget:
            assert rows == 0
            assert letter.names == ()
        else:
            named = sum(1 for how, _, _ in choices if how == "named")
            assert letter.named >= named  # plus the conditional signers the rule names
            sentence = render_markdown(letter)
            if letter.named and letter.anonymous:
                assert f"{letter.named} with their name, {letter.anonymous} anonymously" in (
                    sentence
                )
    finally:
        db.dispose()


# -- what the letter says, as `campaign letter` writes it --------------------------------

SHAPED = (
    "We, the undersigned, work at Acme.\n"
    "We care about Health & Safety.\n"
    "\n"
    "We ask for:\n"
    "- safe ladders\n"
    "- proper breaks"
)


def test_the_letter_keeps_the_statement_and_needs_no_backslashes(
    running_bot: RunningBot, database_url
):
    """The defects: the HTML letter joined the statement's lines into one, and the
    Markdown one was full of backslashes (`Health \\& Safety`)."""
    bot = running_bot
    bot.import_campaign(title="Health & Safety now", statement=SHAPED)
    sign(bot, ALICE.id, how="named", name="Zoë O'Brien (UK)")
    md = cli(database_url, "campaign", "letter", SLUG, SIGNER_KEY=SIGNER_KEY)
    assert md.returncode == 0, md.stderr
    assert "# Health & Safety now" in md.stdout
    assert "We care about Health & Safety." in md.stdout
    assert "- Zoë O'Brien (UK)" in md.stdout
    assert "- safe ladders" in md.stdout
    html = cli(database_url, "campaign", "letter", SLUG, "--format", "html", SIGNER_KEY=SIGNER_KEY)
    assert html.returncode == 0, html.stderr
    assert "We, the undersigned, work at Acme.<br>" in html.stdout
    assert "<li>safe ladders</li>" in html.stdout
    assert "@media print" in html.stdout


def test_the_addressee_and_period_come_from_the_campaign(running_bot: RunningBot, database_url):
    """The defect: the letter had no addressee and no signing period."""
    bot = running_bot
    bot.import_campaign(addressee="The Board of Acme", status="draft")
    assert cli(database_url, "campaign", "open", SLUG).returncode == 0
    sign(bot, ALICE.id, how="named", name="Alice Example")
    assert cli(database_url, "campaign", "close", SLUG).returncode == 0
    letter = cli(database_url, "campaign", "letter", SLUG, SIGNER_KEY=SIGNER_KEY)
    assert letter.returncode == 0, letter.stderr
    today = dt.datetime.now(bot.settings.timezone).date()
    assert "To: The Board of Acme" in letter.stdout
    assert f"Signed on {today.day} {today:%B %Y}." in letter.stdout
    assert "1 person has signed this letter, with their name." in letter.stdout


# -- the file, and the letter after a rehearsal ------------------------------------------


def test_a_saved_letter_is_readable_by_its_owner_only(
    running_bot: RunningBot, database_url, tmp_path
):
    bot = running_bot
    bot.import_campaign()
    sign(bot, ALICE.id, how="named", name="Alice Example")
    target = tmp_path / "letter.html"  # not beside the database: it may be PostgreSQL
    target.write_text("old")
    target.chmod(0o644)
    done = cli(
        database_url,
        "campaign",
        "letter",
        SLUG,
        "--format",
        "html",
        "--output",
        str(target),
        SIGNER_KEY=SIGNER_KEY,
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "Alice Example" in target.read_text()
    assert "readable by you only" in done.stderr


def test_after_a_console_rehearsal_the_letter_just_works(tmp_path):
    """The defect: after a rehearsal, `campaign letter` failed ("SIGNER_KEY is needed")
    and nothing said how to use the console's key."""
    database_url = f"sqlite:///{tmp_path / 'rehearsal.db'}"
    script = tmp_path / "rehearse.txt"
    # Alice signs with her name through the form ([2] Sign with my name…), Bob
    # anonymously in one click ([1] Sign privately, then Slack's confirmation).
    script.write_text("/demands\n2\n2\nAlice Moreau\n\nsubmit\nas bob\n/demands\n1\nyes\n")
    # base_env: this checkout's code, whatever the working directory.
    environ = {k: v for k, v in base_env().items() if not k.startswith("KEY_STORE")}
    rehearsal = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--script", str(script)],
        capture_output=True,
        text=True,
        env={**environ, "DATABASE_URL": database_url},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert rehearsal.returncode == 0, rehearsal.stdout + rehearsal.stderr
    assert "the command line uses it too" in rehearsal.stdout
    letter = subprocess.run(
        [sys.executable, "-m", "bot", "campaign", "letter", "demo"],
        capture_output=True,
        text=True,
        env={**environ, "DATABASE_URL": database_url},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert letter.returncode == 0, letter.stderr
    assert "rehearsal key" in letter.stderr
    assert "2 people have signed this letter: 1 with their name, 1 anonymously." in letter.stdout
    assert "- Alice Moreau" in letter.stdout
    # With another SIGNER_KEY, the names cannot be opened: one clear line, no traceback.
    wrong = subprocess.run(
        [sys.executable, "-m", "bot", "campaign", "letter", "demo"],
        capture_output=True,
        text=True,
        env={**environ, "DATABASE_URL": database_url, "SIGNER_KEY": SIGNER_KEY},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert wrong.returncode == 2
    assert "Traceback" not in wrong.stderr
    assert "SIGNER_KEY does not open it" in wrong.stderr
    assert ".console-key" in wrong.stderr
