"""PostgreSQL server settings that break the privacy promises, read at start-up.

The bot cannot change how the database server it is given keeps its own files
and logs; it can read the settings and say which ones defeat what SECURITY.md
promises, so that the operator fixes them (DEPLOY.md, "PostgreSQL settings").
"""

from __future__ import annotations

from sqlalchemy import Engine, text

# Above this much WAL kept for standbys, the live WAL keeps signatures for a long
# time after the nightly rewrite made them one transaction (DEPLOY.md).
_WAL_KEEP_MB_WARNING = 1024


def _risk(name: str, value: str) -> str | None:
    lowered = value.strip().lower()
    if name == "track_commit_timestamp" and lowered == "on":
        return "track_commit_timestamp=on keeps the exact commit time of every signature"
    if name == "log_statement" and lowered in ("mod", "all"):
        return (
            f"log_statement={lowered} writes every signature's statement, with the names in "
            "its parameters, to the server log"
        )
    if name == "log_min_duration_statement" and lowered not in ("-1", ""):
        return (
            f"log_min_duration_statement={value} logs statements with their parameters "
            "(names) and times"
        )
    if name == "archive_mode" and lowered in ("on", "always"):
        return (
            "archive_mode is on: the WAL archive keeps every signature with its commit time "
            "until archives are deleted (keep archives short-lived and encrypted, or off)"
        )
    if name == "wal_keep_size":
        try:
            megabytes = int(lowered.removesuffix("mb")) if lowered.endswith("mb") else None
        except ValueError:
            megabytes = None
        if megabytes is not None and megabytes > _WAL_KEEP_MB_WARNING:
            return f"wal_keep_size={value} keeps old WAL (signatures) around for longer"
    return None


SETTINGS = (
    "track_commit_timestamp",
    "log_statement",
    "log_min_duration_statement",
    "archive_mode",
    "wal_keep_size",
)


def privacy_risks(engine: Engine) -> list[str]:
    """One line per server setting that breaks a promise; [] on SQLite."""
    if engine.dialect.name != "postgresql":
        return []
    risks = []
    with engine.connect() as conn:
        for name in SETTINGS:
            value = conn.execute(text(f"SHOW {name}")).scalar_one()
            risk = _risk(name, str(value))
            if risk is not None:
                risks.append(risk)
    return risks
