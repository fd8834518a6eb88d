"""The tests' own HTTP client: a server that is gone is an OSError, never a crash
of the client (tests that kill the server count such requests as unanswered)."""

from __future__ import annotations

import http.client

import pytest

from tests.support.httpclient import get


def test_a_connection_reset_while_connecting_is_an_oserror(monkeypatch: pytest.MonkeyPatch):
    # What a server killed mid-load does to the next connection: reset it. Before
    # the fix this reached getresponse() with no socket: AttributeError.
    def reset(*_args: object, **_kwargs: object) -> None:
        raise ConnectionResetError("reset by peer")

    monkeypatch.setattr(http.client.socket, "create_connection", reset)
    with pytest.raises(ConnectionResetError, match="reset by peer"):
        get("http://127.0.0.1:9/healthz")
