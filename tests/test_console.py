"""The offline console, as a person uses it: `python -m bot console` in a real
subprocess on a real SQLite file, scripted, and interactive in a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import stat
import subprocess
import sys
import termios
import time
from io import StringIO
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from console.console import Console
from console.console_io import ScriptLines
from console.console_render import Names, Numbering, Style, mrkdwn, render_message
from console.console_setup import ALICE, demo_workspace
from console.server import FakeSlack
from console.workspace import dm_channel_for
from tests.support.cli import base_env

REPO = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|[\x01\x02]")


class ConsoleRun:
    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.db_path = tmp_path / "rehearsal.db"
        self.env = {**base_env(), "DATABASE_URL": f"sqlite:///{self.db_path}"}

    def script(self, *lines: str, name: str = "session.txt") -> subprocess.CompletedProcess[str]:
        path = self.cwd / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "bot", "console", "--script", str(path)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done


@pytest.fixture
def console(tmp_path: Path) -> ConsoleRun:
    return ConsoleRun(tmp_path)


def sign(person: str) -> list[str]:
    """Sign the demo campaign anonymously from /demands: *Sign privately*, then yes
    to Slack's confirmation dialog."""
    return [f"as {person}", "/demands", "click Sign privately", "yes"]


def flat(text: str) -> str:
    """The transcript with frames and line wrapping taken out, for phrase checks."""
    return " ".join(line.lstrip("│└┌─ ") for line in text.splitlines())


