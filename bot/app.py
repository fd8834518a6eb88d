"""The Bolt app factory. Nothing here runs at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

import handlers
from bot.settings import Settings
from bot.webclient import KeptAliveWebClient, answer_retry_handlers, posting_client
from handlers.directory import Directory
from handlers.identity import People
from handlers.installation import Installation
from handlers.intime import InTime
from handlers.pacing import Pacing
from jobs.news import BackgroundSender
from petition.deliveries import Receipts
from petition.keyring import Keyring
from petition.organizer_actions import OrganizerActions
from petition.organizing import Organizers
from petition.ratelimit import RateLimiter
from petition.worker_actions import WorkerActions
from petition.workspaces import HomeWorkspaces
from storage.db import Database

logger = logging.getLogger(__name__)


# Slack gives us three seconds to answer; a Web API call that hangs longer than
# this is abandoned and the person is asked to try again.
WEB_API_TIMEOUT_SECONDS = 5
# How long start-up waits for the member directory's first reading.
DIRECTORY_START_WAIT_SECONDS = 5.0


class Provide(Middleware):
    """Handlers declare `worker`, `organizer`, `timezone`, `send_updates`, `in_time`,
    `installation`, `people`, `directory` and `pacing` (services built once here,
    never the Database or the Settings); Bolt injects them from the
    context, where this puts them. A Middleware object, not a
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
        retry_handlers=answer_retry_handlers(),
    )


def create_app(
    settings: Settings,
    db: Database,
    client: WebClient | None = None,
    in_time: InTime | None = None,
    keyring: Keyring | None = None,
    limiter: RateLimiter | None = None,
    directory: Directory | None = None,
    pacing: Pacing | None = None,
) -> App:
    """Build the app. Constructing it calls auth.test on the configured Web API.

    `in_time` runs listeners' work so that Slack is answered within its three
    seconds (handlers/intime.py); one is made if none is given. `keyring` is the
    process's (the scheduler shares it); made here if not given. `limiter` is the
    per-person rate limit (petition/ratelimit.py's defaults if None). `directory` is the
    member directory (handlers/directory.py), made and started here if not given;
    `pacing` keeps people's turns at Slack's rate limits (handlers/pacing.py)."""
    client = client or make_client(settings)
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret,
        # Bolt sends the answer when the listener returns; listeners return in
        # time (handlers/intime.py), with the outcome when it is ready by then:
        # an acknowledged signature is a committed one.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )

    if keyring is None and settings.signer_key:
        keyring = settings.keyring()
    if keyring is not None and settings.slack_bot_token:
        news_client = posting_client(settings.slack_api_url, settings.slack_bot_token)
        send_updates: Callable[[], None] = BackgroundSender(db, news_client, keyring)
    else:
        send_updates = lambda: None  # noqa: E731 - nothing to send without a key

    # Which workspace (or organization) this token belongs to: requests naming any
    # other are refused. Read again when Slack says it changed.
    homes = HomeWorkspaces(db, keyring) if keyring is not None else None
    installation = Installation(client, homes)
    installation.start(client)
    if directory is None:
        directory = Directory(client if settings.member_directory else None)
        directory.start(lambda: not installation.current.org_wide)
        # A small workspace is read by then; a large one goes on in the background
        # while requests are served (users.info answers for anyone not read yet).
        directory.wait_loaded(DIRECTORY_START_WAIT_SECONDS)
    # The domain as listeners call it (petition/worker_actions.py,
    # petition/organizer_actions.py): one call per action.
    worker = WorkerActions(db, keyring)
    app.use(
        Provide(
            client,
            worker=worker,
            organizer=OrganizerActions(
                db, keyring, Organizers(settings.organizers), settings.timezone
            ),
            timezone=settings.timezone,
            send_updates=send_updates,
            in_time=in_time or InTime(),
            installation=installation,
            people=People(installation, worker),
            directory=directory,
            pacing=pacing or Pacing(),
        )
    )
    handlers.register(app, limiter or RateLimiter(), Receipts(db), installation)
    return app
