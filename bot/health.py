"""Whether a running process may go on with its database: for /healthz, and for
Socket Mode, which has no HTTP endpoint and checks itself."""

from __future__ import annotations

import logging
import threading

from storage.db import Database

logger = logging.getLogger(__name__)

# How often a Socket Mode process checks itself.
CHECK_SECONDS = 10.0


def database_problem(db: Database) -> str | None:
    """Why this process should not go on with its database, or None when it may.

    A database file deleted or replaced under the process (an operator's mistake,
    or a bug like the one that made every engine reopen the file) means that
    what it writes from now on is lost at the next restart: stop and restart.
    """
    replaced = db.replaced_files()
    if replaced:
        return (
            f"the database file(s) {', '.join(replaced)} were deleted or replaced while "
            "this process had them open; restart it now (writes since then may be lost)"
        )
    if not db.ping():
        return "the database does not answer"
    return None


def watch(db: Database, stop: threading.Event, every: float = CHECK_SECONDS) -> int:
    """Check the database until `stop` is set (0) or it goes wrong (1, logged once).

    For a process with no health endpoint: exiting non-zero is how it asks its
    supervisor (systemd's Restart=on-failure, a container's restart policy) for
    the restart that keeps it from writing into files nobody will read again.
    """
    while not stop.wait(every):
        problem = database_problem(db)
        if problem is not None:
            logger.error("stopping: %s", problem)
            return 1
    return 0
