"""The console's two ends: lines typed (a terminal or a script) and Slack's side of
the request path (signed bodies dispatched into the app's WSGI entry point; the
local one is in bot/rehearsal.py, next to the app it dispatches into)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterable, Iterator
from typing import Protocol, TextIO

# -- input ------------------------------------------------------------------------


class LineSource:
    """Where typed lines come from: the terminal, or a script echoed as if typed."""

    interactive = False

    def read(self, prompt: str) -> str | None:
        raise NotImplementedError


class TerminalLines(LineSource):
    """Lines typed at a terminal, and Ctrl-C to leave.

    Ctrl-C is a SIGINT, which the kernel gives to any thread that does not block
    it. Given to one of the console's other threads (the fake Slack's, the
    writer's), it never woke the main thread out of readline's wait for a key:
    the console sat at its prompt with the interrupt pending. So the main thread
    blocks SIGINT from the start, every thread it starts inherits that, and it
    lets SIGINT in only while it waits for a line.
    """

    interactive = True

    def __init__(self) -> None:
        # Line editing and in-session history. Deliberately no history file: what
        # people rehearse typing (names, campaign text) stays off disk.
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401
        _mask_interrupt(signal.SIG_BLOCK)

    def read(self, prompt: str) -> str | None:
        try:
            _mask_interrupt(signal.SIG_UNBLOCK)  # a Ctrl-C pending since is raised here
            try:
                return input(prompt)
            finally:
                _mask_interrupt(signal.SIG_BLOCK)
        except EOFError:
            print()
            return None


def _mask_interrupt(how: int) -> None:
    if hasattr(signal, "pthread_sigmask"):  # POSIX; elsewhere Ctrl-C works as it did
        signal.pthread_sigmask(how, {signal.SIGINT})


class ScriptLines(LineSource):
    def __init__(self, lines: Iterable[str], out: TextIO) -> None:
        self._lines: Iterator[str] = iter(lines)
        self._out = out

    def read(self, prompt: str) -> str | None:
        try:
            line = next(self._lines).rstrip("\r\n")
        except StopIteration:
            return None
        self._out.write(f"{prompt}{line}\n")
        return line


# -- Slack's side of the request path ----------------------------------------------


class SlackSide(Protocol):
    """Slack's side of the request path: posts a body into the app as Slack would
    and gives back the status and text of its answer (bot/rehearsal.py signs it
    and dispatches it into the app's WSGI entry point)."""

    def post(self, body: bytes, content_type: str) -> tuple[int, str]: ...
