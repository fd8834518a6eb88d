"""HTTP mode: a WSGI application served by waitress (threaded, production grade).

`POST /slack/events` carries commands, events and interactivity; `GET /healthz`
answers 200 when the database does.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from slack_bolt import App, BoltRequest
from slack_bolt.request.payload_utils import (
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)
from slack_sdk.signature import SignatureVerifier

from bot.health import database_problem
from bot.replay import SeenSignatures
from handlers.intime import ACKNOWLEDGED, IN_TIME_WORKERS
from petition.deliveries import Receipts
from storage.db import Database

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Slack's largest payloads (view submissions) are far below this. Waitress is
# given one byte more so that our own check answers, with the JSON error.
MAX_BODY_BYTES = 1024 * 1024

StartResponse = Callable[..., Any]


def _reply(
    start_response: StartResponse, status: int, body: str | bytes, headers: dict[str, str]
) -> Iterable[bytes]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    header_list = [*headers.items(), ("Content-Length", str(len(data)))]
    start_response(f"{status} {HTTPStatus(status).phrase}", header_list)
    return [data]


def _json(start_response: StartResponse, status: int, payload: dict[str, Any]) -> Iterable[bytes]:
    return _reply(start_response, status, json.dumps(payload), {"Content-Type": "application/json"})


# Bolt hands each of these views of the body to every middleware and listener, and
# takes the shape of the parts they read (`view.type`, `event.type`, `actions[0]`)
# on trust: Slack's payloads always have it. A signed body without it would
# raise inside Bolt, outside any handler, and come back as a 500.
_BOLT_PAYLOAD_VIEWS = (
    to_options,
    to_shortcut,
    to_action,
    to_view,
    to_command,
    to_event,
    to_message,
    to_step,
)


# Parts of Slack's payloads that are always objects (or an id, or null), and
# lists of objects: Bolt reads into them with .get(), `in` and [] as it routes.
_OBJECT_OR_ID = ("team", "user", "channel", "enterprise")
_OBJECT_OR_NULL = ("message", "previous_message", "item")
_OBJECT = ("view", "event", "container", "state")
_LIST_OF_OBJECTS = ("actions", "authorizations", "response_urls")


def _state_has_slacks_shape(state: Any) -> bool:
    """Form state: {block_id: {action_id: element}}, each element an object."""
    values = state.get("values", {}) if isinstance(state, dict) else None
    return isinstance(values, dict) and all(
        isinstance(block, dict) and all(isinstance(element, dict) for element in block.values())
        for block in values.values()
    )


def _view_has_slacks_shape(view: dict[str, Any]) -> bool:
    """A modal as Slack hands it back: blocks, state, and our metadata as text."""
    blocks = view.get("blocks", [])
    return (
        isinstance(blocks, list)
        and all(isinstance(block, dict) for block in blocks)
        and _state_has_slacks_shape(view.get("state", {}))
        and isinstance(view.get("private_metadata", ""), str)
        and isinstance(view.get("callback_id", ""), str)
    )


def _has_slacks_shape(body: dict[str, Any]) -> bool:
    if any(not isinstance(body.get(key), dict | str | None) for key in _OBJECT_OR_ID):
        return False
    if any(not isinstance(body.get(key), dict | None) for key in _OBJECT_OR_NULL):
        return False
    if any(key in body and not isinstance(body[key], dict) for key in _OBJECT):
        return False
    for key in _LIST_OF_OBJECTS:
        items = body.get(key)
        if items is not None and not (
            isinstance(items, list) and all(isinstance(item, dict) for item in items)
        ):
            return False
    if body.get("type") == "block_actions" and not all(
        "action_id" in action for action in body.get("actions") or [{}]
    ):
        return False
    view = body.get("view")
    if not _state_has_slacks_shape(body.get("state", {})) or (
        isinstance(view, dict) and not _view_has_slacks_shape(view)
    ):
        return False
    try:
        for payload_view in _BOLT_PAYLOAD_VIEWS:
            payload_view(body)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        return False
    return True


# What an event's acknowledgement is, whatever becomes of the event: Slack reads
# nothing in it but the status.
_EVENT_ACKNOWLEDGEMENT = [("Content-Type", "text/plain;charset=utf-8"), ("Content-Length", "0")]


class SlackWSGI:
    """The Bolt app over WSGI, behind our own signature, replay and shape checks.

    With `events_first_acknowledged` (what `python -m bot serve` uses), an event
    (`event_callback`: a DM, the Home tab, a profile change) is acknowledged as soon
    as it is verified, and then acted on by the same server thread. Its
    acknowledgement is an empty 200 in every case (acted on, a redelivery left
    alone, rate limited, refused, failed), so nothing it could say waits for the
    work, and the work needs no hand-over to another thread to keep Slack's three
    seconds (handlers/intime.py runs it in place). The connection takes its next
    request once the work is done, as before. Without it, as the tests' servers
    mostly run, the event is acted on before it is acknowledged, in time.
    """

    def __init__(
        self,
        app: App,
        db: Database,
        signing_secret: str,
        events_first_acknowledged: bool = False,
    ) -> None:
        self.app = app
        self.db = db
        self.events_first_acknowledged = events_first_acknowledged
        self.verifier = SignatureVerifier(signing_secret)
        # Several replicas share a PostgreSQL database: a replay is refused by all.
        self.seen = SeenSignatures(shared=None if db.is_sqlite else Receipts(db).claim)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in {"GET", "HEAD"}:
            return self._health(start_response)
        if path != EVENTS_PATH:
            return _json(start_response, 404, {"error": "not found"})
        if method != "POST":
            return _json(start_response, 405, {"error": "method not allowed"})
        return self._events(environ, start_response)

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        problem = database_problem(self.db)
        if problem is None:
            return _json(start_response, 200, {"status": "ok"})
        logger.error("health check failed: %s", problem)
        return _json(start_response, 503, {"status": problem})

    def _events(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            logger.warning("refused a request body of unacceptable length")
            return _json(start_response, 413, {"error": "payload too large"})
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        # Verify before parsing, so nothing unauthenticated reaches a parser.
        try:
            valid = self.verifier.is_valid_request(raw, headers)
        except (ValueError, TypeError):  # a timestamp header that is not a number
            valid = False
        if not valid:
            logger.warning("refused a request with a missing, forged or stale signature")
            return _json(start_response, 401, {"error": "invalid request"})
        if not self.seen.first_time(
            headers.get("x-slack-signature", ""), headers.get("x-slack-request-timestamp", "")
        ):
            if headers.get("x-slack-retry-num"):
                # Slack's own redelivery of an event, with the same signature:
                # answered, and left alone (each event is acted on once anyway,
                # petition/deliveries.py), so that Slack does not count a failure.
                logger.info("a redelivery with a signature seen before was not acted on again")
                return _json(start_response, 200, {})
            logger.warning("refused a signed request seen before (a replay)")
            return _json(start_response, 401, {"error": "invalid request"})
        try:
            body = raw.decode("utf-8")
            request = BoltRequest(body=body, query=environ.get("QUERY_STRING", ""), headers=headers)
        except (
            UnicodeDecodeError,
            ValueError,
            TypeError,
            AttributeError,
            LookupError,
            RecursionError,
        ):
            # Bolt reads some fields as it builds the request (LookupError), and
            # JSON can nest deeper than the parser's stack (RecursionError).
            logger.warning("refused a signed request whose body could not be parsed")
            return _json(start_response, 400, {"error": "malformed body"})
        if not isinstance(request.body, dict) or not _has_slacks_shape(request.body):
            logger.warning("refused a signed request whose body is not shaped as Slack's are")
            return _json(start_response, 400, {"error": "malformed body"})
        if self.events_first_acknowledged and request.body.get("type") == "event_callback":
            write = start_response("200 OK", _EVENT_ACKNOWLEDGEMENT)
            write(b"")  # the status line and headers go out now, before the work
            request.context[ACKNOWLEDGED] = True
            try:
                self.app.dispatch(request)
            except Exception:
                logger.exception("event dispatch failed after its acknowledgement")
            return []
        try:
            response = self.app.dispatch(request)
        except Exception:
            logger.exception("request dispatch failed")
            return _json(start_response, 500, {"error": "internal error"})
        response_headers = {
            k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in response.headers.items()
        }
        return _reply(start_response, response.status, response.body or "", response_headers)


def connections_for(threads: int) -> int:
    """The database connections a process serving Slack on `threads` threads needs:
    one for each of them and for each thread that works on after an acknowledgement
    (handlers/intime.py), and some for the scheduler's jobs, the signature writer
    and the news sender. Fewer, and a burst waits for a connection instead of the
    database (SQLAlchemy's pool_timeout, 30 s: far past Slack's three)."""
    return threads + IN_TIME_WORKERS + 4


def serve(wsgi_app: SlackWSGI, host: str, port: int, threads: int = 16) -> None:
    from waitress import serve as waitress_serve

    logger.info("serving Slack requests on http://%s:%d%s", host, port, EVENTS_PATH)
    waitress_serve(
        wsgi_app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=MAX_BODY_BYTES + 1,
        ident="undersigned",
        clear_untrusted_proxy_headers=True,
    )


class BackgroundServer:
    """Waitress in a thread of this process, on a free loopback port by default.

    For tests, the benchmark and the offline console: the loop runs in short
    steps so that stop() can close the sockets from the loop's own thread.
    """

    def __init__(
        self,
        wsgi_app: Callable[..., Iterable[bytes]],
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 8,
    ) -> None:
        from waitress.server import create_server

        self.server = create_server(
            wsgi_app,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=MAX_BODY_BYTES + 1,
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="waitress", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.effective_port}"

    def _run(self) -> None:
        server = self.server
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        server.close()

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)
