"""bot/webclient.py: Web API calls on kept-alive connections, as slack_sdk would
make them otherwise (errors included: test_faults.py drives those through the app)."""

from __future__ import annotations

import json
import os
import resource
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError

from bot.webclient import IDLE_BEFORE_LOOKING, KeptAliveWebClient, answer_retry_handlers
from console.server import FakeSlack


def test_calls_share_one_connection(fake_slack: FakeSlack) -> None:
    client = KeptAliveWebClient(token="xoxb-test-token", base_url=fake_slack.api_url, timeout=5)
    assert client.auth_test()["ok"]
    (conn,) = client.connections._local.kept.values()
    first = conn.sock
    assert first is not None
    assert client.auth_test()["ok"]
    assert conn.sock is first  # the same socket carried the second call


def test_a_connection_past_descriptor_1024_is_kept_too(fake_slack: FakeSlack) -> None:
    """select() refuses descriptors past FD_SETSIZE; a busy server has them. The
    kept connection must not be taken for closed there (it failed once in a full
    test run, whose descriptors had passed 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("this machine allows fewer than 1,200 open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        client = KeptAliveWebClient(token="xoxb-test-token", base_url=fake_slack.api_url)
        assert client.auth_test()["ok"]
        (conn,) = client.connections._local.kept.values()
        first = conn.sock
        assert first is not None
        assert first.fileno() >= 1024
        assert client.auth_test()["ok"]
        assert conn.sock is first
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_copy_for_a_request_shares_connections_not_its_token(fake_slack: FakeSlack) -> None:
    app_client = KeptAliveWebClient(token="xoxb-test-token", base_url=fake_slack.api_url)
    bolt_client = KeptAliveWebClient(token="xoxb-other", base_url=fake_slack.api_url)
    bolt_client.default_params["team_id"] = "T0OTHER"
    mine = app_client.for_request(bolt_client)
    assert mine.connections is app_client.connections
    assert (mine.token, mine.default_params) == ("xoxb-other", {"team_id": "T0OTHER"})
    mine.default_params["team_id"] = "T0CHANGED"
    assert app_client.default_params == {}  # the app's client is not touched
    assert app_client.token == "xoxb-test-token"


def test_slack_errors_reach_slack_sdk_as_before(fake_slack: FakeSlack) -> None:
    client = KeptAliveWebClient(token=None, base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0NOPE", text="hello")
    assert raised.value.response["error"] == "not_authed"


class _OneAnswerPerConnection:
    """An HTTP/1.1 server that answers one request per connection, keeps it open
    as if it would take another, then closes it: what a load balancer does to
    connections that sit idle."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/api/"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += conn.recv(65536)
                answer = json.dumps({"ok": True, "user_id": "U0BOT"}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
            self._closed.set()

    def start(self) -> _OneAnswerPerConnection:
        self._thread.start()
        return self

    def wait_closed(self) -> None:
        assert self._closed.wait(5)
        self._closed.clear()


@pytest.fixture
def closing_server() -> Iterator[_OneAnswerPerConnection]:
    server = _OneAnswerPerConnection().start()
    yield server
    server.sock.close()


def test_a_connection_closed_while_idle_is_replaced(
    closing_server: _OneAnswerPerConnection,
) -> None:
    # No retries: slack_sdk's would hide a call that failed on the dead connection.
    client = KeptAliveWebClient(
        token="xoxb-test-token", base_url=closing_server.url, timeout=5, retry_handlers=[]
    )
    assert client.auth_test()["ok"]
    closing_server.wait_closed()
    time.sleep(IDLE_BEFORE_LOOKING + 0.1)  # idle: looked at before it is used again
    # The kept connection is dead; the next call goes out on a new one, at once
    # (not after slack_sdk's retry back-off), and nothing is sent twice.
    assert client.auth_test()["ok"]
    closing_server.wait_closed()
    assert closing_server.connections == 2


def test_a_connection_closed_moments_after_its_answer_costs_one_retry(
    closing_server: _OneAnswerPerConnection,
) -> None:
    """Not looked at so soon (the look costs every call a system call): the call
    fails on it and the answer client's retry of a dropped connection sends it
    again, on a new one. The server got it once."""
    client = KeptAliveWebClient(
        token="xoxb-test-token",
        base_url=closing_server.url,
        timeout=5,
        retry_handlers=answer_retry_handlers(),
    )
    assert client.auth_test()["ok"]
    closing_server.wait_closed()
    assert client.auth_test()["ok"]
    closing_server.wait_closed()
    assert closing_server.connections == 2  # one answer on each
