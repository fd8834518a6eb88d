"""A tiny HTTP client for tests: no retries, no redirects, status and body back."""

from __future__ import annotations

import contextlib
import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class HttpResult:
    status: int
    body: str
    headers: dict[str, str]


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> HttpResult:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        # Connected first, so that a server that is gone (killed, restarting) is an
        # OSError here: suppressed below, http.client would go on to read an answer
        # from no socket at all and raise AttributeError.
        conn.connect()
        # The server may answer (413) and close before a huge body is sent; its
        # answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read().decode("utf-8", errors="replace")
        return HttpResult(response.status, data, {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> HttpResult:
    return request("POST", url, body, headers, timeout)


def get(url: str) -> HttpResult:
    return request("GET", url)