def test_a_scripted_rehearsal_of_the_whole_campaign(console):
    done = console.script(
        # Read the demands.
        "/demands",
        # Sign anonymously as alice, from the button under /demands: Slack's own
        # confirmation first (declined once, then accepted).
        "click Sign privately",
        "no",
        "click Sign privately",
        "yes",
        # Sign with a name as bob, from a DM: the campaign, then the form.
        "as bob",
        "dm sign",
        "click Sign with my name…",
        "2",
        "Bob O.",
        "submit",
        "close",
        # The guest is refused.
        "as gus",
        "/demands",
        "click Sign privately",
        "yes",
        # Status.
        "as alice",
        "dm status",
        # Four more sign; one of them withdraws, which leaves five.
        *sign("carol"),
        *sign("dana"),
        *sign("erin"),
        *sign("frank"),
        "dm withdraw",
        "click Withdraw my signature",
        "submit",
        "close",
        "dm status",
        # The organizer creates a second campaign and opens it.
        "as dana",
        "/demands admin",
        "click New campaign",
        "second-wind",
        "A second campaign",
        "",  # addressed to: optional
        "We ask for more.",
        ".",
        # One field per demand; Enter leaves the spare ones empty.
        "A first demand",
        ".",
        "A second demand",
        ".",
        "",
        "",
        "5, 50",
        "announcements",
        "submit",
        "close",
        "/demands admin",
        "click Open second-wind",
        "yes",  # Open asks first: the text locks once anyone signs
        # The announcement job posts the milestone in #announcements.
        "announce",
        "#announcements",
        # The letter for delivery arrives in the organizer's DM.
        "click Letter (Markdown) demo",
        "dm",
        # Workers now choose between two campaigns.
        "as alice",
        "#general",
        "/demands",
        "who",
        "quit",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    text = flat(out)
    assert "alice in #general> /demands" in out
    assert "Fair schedules now" in out
    assert "*1.* Publish schedules two weeks in advance" in out
    assert "(only visible to you)" in out
    assert "[1] Sign privately" in out
    assert "Sign anonymously? (yes/no)" in out
    assert "Not clicked." in out
    assert "You signed *Fair schedules now* anonymously. Thank you." in text
    assert "How do you want to sign?" in out
    assert "bob in #general> dm sign" in out
    assert "(the bot removed its message in your DM with the bot)" in out
    assert "(optional) [Bob Okafor]: Bob O." in out
    assert "You signed *Fair schedules now* with your name. Thank you." in text
    assert "gus in #general> click Sign privately" in out
    assert "Only full members of this workspace can sign" in text
    assert "You have signed anonymously." in out
    assert "Your signature on *Fair schedules now* was deleted." in text
    # The organizer's view and forms.
    assert "dana in #general> /demands admin" in out
    assert "Organizer view" in out
    assert "] New campaign" in out
    assert "Created `second-wind` as a *draft*" in text
    assert "] Open" in out
    assert "(updated)" in out
    assert "*A second campaign*  `second-wind`" in out
    assert "Status: open" in out
    # The milestone, in the channel, with a count and no names.
    announced = out[out.index("dana in #general> announce") :]
    assert "undersigned in #announcements" in announced
    assert "*Fair schedules now* has passed *5* signatures." in announced
    assert "posted: demo 5" in announced
    channel = announced[: announced.index("File: demo-letter.md")]
    for person in ("alice", "Alice", "Bob", "Okafor", "carol", "erin"):
        assert person not in channel
    letter = announced[announced.index("File: demo-letter.md") : announced.index("as alice")]
    assert "5 people have signed this letter" in letter
    assert "Bob O." in letter
    assert "Alice" not in letter
    assert "undersigned: file demo-letter.md" in announced
    assert "alice in #general> /demands" in announced
    assert "Campaigns you can read" in announced
    assert "gus    Gus Brandt      guest" in out
    assert "dana   Dana Lee        organizer" in out


def test_a_script_with_an_unknown_command_fails_but_runs_to_the_end(console):
    done = console.script("frobnicate", "/demands", "click Nope", "click 9", "who")
    assert done.returncode == 1
    assert "Unknown command 'frobnicate'" in done.stdout
    assert "There is no button 'Nope' on screen." in done.stdout
    assert "There is no button '9' on screen." in done.stdout
    assert "alice  Alice Moreau" in done.stdout


def test_what_the_bot_sent_to_a_dm_is_shown_when_its_person_comes_back():
    out = StringIO()
    with FakeSlack(demo_workspace()) as fake:
        console = Console(fake, None, ScriptLines([], out), out, Style())  # type: ignore[arg-type]
        console.execute("as bob")
        client = WebClient(base_url=fake.api_url, token="xoxb-test")
        client.chat_postMessage(channel=dm_channel_for(ALICE.id), text="News for you")
        console.execute("as alice")
        console.execute("as bob")
        console.execute("as alice")
    shown = out.getvalue()
    assert shown.count("News for you") == 1
    assert "In your DM with the bot while you were away:" in shown


def test_what_slack_refuses_is_said_in_the_console():
    # The fake is as strict as Slack: what it refuses (here a message of 51 blocks)
    # reaches nobody, and the console says so instead of showing nothing.
    out = StringIO()
    with FakeSlack(demo_workspace()) as fake:
        console = Console(fake, None, ScriptLines([], out), out, Style())  # type: ignore[arg-type]
        client = WebClient(base_url=fake.api_url, token="xoxb-test")
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
        with pytest.raises(SlackApiError):
            client.chat_postMessage(
                channel=dm_channel_for(ALICE.id), text="x", blocks=[section] * 51
            )
        console.execute("as bob")
    shown = out.getvalue()
    assert "Slack refused the app's chat.postMessage (invalid_blocks)" in shown
    assert "must be at most 50 items" in shown


def test_the_app_refusing_a_form_asks_again_for_the_field_at_fault(console):
    done = console.script(
        "/demands",
        "click Sign with my name…",
        "2",
        "-",  # no name: the name is optional to Slack, the app then asks for one
        "submit",
        "Al",
        "submit",
        "close",
    )
    out = done.stdout
    assert out.count("  Name (only if") >= 2  # asked again after the app's error
    assert "You signed *Fair schedules now* with your name." in flat(out)


def test_required_fields_are_asked_for_before_anything_is_sent(console):
    done = console.script(
        "as dana",
        "/demands admin",
        "click New campaign",
        "Not A Slug",
        "submit",  # Slack itself refuses: title, statement and demands are required
        "A title",
        "A statement.",
        ".",
        "A demand",
        ".",
        "submit",  # the app refuses the slug
        "a-slug",
        "submit",
    )
    out = done.stdout
    assert out.count("! Please complete this required field.") == 3
    assert "! The short name must be" in out
    assert "Created `a-slug` as a *draft*" in flat(out)


def test_the_rehearsal_key_is_kept_next_to_the_database_and_reused(console):
    first = console.script(*sign("alice"))
    assert "rehearsal.db.console-key" in first.stdout
    key_file = console.cwd / "rehearsal.db.console-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "Created a demo campaign" in first.stdout
    second = console.script("dm status", name="again.txt")
    assert "You have signed anonymously." in second.stdout
    assert "Created a demo campaign" not in second.stdout


def test_a_configured_signer_key_is_used_and_no_key_file_is_written(console):
    console.env["SIGNER_KEY"] = "dGhpcy1pcy1hLXRlc3Qta2V5LW9mLTMyLWJ5dGVzLWxvbmctZW5vdWdo"
    done = console.script("who")
    assert done.returncode == 0
    assert not (console.cwd / "rehearsal.db.console-key").exists()
    assert "SIGNER_KEY is not set" not in done.stdout


def test_stdin_that_is_not_a_terminal_is_read_as_a_script(console):
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        cwd=console.cwd,
        env=console.env,
        input="who\n#announcements\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "alice in #general> who" in done.stdout
    assert "#announcements\n  (no messages yet)" in done.stdout
    assert "\x1b[" not in done.stdout  # no colours when not a terminal


# -- interactive, in a pseudo-terminal ------------------------------------------


class Terminal:
    """The console on a pty, read until an expected phrase appears."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "console"],
            cwd=cwd,
            env={**env, "TERM": "dumb"},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            # The pty becomes the child's controlling terminal, so Ctrl-C is a SIGINT.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.seen = ""

    def expect(self, phrase: str, timeout: float = 90, times: int = 1) -> str:
        """Wait until `phrase` has been shown `times` times in all."""
        deadline = time.monotonic() + timeout
        while ANSI.sub("", self.seen).count(phrase) < times:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"never saw {phrase!r} in:\n{ANSI.sub('', self.seen)}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"ended before {phrase!r}:\n{ANSI.sub('', self.seen)}")
                self.seen += chunk.decode("utf-8", "replace")
        return ANSI.sub("", self.seen)

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait(self, timeout: float = 90) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            os.close(self.master)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def terminal(console):
    term = Terminal(console.cwd, console.env)
    yield term
    term.kill()


def test_the_interactive_console_in_a_terminal_and_ctrl_d_leaves(terminal):
    terminal.expect("alice in #general> ")
    terminal.send("/demands\r")
    terminal.expect("[2] Sign with my name…")
    terminal.send("2\r")
    terminal.expect("How do you want to sign? [1]: ")
    terminal.send("\r")
    terminal.expect("[Alice Moreau]: ")
    terminal.send("submit\r")
    screen = terminal.expect("[form: Signed]> ")
    assert "anonymously. Thank you." in screen
    terminal.send("as bob\r")
    terminal.expect("bob in #general> ")
    terminal.send("\x04")  # Ctrl-D
    assert terminal.wait() == 0


def test_ctrl_c_leaves_the_interactive_console_cleanly(terminal):
    terminal.expect("alice in #general> ")
    terminal.send("who\r")
    terminal.expect("gus")
    # At the next prompt, where a person presses it. (Pressed while a command
    # runs, it waits for the prompt; pressed in the microseconds between the
    # two, it waits for a key, as at Python's own prompt.)
    terminal.expect("alice in #general> ", times=2)
    terminal.send("\x03")  # Ctrl-C
    try:
        terminal.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        # Pressed after readline showed the prompt but before it waited for a key
        # (a busy machine can stop the process there), the first Ctrl-C waits for
        # a key, as at Python's own prompt; a person presses it again.
        terminal.send("\x03")
    assert terminal.wait() == 0
    assert "Traceback" not in terminal.seen


# -- rendering ---------------------------------------------------------------


def test_mrkdwn_is_shown_as_typed_with_slack_escapes_undone():
    names = Names(user={"U0ALICE001": "alice"}.get, channel={"C0ANNOUNCE": "announcements"}.get)
    assert mrkdwn("*Bold* &lt;!channel&gt; &amp;lt;", names) == "*Bold* <!channel> &lt;"
    assert mrkdwn("<@U0ALICE001> in <#C0ANNOUNCE>", names) == "@alice in #announcements"
    assert mrkdwn("<https://example.org|the site>", names) == "the site (https://example.org)"
    coloured = mrkdwn("*Bold*", names, Style(color=True))
    assert coloured == "\x1b[1mBold\x1b[0m"


def test_buttons_are_numbered_across_a_screen_and_context_is_marked():
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Pick one"},
            "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Read"}},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "small print"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Sign"}},
                {"type": "button", "text": {"type": "plain_text", "text": "Later"}},
            ],
        },
    ]
    numbering = Numbering()
    lines = render_message(
        {"channel": "C1", "blocks": blocks},
        where="#general",
        ephemeral=True,
        style=Style(),
        names=Names(),
        numbering=numbering,
    )
    text = "\n".join(lines)
    assert "(only visible to you)" in lines[0]
    assert "Title\n│ ═════" in text
    assert "→ [1] Read" in text
    assert "› small print" in text
    assert "[2] Sign  [3] Later" in text
    assert [c.label for c in numbering.clickables] == ["Read", "Sign", "Later"]
