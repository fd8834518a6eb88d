"""The Bolt app factory. Nothing here runs at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

import handlers
from bot.deliveries import Receipts
from bot.ratelimit import RateLimiter
from bot.sealing import Sealer
from bot.settings import Settings
from bot.update_sender import BackgroundSender
from bot.webclient import KeptAliveWebClient
from storage.db import Database

logger = logging.getLogger(__name__)


# Slack gives us three seconds to answer; a Web API call that hangs longer than
# this is abandoned and the person is asked to try again.
WEB_API_TIMEOUT_SECONDS = 5


class Provide(Middleware):
    """Handlers declare `db`, `settings`, `sealer` and `send_updates`; Bolt injects
    them from the context, where this puts them. A Middleware object, not a
    function, which Bolt would build arguments for on every request."""

    def __init__(self, client: WebClient, **services: object) -> None:
        self.client = client
        self.services = services

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        context = req.context
        context.update(self.services)
        # Bolt makes a plain WebClient for each request: this one is the same (its
        # token, its workspace), on the app client's kept-alive connections.
        if isinstance(self.client, KeptAliveWebClient) and context.client is not None:
            context["client"] = self.client.for_request(context.client)
        next()
        return resp


def make_client(settings: Settings) -> WebClient:
    return KeptAliveWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_SECONDS,
    )


def create_app(settings: Settings, db: Database, client: WebClient | None = None) -> App:
    """Build the app. Constructing it calls auth.test on the configured Web API."""
    client = client or make_client(settings)
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret,
        # Handlers finish before Slack gets its answer: an acknowledged signature
        # is a committed one, and no listener outlives its request.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )

    sealer = Sealer(settings.signer_key) if settings.signer_key else None
    send_updates = BackgroundSender(db, client, sealer) if sealer else (lambda: None)

    app.use(Provide(client, db=db, settings=settings, sealer=sealer, send_updates=send_updates))
    # Which workspace (or organization) this token belongs to: requests naming any
    # other are refused.
    installed = client.auth_test()
    handlers.register(
        app,
        RateLimiter(),
        Receipts(db),
        installed_team=installed.get("team_id"),
        installed_enterprise=installed.get("enterprise_id"),
    )
    return app
