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
    # for each matcher it tries: the busiest ones go first (/demands, the one-click
    # signature, the DM, signing's confirmation).
    commands.register(app)
    quicksign.register(app)
    messages.register(app)
    signing.register(app)
    actions.register(app)
    home.register(app)
    admin.register(app)
    campaign_form.register(app)
    news.register(app)
    preview.register(app)
    paging.register(app)
    lifecycle.register(app)
