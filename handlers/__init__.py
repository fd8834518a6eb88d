"""Slack-facing listeners: translate Slack into domain calls and back into Block Kit."""

from __future__ import annotations

from slack_bolt import App

from bot.deliveries import Receipts
from bot.ratelimit import RateLimiter
from handlers import actions, admin, commands, errors, home, messages, middleware, signing


def register(
    app: App,
    limiter: RateLimiter,
    receipts: Receipts,
    installed_team: str | None = None,
    installed_enterprise: str | None = None,
) -> None:
    middleware.register(app, limiter, receipts, installed_team, installed_enterprise)
    errors.register(app)
    # Bolt tries listeners in the order they were registered, building arguments
    # for each matcher it tries: the busiest ones go first (/demands, the DM,
    # signing's confirmation).
    commands.register(app)
    messages.register(app)
    signing.register(app)
    actions.register(app)
    home.register(app)
    admin.register(app)
