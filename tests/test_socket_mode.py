"""Socket Mode: when Slack drops the WebSocket, the bot connects again and goes on
answering. Slack's end is played by a tiny WebSocket server on loopback (the
handshake and framing of RFC 6455, stdlib only); the bot's end is the real one,
Bolt's SocketModeHandler on slack_sdk's built-in client, as `python -m bot run`
uses it."""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import socket
import struct
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import create_app
from bot.fakeslack import TEAM_ID, FakeSlack
from storage.db import Database
from tests.conftest import ALICE, RunningBot, SlackDriver, make_settings

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

    def close_cleanly(self) -> None:
        """What Slack does when it recycles a connection: a close frame, then EOF."""
        self._send(CLOSE, struct.pack("!H", 1001) + b"going away")
        self.sock.close()

    def drop(self) -> None:
        """A connection lost without a word: a reset, no close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
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


def ask(connection: WebSocket) -> dict[str, Any]:
    """Send /demands over this connection; the bot's acknowledgement, with its answer."""
    envelope = demands_envelope()
    connection.send_json(envelope)
    while True:
        reply = connection.received.get(timeout=10)
        if reply.get("envelope_id") == envelope["envelope_id"]:
            return reply


@pytest.fixture
def socket_mode(
    fake_slack: FakeSlack, db: Database, database_url: str
) -> Iterator[tuple[SocketModeServer, SocketModeHandler]]:
    server = SocketModeServer()
    fake_slack.socket_mode_url = server.url
    settings = make_settings(fake_slack, database_url)
    app = create_app(settings, db)
    RunningBot(settings, db, SlackDriver("", fake_slack), fake_slack).import_campaign()
    # A short ping interval, so that a silent drop is noticed in a second, not ten.
    handler = SocketModeHandler(app, "xapp-1-A0UNDRSGN-test", ping_interval=1)
    handler.connect()
    try:
        yield server, handler
    finally:
        # Stop reconnecting first, then hang up: the client's reader wakes at once
        # instead of waiting out its receive timeout.
        handler.client.default_auto_reconnect_enabled = False
        handler.client.auto_reconnect_enabled = False
        server.stop()
        handler.close()


@pytest.mark.parametrize("how", ["close_cleanly", "drop"])
def test_a_dropped_socket_mode_connection_reconnects_and_answers(socket_mode, fake_slack, how):
    server, _ = socket_mode
    first = server.next_connection()
    answer = ask(first)["payload"]
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["text"]["text"] == "We won't build it"

    getattr(first, how)()

    second = server.next_connection()
    assert server.accepted == 2
    # A fresh URL was asked for, as Slack requires for each connection.
    assert len(fake_slack.calls_to("apps.connections.open")) == 2
    answer = ask(second)["payload"]
    assert answer["blocks"][0]["text"]["text"] == "We won't build it"
