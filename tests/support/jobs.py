"""The scheduled jobs, run as `python -m bot announce` runs them: an engine of
their own for the run (another process, in production), and a posting client."""

from __future__ import annotations

from bot.settings import Settings
from bot.webclient import posting_client
from jobs.announce import RunReport, announce_job, close_job
from storage.db import Database


def _client(settings: Settings):  # type: ignore[no-untyped-def]
    assert settings.slack_bot_token is not None
    return posting_client(settings.slack_api_url, settings.slack_bot_token)


def announce(settings: Settings) -> RunReport:
    db = Database.from_url(settings.database_url)
    try:
        return announce_job(db, _client(settings))
    finally:
        db.dispose()


def close(settings: Settings, slug: str | None = None) -> RunReport:
    db = Database.from_url(settings.database_url)
    try:
        return close_job(db, _client(settings), slug)
    finally:
        db.dispose()
