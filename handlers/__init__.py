"""Slack-facing listeners: translate Slack into domain calls and back into Block Kit."""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, admin, commands, errors, home, messages, middleware, signing


def register(app: App) -> None:
    middleware.register(app)
    errors.register(app)
    commands.register(app)
    actions.register(app)
    signing.register(app)
    messages.register(app)
    home.register(app)
    admin.register(app)
