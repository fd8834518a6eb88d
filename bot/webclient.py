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
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import SplitResult, urlsplit
from urllib.request import Request

from slack_sdk import WebClient

_Key = tuple[str, str, int | None]


class Connections:
    """Open connections to Slack, one per thread and server, shared by the clients
    made from one another (Bolt makes a client for every request)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(
        self, parts: SplitResult, timeout: int, context: ssl.SSLContext | None
    ) -> http.client.HTTPConnection:
        kept: dict[_Key, http.client.HTTPConnection] = self._local.__dict__.setdefault("kept", {})
        key = (parts.scheme.lower(), parts.hostname or "", parts.port)
        conn = kept.get(key)
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()  # Slack closed it while idle; http.client opens a new one
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
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
