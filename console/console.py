"""The offline console: a workspace in the terminal, on the real app.

Nothing here imitates the bot. The console plays Slack: it signs each request
(slash command, DM, click, form submission) the way Slack does and dispatches it
into the real Bolt app through the same WSGI entry point that serves Slack in
HTTP mode; the app's Web API calls go to the in-process fake workspace
(console/server.py, the one the tests use), and what lands there is shown here.
The app is built and wired to this console in bot/rehearsal.py.

Why it runs past 500 lines: it is one class, the REPL, whose commands share one
screen (who is typing, where, what was numbered last); what does not need that
screen is already apart (console_forms, console_io, console_render, console_setup),
and cutting the rest by command would split the screen's state across modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from console.console_forms import Directory, Field, Form, FormPrompts
from console.console_io import LineSource, SlackSide
from console.console_render import (
    Clickable,
    Names,
    Numbering,
    Style,
    mrkdwn,
    plain,
    render_file,
    render_message,
    render_view,
    wrap,
)
from console.console_setup import (
    GENERAL,
    role_of,
)
from console.payloads import (
    app_home_opened_body,
    block_actions_body,
    message_im_body,
    slash_command_body,
    view_submission_body,
)
from console.server import FakeSlack
from console.workspace import Change, FakeChannel, FakeUser, dm_channel_for

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
COMMANDS = ("/demands",)

HELP = """\
What you can type (as the person in the prompt):
  /demands [ARGS]   the slash command, in the current channel (/demands admin for organizers)
  dm TEXT           a direct message to the bot (dm sign, dm status, dm withdraw, dm help)
  dm                show your DM with the bot: what Slack keeps of it
  home              open the bot's Home tab
  N or click N      click button [N] among what was shown last
  click LABEL       click the button with that label (`click Open demo`: label and value)
  as NAME           become someone else (see `who`)
  #CHANNEL          go to a channel and show its messages (#general, #announcements)
  announce          refresh the counts shown and run the announcement job now, as
                    the scheduler does on the hour
  who               the people in this workspace
  help, quit
In a form: answer each field in turn (Enter keeps the value shown in [brackets],
`-` empties an optional field, choices by number or name, several separated by
commas, multi-line text ends with a line holding a single `.`), then `submit` or
`cancel`; either also works at any field. `fill` goes through the fields again."""


def _json(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        return {"text": body}
    return data if isinstance(data, dict) else {}


# -- the console -------------------------------------------------------------------


@dataclass
class Surface:
    """Something on a person's screen that can hold buttons."""

    kind: str  # message, view or home
    item: dict[str, Any]
    ephemeral: bool = False


