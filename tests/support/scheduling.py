"""A real scheduler, started and waited on."""

from __future__ import annotations

import time
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from bot.scheduler import start_scheduler
from bot.settings import Settings
from storage.db import Database

# Far from any test run: the cron job only runs when a test makes it.
NEVER_SOON = "0 3 29 2 *"


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def start(
    settings: Settings, db: Database, schedulers: list[BackgroundScheduler]
) -> BackgroundScheduler:
    scheduler = start_scheduler(settings, db)
    schedulers.append(scheduler)
    return scheduler
