"""Socket Mode as Slack speaks it. Slack's end is played by a tiny WebSocket server
on loopback (the handshake and framing of RFC 6455, stdlib only) that greets each
connection with `hello`, wraps every request in an envelope and waits for its
acknowledgement; the bot's end is the real one, built as `python -m bot run`
builds it (bot/socketmode.py).

What Slack does that these play: a first delivery of an event carries
`"retry_attempt": 0, "retry_reason": ""`; a redelivery after a lost
acknowledgement carries `retry_attempt: 1` and the same event id; a connection
can be cut mid-frame or reset without a close frame; and Slack asks for a new
connection with a `disconnect` message (`reason: refresh_requested`) before it
closes the old one."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.socketmode import socket_mode_handler
from console.payloads import app_home_opened_body, message_im_body
from console.server import FakeSlack
from console.workspace import TEAM_ID
from storage.db import Database
from tests.support.running import ALICE, SIGNER_KEY, RunningBot, SlackDriver, make_settings

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class WebSocket:
    """The server side of one WebSocket connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_frames, daemon=True)
        self._reader.start()

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _read_frames(self) -> None:
        try:
            while True:
                first, second = self._exactly(2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self._exactly(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self._exactly(8))
                mask = self._exactly(4) if second & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._exactly(length)))
                if opcode == PING:
                    self._send(PONG, payload)
                elif opcode == TEXT:
                    self.received.put(json.loads(payload))
                elif opcode == CLOSE:
                    # RFC 6455: answer a close frame with one, then hang up.
                    with contextlib.suppress(OSError):
                        self._send(CLOSE, payload[:2])
                        self.sock.close()
                    return
        except (OSError, ConnectionError, ValueError):
            return

    def _send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        with self._send_lock:
            self.sock.sendall(header + payload)

    def send_json(self, message: dict[str, Any]) -> None:
        self._send(TEXT, json.dumps(message).encode())

    def cut_mid_frame(self, message: dict[str, Any]) -> None:
        """Start sending a message, then lose the connection half way through it."""
        payload = json.dumps(message).encode()
        frame = struct.pack("!BBH", 0x80 | TEXT, 126, len(payload)) + payload
        with self._send_lock:
            self.sock.sendall(frame[: len(frame) // 2])
        self.drop()

    def acknowledgement(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        """The bot's answer to one envelope (other messages are set aside)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no acknowledgement of {envelope_id}")
            try:
                reply = self.received.get(timeout=left)
            except queue.Empty:
                continue
            if reply.get("envelope_id") == envelope_id:
                return reply

    def close_cleanly(self) -> None:
        """What Slack does when it recycles a connection: a close frame, then EOF
        (nothing, if the bot hung up first)."""
        with contextlib.suppress(OSError):
            self._send(CLOSE, struct.pack("!H", 1001) + b"going away")
            self.sock.close()

    def drop(self) -> None:
        """A connection lost without a word: a reset, no close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The reader thread's pending recv keeps the socket open past close(), and
        # the reset would wait for it: wake it first.
        self.sock.shutdown(socket.SHUT_RD)
        self._reader.join(timeout=5)
        self.sock.close()


class SocketModeServer:
    """Accepts WebSocket connections and greets each with Slack's `hello`."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections: queue.Queue[WebSocket] = queue.Queue()
        self.accepted = 0
        self.everyone: list[WebSocket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.listener.getsockname()[1]}/link/?ticket=test"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                request += chunk
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())  # noqa: S324 - RFC 6455
            sock.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.accepted += 1
            connection = WebSocket(sock)
            self.everyone.append(connection)
            connection.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
            self.connections.put(connection)

    def next_connection(self, timeout: float = 10) -> WebSocket:
        return self.connections.get(timeout=timeout)

    def stop(self) -> None:
        self.listener.close()
        for connection in self.everyone:
            connection.sock.close()


def demands_envelope() -> dict[str, Any]:
    """`/demands` as Socket Mode carries it: the command's fields in an envelope."""
    return {
        "envelope_id": str(uuid.uuid4()),
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "unused",
            "team_id": TEAM_ID,
            "team_domain": "undersigned-demo",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": ALICE.id,
            "user_name": "alice",
            "command": "/demands",
            "text": "",
            "api_app_id": "A0UNDRSGN",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.invalid/commands/1",
            "trigger_id": "1.2.3",
        },
    }


def events_envelope(
    event_body: bytes | dict[str, Any], retry_attempt: int = 0, retry_reason: str = ""
) -> dict[str, Any]:
    """An Events API delivery as Socket Mode carries it. A first delivery says
    `retry_attempt: 0` and an empty reason; a redelivery keeps the event (and its
    event_id) and comes in a new envelope."""
    payload = json.loads(event_body) if isinstance(event_body, bytes) else event_body
    return {
        "envelope_id": str(uuid.uuid4()),
        "payload": payload,
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry_attempt,
        "retry_reason": retry_reason,
    }


def ask(connection: WebSocket) -> dict[str, Any]:
    """Send /demands over this connection; the bot's acknowledgement, with its answer."""
    envelope = demands_envelope()
    connection.send_json(envelope)
    return connection.acknowledgement(envelope["envelope_id"])


def deliver(connection: WebSocket, envelope: dict[str, Any]) -> dict[str, Any]:
    connection.send_json(envelope)
    return connection.acknowledgement(envelope["envelope_id"])


def wait_for(condition: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def ephemerals(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls_to("chat.postEphemeral") if c.params["user"] == ALICE.id]


def settle(seconds: float = 0.5) -> None:
    """Give anything the bot might still do a moment to show up at the fake."""
    time.sleep(seconds)


@pytest.fixture
def socket_mode(
    fake_slack: FakeSlack, db: Database, database_url: str
) -> Iterator[tuple[SocketModeServer, Any]]:
    server = SocketModeServer()
    fake_slack.socket_mode_url = server.url
    settings = make_settings(fake_slack, database_url, SLACK_APP_TOKEN="xapp-1-A0UNDRSGN-test")
    app = create_app(settings, db)
    RunningBot(settings, db, SlackDriver("", fake_slack), fake_slack).import_campaign()
    # Built as `python -m bot run` builds it, with the same settings.
    handler = socket_mode_handler(app, settings)
    handler.connect()
    try:
        yield server, handler
    finally:
        # Stop reconnecting first, then hang up: the client's reader wakes at once
        # instead of waiting out its receive timeout.
        handler.client.auto_reconnect_enabled = False
        if hasattr(handler.client, "default_auto_reconnect_enabled"):
            handler.client.default_auto_reconnect_enabled = False
        server.stop()
        handler.close()


# -- events: first deliveries and redeliveries -------------------------------------


def test_a_first_delivery_of_a_dm_is_answered(socket_mode, fake_slack):
    server, _ = socket_mode
    connection = server.next_connection()
    deliver(connection, events_envelope(message_im_body("status", ALICE.id)))
    assert wait_for(lambda: len(ephemerals(fake_slack)) == 1)
    assert "We won't build it" in json.dumps(ephemerals(fake_slack)[0]["blocks"])


def test_a_first_home_tab_open_is_answered(socket_mode, fake_slack):
    server, _ = socket_mode
    connection = server.next_connection()
    deliver(connection, events_envelope(app_home_opened_body(ALICE.id)))
    assert wait_for(lambda: len(fake_slack.calls_to("views.publish")) == 1)
    assert fake_slack.calls_to("views.publish")[0].params["user_id"] == ALICE.id


def test_a_redelivery_after_a_lost_first_delivery_is_answered_once(socket_mode, fake_slack):
    server, _ = socket_mode
    first = server.next_connection()
    body = message_im_body("status", ALICE.id)
    # The first delivery is cut off half way: the bot never reads it whole.
    first.cut_mid_frame(events_envelope(body))
    second = server.next_connection()
    deliver(second, events_envelope(body, retry_attempt=1, retry_reason="timeout"))
    assert wait_for(lambda: len(ephemerals(fake_slack)) == 1)
    settle()
    assert len(ephemerals(fake_slack)) == 1


def test_a_redelivery_of_an_answered_event_is_acknowledged_and_not_acted_on(
    socket_mode, fake_slack
):
    server, _ = socket_mode
    connection = server.next_connection()
    body = message_im_body("status", ALICE.id)
    deliver(connection, events_envelope(body))
    assert wait_for(lambda: len(ephemerals(fake_slack)) == 1)
    # Slack did not get that acknowledgement (say): the same event comes again.
    for attempt in (1, 2):
        ack = deliver(connection, events_envelope(body, attempt, "timeout"))
        assert "payload" not in ack or not ack["payload"]
    settle()
    assert len(ephemerals(fake_slack)) == 1


# -- the connection: drops, resets and refreshes -------------------------------------


@pytest.mark.parametrize("how", ["close_cleanly", "drop"])
def test_a_dropped_connection_is_replaced_within_seconds_and_answers(socket_mode, fake_slack, how):
    server, _ = socket_mode
    first = server.next_connection()
    answer = ask(first)["payload"]
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["text"]["text"] == "We won't build it"

    dropped_at = time.monotonic()
    getattr(first, how)()

    second = server.next_connection()
    away = time.monotonic() - dropped_at
    assert away < 3, f"away for {away:.1f} s"
    assert server.accepted == 2
    # A fresh URL was asked for, as Slack requires for each connection.
    assert len(fake_slack.calls_to("apps.connections.open")) == 2
    answer = ask(second)["payload"]
    assert answer["blocks"][0]["text"]["text"] == "We won't build it"


def test_refresh_requested_moves_to_a_new_connection_without_a_pause(socket_mode, fake_slack):
    server, _ = socket_mode
    first = server.next_connection()
    ask(first)
    asked_at = time.monotonic()
    first.send_json(
        {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "test"}}
    )
    second = server.next_connection(timeout=10)
    assert time.monotonic() - asked_at < 3
    # Slack sends new requests over the new connection at once.
    sent_at = time.monotonic()
    answer = ask(second)["payload"]
    waited = time.monotonic() - sent_at
    assert answer["blocks"][0]["text"]["text"] == "We won't build it"
    assert waited < 1, f"the command waited {waited:.1f} s"
    # Slack closes the old connection a little later; nothing is lost.
    first.close_cleanly()
    settle()
    assert ask(second)["payload"]["response_type"] == "ephemeral"


def test_an_envelope_is_acknowledged_in_time_whatever_the_web_api_takes(socket_mode, fake_slack):
    server, _ = socket_mode
    connection = server.next_connection()
    fake_slack.delay("chat.postEphemeral", 3.5)
    sent_at = time.monotonic()
    deliver(connection, events_envelope(message_im_body("status", ALICE.id)))
    took = time.monotonic() - sent_at
    assert took < 3, f"acknowledged after {took:.2f} s"
    assert wait_for(lambda: len(ephemerals(fake_slack)) == 1)


def test_the_run_command_in_socket_mode_answers_a_first_delivery(
    fake_slack: FakeSlack, database_url: str, db: Database, tmp_path: Path
):
    """`python -m bot run` as an operator starts it, with SLACK_APP_TOKEN set."""
    from tests.support.cli import base_env

    server = SocketModeServer()
    fake_slack.socket_mode_url = server.url
    settings = make_settings(fake_slack, database_url)
    RunningBot(settings, db, SlackDriver("", fake_slack), fake_slack).import_campaign()
    env = {
        **base_env(),
        "DATABASE_URL": database_url,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_APP_TOKEN": "xapp-1-A0UNDRSGN-test",
        "SIGNER_KEY": SIGNER_KEY,
    }
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        connection = server.next_connection(timeout=30)
        deliver(connection, events_envelope(message_im_body("status", ALICE.id)))
        assert wait_for(lambda: len(ephemerals(fake_slack)) == 1), (
            tmp_path / "run.log"
        ).read_text()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        log.close()
        server.stop()
