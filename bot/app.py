"""The Bolt app factory. Nothing here runs at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

import handlers
from bot.ratelimit import RateLimiter
from bot.sealing import Sealer
from bot.settings import Settings
from bot.update_sender import BackgroundSender
from storage.db import Database

logger = logging.getLogger(__name__)


# Slack gives us three seconds to answer; a Web API call that hangs longer than
# this is abandoned and the person is asked to try again.
WEB_API_TIMEOUT_SECONDS = 5


def make_client(settings: Settings) -> WebClient:
    return WebClient(
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

    def provide(context: BoltContext, next: Callable[[], None]) -> None:
        # Handlers declare `db`, `settings` and `sealer`; Bolt injects them from context.
        context["db"] = db
        context["settings"] = settings
        context["sealer"] = sealer
        context["send_updates"] = send_updates
        next()

    app.use(provide)
    # Which workspace (or organization) this token belongs to: requests naming any
    # other are refused.
    installed = client.auth_test()
    handlers.register(
        app,
        RateLimiter(),
        installed_team=installed.get("team_id"),
        installed_enterprise=installed.get("enterprise_id"),
    )
    return app
