"""Socket Mode: the connection `python -m bot run` keeps open to Slack.

Built on slack_sdk's client for the `websocket-client` package rather than its
built-in one. The built-in client noticed a closed or reset connection only at
its next health check (every ping interval: Bolt's default is ten seconds), and
on `refresh_requested` it waited for the old connection's pending read (a three
second timeout it does not let callers change) before reading the new one. The
websocket-client one reconnects as soon as the connection closes; what it lacks,
this adds:

- a pong deadline, so that a connection that went silent (no reset, no close) is
  given up within seconds instead of when TCP notices;
- a session that was created but has not started yet counts as connecting, not
  as lost, so that a health check or the old connection's close during a refresh
  does not ask Slack for yet another URL;
- the loop that starts each new session looks for one more often.
"""

from __future__ import annotations

import logging
import time

from slack_bolt import App
from slack_bolt.adapter.socket_mode.base_handler import BaseSocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.websocket_client import SocketModeClient
from websocket import WebSocketApp

from bot.settings import Settings

# Threads that run listeners (slack_sdk's default, made explicit so that the
# connection pool can match it).
SOCKET_MODE_WORKERS = 10
# A ping every PING_INTERVAL seconds; no pong within PING_TIMEOUT and the
# connection is replaced. Slack answers pings at once.
PING_INTERVAL = 4.0
PING_TIMEOUT = 2.0
# How often the session loop looks for a session to start.
SESSION_LOOP_SECONDS = 0.05


class QuickSocketModeClient(SocketModeClient):
    """slack_sdk's websocket-client Socket Mode client, with the changes above."""

    def __init__(self, *args: object, ping_timeout: float = PING_TIMEOUT, **kwargs: object) -> None:
        self._started: WebSocketApp | None = None
        # The parent's own keyword arguments, passed through untouched.
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.ping_timeout = ping_timeout
        self.current_session_runner.interval_seconds = SESSION_LOOP_SECONDS

    def is_connected(self) -> bool:
        session = self.current_session
        if session is None:
            return False
        # Not started yet: the session loop is about to connect it.
        return session is not self._started or session.sock is not None

    def _run_current_session(self) -> None:
        session = self.current_session
        if session is None or session is self._started:
            return
        self._started = session
        try:
            self.logger.info("Socket Mode: connecting")
            session.run_forever(
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                http_proxy_host=self.http_proxy_host,
                http_proxy_port=self.http_proxy_port,
                http_proxy_auth=self.http_proxy_auth,
                proxy_type=self.proxy_type,
            )
            self.logger.info("Socket Mode: a connection ended")
        except Exception as error:
            self.logger.error("Socket Mode: the connection failed (%s)", type(error).__name__)
            session.close()

    def _monitor_current_session(self) -> None:
        # The health check: a lost connection that nothing replaced (Slack did not
        # hand out a new URL when asked, say) is replaced here.
        if not (self.current_app_monitor_started and self.auto_reconnect_enabled):
            return
        if self.is_connected():
            return
        try:
            self.logger.info("Socket Mode: no connection; connecting again")
            self.connect_to_new_endpoint()
        except Exception as error:
            self.logger.error("Socket Mode: could not reconnect (%s)", type(error).__name__)


class QuickSocketModeHandler(BaseSocketModeHandler):
    """Bolt's Socket Mode adapter on QuickSocketModeClient."""

    def __init__(
        self,
        app: App,
        app_token: str,
        concurrency: int = SOCKET_MODE_WORKERS,
        ping_interval: float = PING_INTERVAL,
        ping_timeout: float = PING_TIMEOUT,
    ) -> None:
        self.app = app
        self.app_token = app_token
        self.client = QuickSocketModeClient(
            app_token=app_token,
            logger=logging.getLogger("slack_bolt.socket_mode"),
            web_client=app.client,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            concurrency=concurrency,
        )
        # slack_sdk types its listeners for its base client; ours is that client too.
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    # Bolt's handler declares the base client; what reaches it is ours (above).
    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.time()
        send_response(client, req, run_bolt_app(self.app, req), start)


def socket_mode_handler(app: App, settings: Settings) -> QuickSocketModeHandler:
    """The handler `python -m bot run` uses (tests build theirs here too)."""
    settings.require_socket()
    assert settings.slack_app_token is not None
    return QuickSocketModeHandler(app, settings.slack_app_token)