class Console:
    """The REPL: one person at a time, in one channel, with their own screen."""

    def __init__(
        self,
        fake: FakeSlack,
        slack: SlackSide,
        lines: LineSource,
        out: TextIO,
        style: Style,
        announce: Callable[[], str] | None = None,
        organizers: frozenset[str] = frozenset(),
        settle: Callable[[], object] | None = None,
    ) -> None:
        self.fake = fake
        # Waits for the app's work past its acknowledgement (an answer through a
        # response URL), which Slack would show as soon as it came.
        self.settle = settle or (lambda: None)
        self.workspace = fake.workspace
        self.slack = slack
        self.lines = lines
        self.out = out
        self.style = style
        self.announce_job = announce
        self.organizers = organizers
        self.user: FakeUser = self.workspace.user_named("alice") or next(
            iter(self.workspace.users.values())
        )
        self.channel: FakeChannel = self.workspace.channels[GENERAL.id]
        self.numberings: dict[str, Numbering] = {}
        self.forms: dict[str, Form] = {}
        self.cursor = self.started = len(self.workspace.changes)
        self.last_seen: dict[str, int] = {}
        self.problems = 0
        self.refusals_seen = 0
        self.names = Names(user=self._user_name, channel=self._channel_name)
        self.prompts = FormPrompts(lines.read, self.say, style, self.names)

    # -- output helpers -----------------------------------------------------------
    def say(self, *lines: str) -> None:
        for line in lines:
            self.out.write(line + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self.say(*(self.style.dim(line) for line in wrap(text, self.style.width)))

    def problem(self, text: str) -> None:
        self.problems += 1
        self.say(self.style.red(text))

    def _say_refusals(self) -> None:
        """What Slack would have refused since the last command (the fake is as
        strict as Slack): the app's own log has a line, the person saw nothing."""
        for refusal in self.fake.refusals[self.refusals_seen :]:
            reasons = "; ".join(refusal.problems[:3])
            self.problem(f"Slack refused the app's {refusal.method} ({refusal.error}): {reasons}")
        self.refusals_seen = len(self.fake.refusals)

    def _user_name(self, user_id: str) -> str | None:
        user = self.workspace.users.get(user_id)
        return user.name if user else None

    def _channel_name(self, channel_id: str) -> str | None:
        channel = self.workspace.channels.get(channel_id)
        return channel.name if channel else None

    def where(self, channel_id: str | None) -> str:
        if channel_id == dm_channel_for(self.user.id):
            return "your DM with the bot"
        name = self._channel_name(channel_id or "")
        return f"#{name}" if name else str(channel_id)

    def directory(self) -> Directory:
        return Directory(
            channels=[(c.id, c.name) for c in self.workspace.channels.values()],
            users=[(u.id, u.name) for u in self.workspace.users.values() if not u.is_bot],
        )

    # -- the loop ------------------------------------------------------------------
    def prompt(self) -> str:
        modal = self.workspace.modal_of(self.user.id)
        form = f" [form: {plain(modal.get('title'))}]" if modal else ""
        return f"{self.user.name} in #{self.channel.name}{form}> "

    def run(self, notices: Iterable[str] = ()) -> int:
        self.say(self.style.bold("Undersigned console") + self.style.dim(" (offline rehearsal)"))
        self.note(
            "A fake workspace on the real app: nothing here reaches Slack. Type `help` for "
            "what you can do, `who` for the people you can be."
        )
        for notice in notices:
            self.note(notice)
        try:
            while True:
                line = self.lines.read(self.prompt())
                if line is None or not self.execute(line):
                    break
        except KeyboardInterrupt:
            self.say("")
        return 1 if self.problems and not self.lines.interactive else 0

    def execute(self, line: str) -> bool:
        """Run one command; False means leave."""
        text = line.strip()
        if not text or text == "#" or text.startswith("# "):
            return True  # blank lines and script comments
        word, _, rest = text.partition(" ")
        verb = word.lower()
        if verb in {"quit", "exit", "q"}:
            return False
        if verb in {"help", "?"}:
            self.say(HELP)
            return True
        if verb in {"as", "who"}:
            # Someone else's screen, or the list of people: an open form stays open.
            if verb == "as":
                self.become(rest.strip())
            else:
                self.who()
            return True
        modal = self.workspace.modal_of(self.user.id)
        if modal is not None and self._form_command(modal, verb, rest.strip()):
            return True
        if (verb.isascii() and verb.isdigit()) or verb == "click":
            self.click(rest.strip() if verb == "click" else verb)
        elif verb.startswith("/"):
            self.slash_command(verb, rest.strip())
        elif verb == "dm":
            self.direct_message(rest.strip())
        elif verb == "home":
            self.open_home()
        elif verb.startswith("#"):
            self.go_to(text)
        elif verb == "announce":
            self.announce()
        else:
            self.problem(f"Unknown command {word!r}. Type `help` for the list.")
        return True

    def _form_command(self, modal: dict[str, Any], verb: str, rest: str) -> bool:
        """Commands while a form is open. True when handled here."""
        view_id = str(modal.get("id"))
        if verb == "submit":
            self.submit(modal)
            return True
        if verb in {"cancel", "close"}:
            self.fake.close_view(self.user.id, view_id)
            self.show_changes()
            return True
        if verb == "fill":
            self.fill(modal, self._form(modal).fields)
            return True
        if (verb.isascii() and verb.isdigit()) or verb == "click":
            return False
        if modal.get("submit") or self._form(modal).fields:
            self.problem(
                "A form is open: `submit` it or `cancel` it first (`fill` to change the fields)."
            )
            return True
        # A form with nothing to submit is only read: moving on closes it.
        self.fake.close_view(self.user.id, view_id)
        self.cursor = len(self.workspace.changes)
        return False

    # -- what the person does --------------------------------------------------------
    def slash_command(self, command: str, text: str) -> None:
        if command not in COMMANDS:
            self.problem(f"Slack: {command} is not a valid command. Try /demands.")
            return
        user, channel = self.user, self.channel
        body = slash_command_body(
            command,
            text,
            user.id,
            self.fake.response_url(user.id, channel.id),
            channel_id=channel.id,
            channel_name=channel.name,
            user_name=user.name,
            trigger_id=self.fake.new_trigger(user.id),
        )
        status, answer = self.slack.post(body, FORM)
        if status != 200:
            self.problem(f'Slack: {command} failed with the error "dispatch_failed" ({status}).')
        else:
            self.fake.show_command_answer(user.id, channel.id, _json(answer))
        self.show_changes()

    def direct_message(self, text: str) -> None:
        channel = dm_channel_for(self.user.id)
        if not text:
            self.show_dm()
            return
        message = self.fake.record_user_message(self.user.id, channel, text)
        status, _ = self.slack.post(message_im_body(text, self.user.id, ts=message["ts"]), JSON)
        if status != 200:
            self.problem(f"The app did not take the message (HTTP {status}).")
        self.show_changes()

    def show_dm(self) -> None:
        channel = dm_channel_for(self.user.id)
        kept = self.workspace.messages_in(channel)
        self.say(self.style.bold("Your DM with the bot") + self.style.dim(" (what Slack keeps)"))
        if not kept and not any(f.get("channel") == channel for f in self.workspace.files):
            self.note("  (nothing)")
        for message in kept:
            author = self._user_name(str(message.get("user"))) or "undersigned"
            text = mrkdwn(str(message.get("text") or ""), self.names, self.style)
            self.say(f"  {self.style.bold(author)}: {text}")
        for upload in self.workspace.files:
            if upload.get("channel") == channel:
                self.say(f"  {self.style.bold('undersigned')}: file {upload.get('filename')}")
        self.note(
            "This is what Slack keeps (and workspace owners may export): what you typed and "
            "what the bot posted. Its answers marked (only visible to you) are not kept."
        )

    def open_home(self) -> None:
        status, _ = self.slack.post(app_home_opened_body(self.user.id), JSON)
        if status != 200:
            self.problem(f"The app did not take the event (HTTP {status}).")
        self.show_changes(show_home=True)

    def become(self, name: str) -> None:
        user = self.workspace.user_named(name) if name else None
        if user is None or user.is_bot:
            self.problem(f"Nobody called {name!r} here. Type `who` for the people.")
            return
        self.last_seen[self.user.id] = len(self.workspace.changes)
        self.user = user
        role = role_of(user, self.organizers)
        self.say(self.style.dim(f"You are {user.real_name} (@{user.name}, {role})."))
        # What the bot sent to their DM while someone else was being played.
        self.cursor = self.last_seen.get(user.id, self.started)
        self.show_changes(dm_only=True)
        modal = self.workspace.modal_of(user.id)
        if modal is not None:
            self.show_modal(modal)

    def go_to(self, name: str) -> None:
        channel = self.workspace.channel_named(name)
        if channel is None:
            known = ", ".join(f"#{c.name}" for c in self.workspace.channels.values())
            self.problem(f"No channel {name}. Channels: {known}.")
            return
        self.channel = channel
        messages = self.workspace.messages_in(channel.id)[-20:]
        numbering = Numbering()
        self.say(self.style.bold(f"#{channel.name}"))
        if not messages:
            self.note("  (no messages yet)")
        for message in messages:
            numbering.surface = Surface("message", message)
            self.say(*self._message(message, numbering))
        self._remember(numbering)

    def who(self) -> None:
        people = [u for u in self.workspace.users.values() if not u.is_bot]
        width = max(len(u.name) for u in people)
        for user in people:
            here = "  ← you" if user.id == self.user.id else ""
            role = role_of(user, self.organizers)
            self.say(f"  {user.name:<{width}}  {user.real_name:<14}  {role}{here}")

    def announce(self) -> None:
        if self.announce_job is None:
            self.problem("The announcement job is not available in this version.")
            return
        summary = self.announce_job()
        self.show_changes(everywhere=True)
        if summary:
            self.note(summary)

    # -- buttons --------------------------------------------------------------------
    def click(self, token: str) -> None:
        """Click button [N], or the button labelled TOKEN (with its value when several
        share a label: `click Open second-wind`)."""
        numbering = self.numberings.get(self.user.id) or Numbering()
        modal = self.workspace.modal_of(self.user.id)
        shown = [
            c
            for c in numbering.clickables
            if modal is None or c.surface.item.get("id") == modal.get("id")
        ]
        if not token:
            self.problem("Click what? Give the number shown in [brackets], e.g. `click 1`.")
            return
        if token.isascii() and token.isdigit():
            found = [c for c in shown if c.number == int(token)]
        else:
            wanted = " ".join(token.lower().split())
            labelled = [c for c in shown if c.label.lower() == wanted]
            valued = [
                c for c in shown if f"{c.label} {c.element.get('value', '')}".lower() == wanted
            ]
            found = labelled if len(labelled) == 1 else valued
            if len(labelled) > 1 and len(found) != 1:
                numbers = " ".join(f"[{c.number}]" for c in labelled)
                self.problem(f"Several buttons are called {token!r}: {numbers}. Give the number.")
                return
        if len(found) != 1:
            self.problem(f"There is no button {token!r} on screen.")
            return
        target = found[0]
        if not self._still_there(target.surface):
            self.problem("That message is gone.")
            return
        confirm = target.element.get("confirm")
        if isinstance(confirm, dict) and not self._confirmed(confirm):
            self.note("Not clicked.")
            return
        self._send_click(target)
        self.settle()
        self.show_changes()

    def _confirmed(self, confirm: dict[str, Any]) -> bool:
        yes = plain(confirm.get("confirm")) or "Yes"
        self.say(
            self.style.bold(plain(confirm.get("title")) or "Are you sure?"),
            *wrap(mrkdwn(plain(confirm.get("text")), self.names, self.style), self.style.width),
        )
        answer = self.lines.read(f"  {yes}? (yes/no) ")
        return (answer or "").strip().lower() in {"y", "yes", yes.lower()}

    def _still_there(self, surface: Surface) -> bool:
        if surface.kind == "message":
            kept = self.workspace.ephemerals if surface.ephemeral else self.workspace.messages
            return any(m is surface.item for m in kept)
        if surface.kind == "view":
            return surface.item.get("id") in (self.workspace.view_stacks.get(self.user.id) or [])
        return True

    def _send_click(self, target: Clickable) -> None:
        surface: Surface = target.surface
        element = target.element
        user = self.user
        common: dict[str, Any] = {
            "block_id": target.block_id,
            "text": target.label,
            "trigger_id": self.fake.new_trigger(user.id),
        }
        if surface.kind == "message":
            message = surface.item
            body = block_actions_body(
                str(element.get("action_id")),
                str(element.get("value", "")),
                user.id,
                self.fake.response_url(user.id, message["channel"], message),
                channel_id=message["channel"],
                container={
                    "type": "message",
                    "message_ts": message["ts"],
                    "channel_id": message["channel"],
                    "is_ephemeral": surface.ephemeral,
                },
                **common,
            )
        else:
            view = dict(self.workspace.views.get(str(surface.item.get("id"))) or surface.item)
            if surface.kind == "home":
                view = dict(self.workspace.home_views.get(user.id) or surface.item)
            view.setdefault("type", "modal")
            form = self.forms.get(str(view.get("id")))
            view["state"] = {"values": form.state() if form else {}}
            body = block_actions_body(
                str(element.get("action_id")),
                str(element.get("value", "")),
                user.id,
                None,
                channel_id=None,
                container={"type": "view", "view_id": view.get("id")},
                view=view,
                **common,
            )
        if element.get("url"):
            self.note(f"(opens {element['url']})")
        status, _ = self.slack.post(body, FORM)
        if status != 200:
            self.problem(f"The app did not answer the click (HTTP {status}).")

    # -- forms -----------------------------------------------------------------------
    def _form(self, view: dict[str, Any]) -> Form:
        """The form on screen; what was typed survives an update with the same inputs."""
        view_id = str(view.get("id"))
        previous = self.forms.get(view_id)
        form = Form.of(view, previous)
        if previous is not None:
            form.errors = previous.errors
        self.forms[view_id] = form
        return form

    def show_modal(self, view: dict[str, Any], numbering: Numbering | None = None) -> None:
        form = self._form(view)
        numbering = numbering or Numbering()
        numbering.surface = Surface("view", view)
        directory = self.directory()

        def show_input(block: dict[str, Any]) -> list[str]:
            fld = form.field_for(str(block.get("block_id")))
            return self.prompts.input_lines(fld, form, directory) if fld else []

        footer = []
        if view.get("submit"):
            footer.append(f"submit: {plain(view['submit'])}")
        footer.append(f"cancel: {plain(view.get('close')) or 'Close'}")
        self.say(
            *render_view(
                view,
                style=self.style,
                names=self.names,
                numbering=numbering,
                show_input=show_input,
                footer=" · ".join(footer),
            )
        )
        stray = {k: v for k, v in form.errors.items() if form.field_for(k) is None}
        for message in stray.values():
            self.say(self.style.red(f"  ! {message}"))
        self._remember(numbering)

    def fill(self, view: dict[str, Any], fields: list[Field]) -> None:
        """Ask for each field in turn, as the person tabs through the form."""
        outcome = self.prompts.fill(self._form(view), fields, self.directory())
        if outcome == "submit":
            self.submit(view)
        elif outcome == "cancel":
            self.fake.close_view(self.user.id, str(view.get("id")))
            self.show_changes()
        elif outcome == "done":
            what = "submit" if view.get("submit") else "close"
            self.note(f"Type `{what}` to send the form, `cancel` to close it, `fill` to change it.")

    def submit(self, view: dict[str, Any]) -> None:
        form = self._form(view)
        if not view.get("submit"):
            self.fake.close_view(self.user.id, str(view.get("id")))
            self.show_changes()
            return
        missing = form.check()
        if missing:
            form.errors = missing
            self.show_modal(view)
            self.fill(view, [f for f in form.fields if f.block_id in missing])
            return
        form.errors = {}
        body = view_submission_body(
            view, self.user.id, form.state(), trigger_id=self.fake.new_trigger(self.user.id)
        )
        status, answer = self.slack.post(body, FORM)
        if status != 200:
            self.problem(f"The app did not take the form (HTTP {status}); it stays open.")
            return
        errors = self.fake.apply_view_response(self.user.id, str(view.get("id")), _json(answer))
        if errors is not None:
            form.errors = {str(k): str(v) for k, v in errors.items()}
            self.show_modal(view)
            self.fill(view, [f for f in form.fields if f.block_id in form.errors])
            return
        self.show_changes()

    # -- what changed on screen -----------------------------------------------------------
    def _remember(self, numbering: Numbering) -> None:
        if numbering.clickables:
            self.numberings[self.user.id] = numbering

    def _visible(self, change: Change, everywhere: bool) -> bool:
        item = change.item
        if item.get("user") is not None:
            # An ephemeral message names the one person who sees it.
            return item["user"] == self.user.id
        channel = item.get("channel")
        if channel in {dm_channel_for(self.user.id), self.channel.id}:
            return True
        return everywhere and channel in self.workspace.channels

    def _message(self, message: dict[str, Any], numbering: Numbering, note: str = "") -> list[str]:
        ephemeral = any(m is message for m in self.workspace.ephemerals)
        author = self._user_name(str(message.get("user"))) if not ephemeral else None
        return render_message(
            message,
            where=self.where(message.get("channel")),
            ephemeral=ephemeral,
            style=self.style,
            names=self.names,
            numbering=numbering,
            author=author or "undersigned",
            note=note,
        )

    def show_changes(
        self, show_home: bool = False, everywhere: bool = False, dm_only: bool = False
    ) -> None:
        """Show what changed for this person since the last command, as Slack would.

        dm_only: only what stays in their DM (messages and files), for a person
        coming back to the screen.
        """
        changes = self.workspace.changes[self.cursor :]
        self.cursor = len(self.workspace.changes)
        self._say_refusals()
        if dm_only:
            dm = dm_channel_for(self.user.id)
            changes = [
                c
                for c in changes
                if c.kind in {"message", "file", "updated", "deleted"}
                and c.channel == dm
                and c.item.get("user") is None
            ]
            if changes:
                self.note("In your DM with the bot while you were away:")
        numbering = Numbering()
        order: dict[int, tuple[str, Change]] = {}
        modal_moved = False
        home: dict[str, Any] | None = None
        for change in changes:
            if change.kind in {"opened", "pushed", "updated_view", "closed"}:
                modal_moved = modal_moved or change.user == self.user.id
                continue
            if change.kind == "home":
                if change.user == self.user.id:
                    home = change.item
                continue
            if not self._visible(change, everywhere):
                continue
            first = order.get(id(change.item), (change.kind, change))[0]
            order[id(change.item)] = (first, change)
        for first, change in order.values():
            if change.kind == "deleted":
                if first == "deleted":
                    self.note(f"(the bot removed its message in {self.where(change.channel)})")
                continue
            if change.kind == "file":
                where = self.where(change.channel)
                self.say(*render_file(change.item, where=where, style=self.style))
                continue
            numbering.surface = Surface(
                "message",
                change.item,
                ephemeral=any(m is change.item for m in self.workspace.ephemerals),
            )
            updated = change.kind == "updated" and first == "updated"
            self.say(*self._message(change.item, numbering, "(updated)" if updated else ""))
        if home is not None and show_home:
            numbering.surface = Surface("home", home)
            self.say(*render_view(home, style=self.style, names=self.names, numbering=numbering))
        elif home is not None:
            self.note("(your Home tab was updated: type `home` to see it)")
        self._remember(numbering)
        if modal_moved:
            modal = self.workspace.modal_of(self.user.id)
            if modal is None:
                self.note("(form closed)")
                return
            self.show_modal(modal)
            form = self._form(modal)
            if form.fields:
                self.fill(modal, form.fields)
