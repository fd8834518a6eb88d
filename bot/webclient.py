"""The Web API client of the request path: slack_sdk's, on kept-alive connections.

slack_sdk's WebClient sends every call through urllib, which opens a connection
for it and closes it after: with Slack, a TCP and a TLS handshake for every
ephemeral answer, form and Home tab, which costs more than the rest of the call.
This keeps one connection per thread open instead. Only the last step of
slack_sdk's request (bytes out, status, headers and body in) is replaced; the
request is built, retried, rate limited and parsed by slack_sdk as before, and
errors reach it as urllib's would, so that its retry handlers treat them alike.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl
import threading
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import SplitResult, urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)

from blocks.limits import retry_after_seconds

_Key = tuple[str, str, int | None]

# How long a kept connection may have been idle before it is looked at for a close
# by the peer (seconds).
IDLE_BEFORE_LOOKING = 1.0


class Connections:
    """Open connections to Slack, one per thread and server, shared by the clients
    made from one another (Bolt makes a client for every request)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(
        self, parts: SplitResult, timeout: int, context: ssl.SSLContext | None
    ) -> http.client.HTTPConnection:
        kept: dict[_Key, http.client.HTTPConnection] = self._local.__dict__.setdefault("kept", {})
        used: dict[_Key, float] = self._local.__dict__.setdefault("used", {})
        key = (parts.scheme.lower(), parts.hostname or "", parts.port)
        conn = kept.get(key)
        now = time.monotonic()
        # Looked at only after a while idle: a peer closes an idle connection after
        # seconds, not moments, and the look is a system call, which lets the
        # interpreter lock go (2% of a busy DM's CPU, bench/RESULTS.md).
        idle = now - used.get(key, now) >= IDLE_BEFORE_LOOKING
        if idle and conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()  # Slack closed it while idle; http.client opens a new one
        used[key] = now
        if conn is None:
            if key[0] == "https":
                conn = http.client.HTTPSConnection(
                    key[1], key[2], timeout=timeout, context=context or ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(key[1], key[2], timeout=timeout)
            kept[key] = conn
        conn.timeout = timeout
        return conn


class KeptAliveWebClient(WebClient):
    def __init__(self, *args: Any, connections: Connections | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections = connections or Connections()

    def for_request(self, client: WebClient) -> KeptAliveWebClient:
        """A copy of this client for one request, with the token and workspace of
        Bolt's client for it, on this client's connections. A copy, not a new
        client: making one reads the environment and the platform each time."""
        mine = object.__new__(type(self))  # copy.copy, without its generic protocol
        mine.__dict__.update(self.__dict__)
        mine.token = client.token
        mine.default_params = dict(client.default_params)
        mine.retry_handlers = client.retry_handlers  # Bolt's copy for this request
        return mine

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme.lower() not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)
        conn = self.connections.get(parts, self.timeout, self.ssl)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            # As urllib: a failure to send is a URLError; one while reading the
            # answer (a timeout, a reset) reaches slack_sdk as it is.
            try:
                conn.request(
                    req.get_method(), target, body=req.data, headers=dict(req.header_items())
                )
            except OSError as error:
                raise URLError(error) from error
            response = conn.getresponse()
            body = response.read()
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        if not 200 <= response.status < 300:
            raise HTTPError(
                url, response.status, response.reason, response.headers, io.BytesIO(body)
            )
        if response.headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": response.headers, "body": body}
        charset = response.headers.get_content_charset() or "utf-8"
        return {
            "status": response.status,
            "headers": response.headers,
            "body": body.decode(charset),
        }


def _closed_by_peer(sock: Any) -> bool:
    """An idle kept-alive connection with something to read has been closed (or
    sent something unasked): either way it cannot carry the next request."""
    # poll, not select: select() refuses descriptors past FD_SETSIZE (1024), which
    # a busy server (or a long test run) reaches; each call would then look closed
    # and open a new connection.
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


# Posts that must reach Slack once wait at most this long for an answer.
POSTING_TIMEOUT_SECONDS = 15


def posting_client(api_url: str, token: str) -> WebClient:
    """A client for posts that must be made exactly once: announcements and news.

    No automatic retries. slack_sdk's default retries a call after a dropped
    connection, and a chat.postMessage that Slack had accepted before the
    connection dropped would be posted twice. A failed attempt is left in doubt
    instead, and whoever takes it up next looks for its own post before posting
    again (jobs/). Rate limits are handled by the
    callers, who know how long they may wait.
    """
    return WebClient(
        token=token, base_url=api_url, timeout=POSTING_TIMEOUT_SECONDS, retry_handlers=[]
    )


# How long a person's answer may wait out one rate limit, and how many times. Slack's
# Tier 4 methods (views.open, chat.postEphemeral, views.publish) allow bursts and
# clear within a second or two; a trigger_id lasts three seconds.
ANSWER_RETRY_AFTER_LIMIT = 2
ANSWER_RATE_LIMIT_RETRIES = 1


class ShortRateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's retry of a rate-limited call, for someone waiting on an answer:
    it waits out Retry-After only when that is short. A longer wait is left to the
    caller, who can tell the person when to try again or answer them later."""

    def __init__(
        self,
        max_wait_seconds: int = ANSWER_RETRY_AFTER_LIMIT,
        max_retry_count: int = ANSWER_RATE_LIMIT_RETRIES,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after_seconds(response.headers)
        return wait is not None and wait <= self.max_wait_seconds


def answer_retry_handlers() -> list[RetryHandler]:
    """The request path's retries: a dropped connection once (slack_sdk's default:
    an answer sent twice is an ephemeral or a form shown twice, not a post), and a
    short rate limit."""
    return [ConnectionErrorRetryHandler(), ShortRateLimitRetry()]
