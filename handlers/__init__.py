"""Slack-facing listeners: translate Slack into domain calls and back into Block Kit."""

from __future__ import annotations

from slack_bolt import App

from handlers import (
    actions,
    admin,
    campaign_form,
    commands,
    errors,
    home,
    lifecycle,
    messages,
    middleware,
    news,
    paging,
    preview,
    quicksign,
    signing,
)
from handlers.installation import Installation
from petition.deliveries import Receipts
from petition.ratelimit import RateLimiter


def register(
    app: App, limiter: RateLimiter, receipts: Receipts, installation: Installation
) -> None:
    middleware.register(app, limiter, receipts, installation)
    errors.register(app)
    # Bolt tries listeners in the order they were registered, building arguments
    # for each matcher it tries (about 15 us apiece): the busiest go first, those
    # bench/run.py holds to a ratio of bare Bolt's throughput ahead of the rest
    # (/demands, the signing form's confirmation, the DM), then the one-click
    # signature, whose pace Slack's rate limits set.
    commands.register(app)
    signing.register_confirmation(app)
    messages.register(app)
    quicksign.register(app)
    signing.register(app)
    actions.register(app)
    home.register(app)
    admin.register(app)
    campaign_form.register(app)
    news.register(app)
    preview.register(app)
    paging.register(app)
    lifecycle.register(app)
