"""Slack-facing listeners: translate Slack into domain calls and back into Block Kit."""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, commands, errors


def register(app: App) -> None:
    errors.register(app)
    commands.register(app)
    actions.register(app)
