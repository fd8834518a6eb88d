"""The `python -m bot` / `undersigned` command line.

Past 500 lines on purpose: the parser and one short `cmd_*` function per command,
each only opening what the command needs (settings, database, keyring) and calling
petition/, jobs/ or storage/; the work itself lives there. Kept in one file so
that the parser and the functions it dispatches to are read side by side.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import functools
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import load_dotenv
from slack_sdk import WebClient

from bot import health
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from bot.webclient import posting_client
from bot.writer import writer_context
from jobs.news import SendReport
from petition import campaign_spec, campaigns, organizing, updates
from petition.errors import CampaignNotFound, DomainError, InvalidCampaign
from petition.keyring import Keyring, Rekeyer
from petition.letter import FORMATS, build_letter, render, write_private
from petition.opening import DatabaseUnavailable, open_database
from petition.organizing import StatusChange
from storage.db import DEFAULT_POOL_SIZE, Database
from storage.models import UpdateKind
from storage.pgsettings import privacy_risks
from storage.writerprocess import fork_writer

if TYPE_CHECKING:
    from slack_bolt import App

logger = logging.getLogger("bot")

EXIT_USAGE = 2


MAX_PEOPLE = 5000


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, else a clear error."""

    def parse(raw: str) -> int:
        text = raw.strip()
        if (
            not (text.isascii() and text.isdecimal())
            or len(text) > 9
            or not low <= int(text) <= high
        ):
            raise argparse.ArgumentTypeError(f"give a whole number from {low} to {high:,}")
        return int(text)

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="undersigned", description="Private petition campaigns inside Slack."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "run", help="start the bot: Socket Mode, else HTTP, else the offline console (no tokens)"
    )
    serve = sub.add_parser("serve", help="HTTP mode: POST /slack/events, GET /healthz")
    serve.add_argument(
        "--port", type=_bounded(0, 65535), help="port to listen on (default: PORT or 3000)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--threads", type=_bounded(1, 256), default=16, help="worker threads (default 16)"
    )
    serve.add_argument(
        "--no-writer-process",
        dest="writer_process",
        action="store_false",
        help="on SQLite, write signatures in this process rather than in a second one",
    )
    console = sub.add_parser("console", help="try the bot offline, in a fake workspace")
    console.add_argument(
        "--script", type=Path, help="run the commands in FILE and print the transcript"
    )
    console.add_argument(
        "--people",
        type=_bounded(0, MAX_PEOPLE),
        default=0,
        help=f"add N more members to the fake workspace (up to {MAX_PEOPLE:,}), to rehearse "
        "milestones and the letter with a crowd",
    )
    campaign = sub.add_parser("campaign", help="manage campaigns")
    campaign_sub = campaign.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    imp = campaign_sub.add_parser("import", help="create or update a campaign from a TOML file")
    imp.add_argument("file", type=Path)
    lst = campaign_sub.add_parser("list", help="list campaigns with exact counts")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    letter = campaign_sub.add_parser("letter", help="write the letter for delivery")
    letter.add_argument("slug")
    letter.add_argument("--format", choices=FORMATS, default="md", help="md (default) or html")
    letter.add_argument("--output", type=Path, help="write to this file instead of stdout")
    forget = campaign_sub.add_parser("forget", help="cut the link between signatures and people")
    forget.add_argument("slug")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    news = campaign_sub.add_parser(
        "update", help="send news to the signers who asked for it (or record an outcome)"
    )
    news.add_argument("slug")
    news.add_argument("--kind", choices=[k.value for k in UpdateKind], default="news")
    source = news.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the update")
    source.add_argument("--file", type=Path, help="read the update from this file")
    news.add_argument(
        "--record-only", action="store_true", help="record a delivery or answer, send nothing"
    )
    for change in StatusChange:
        status = campaign_sub.add_parser(change.value, help=f"{change.value} a campaign")
        status.add_argument("slug")
    for verb, what in (
        ("archive", "put a closed campaign out of the organizer view"),
        ("unarchive", "bring an archived campaign back"),
    ):
        campaign_sub.add_parser(verb, help=what).add_argument("slug")
    duplicate = campaign_sub.add_parser(
        "duplicate", help="a new draft that starts from an old campaign"
    )
    duplicate.add_argument("slug", help="the campaign to start from")
    duplicate.add_argument("new_slug", help="the new campaign's short name")
    sub.add_parser("announce", help="run the announcement job once, now, and exit")
    sub.add_parser("keygen", help="print a fresh SIGNER_KEY")
    sub.add_parser("send-updates", help="send queued news now (resumes after a crash) and exit")
    backup = sub.add_parser("backup", help="a consistent copy of the live database")
    backup.add_argument("path", type=Path, help="the new file to write")
    database = sub.add_parser("db", help="move the data between databases")
    database_sub = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    copy = database_sub.add_parser(
        "copy", help="copy every table into a new, empty database (SQLite to PostgreSQL)"
    )
    copy.add_argument("source", metavar="FROM_URL", help="e.g. sqlite:///undersigned.db")
    copy.add_argument(
        "target", metavar="TO_URL", help="e.g. postgresql+psycopg://user:password@host/db"
    )
    return parser


@functools.cache
def keyring_of(settings: Settings) -> Keyring:
    """The process's one keyring (it caches the campaign keys it has read)."""
    return settings.keyring()


def _open_database(settings: Settings, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
    # Moving signatures to campaign keys (migration 0008) needs the keys; a
    # database that has nothing to move migrates without them.
    rekeyer = Rekeyer(keyring_of(settings), settings.signer_key) if settings.signer_key else None
    return open_database(settings.database_url, pool_size, rekeyer)


def _warn_about_the_database_server(db: Database) -> None:
    """Say, at start-up, which settings of the PostgreSQL server defeat the privacy
    promises (storage/pgsettings.py); the bot runs anyway: it cannot change them."""
    for risk in privacy_risks(db.engine):
        logger.warning("PostgreSQL: %s; see DEPLOY.md, 'PostgreSQL settings'", risk)


def _news_client(settings: Settings) -> WebClient:
    settings.require_signer_key()
    if not settings.slack_bot_token:
        raise SettingsError("SLACK_BOT_TOKEN is not set: sending news needs the bot token")
    return posting_client(settings.slack_api_url, settings.slack_bot_token)


def _send_queued(settings: Settings, db: Database) -> int:
    from jobs.news import send_pending

    def show(report: SendReport) -> None:
        print(f"\rsent {report.sent}, unreachable {report.failed}", end="", file=sys.stderr)

    report = send_pending(db, _news_client(settings), keyring_of(settings), on_progress=show)
    print(file=sys.stderr)
    with db.read() as session:
        left = updates.pending_count(session)
    print(f"sent {report.sent}, unreachable {report.failed}, still queued {left}")
    if report.stopped_by:
        print(f"paused: {report.stopped_by}; run again to resume", file=sys.stderr)
        return 1
    return 0


def cmd_send_updates(settings: Settings) -> int:
    _news_client(settings)  # check the settings before touching anything
    db = _open_database(settings)
    try:
        return _send_queued(settings, db)
    finally:
        db.dispose()


def cmd_campaign_update(settings: Settings, args: argparse.Namespace) -> int:
    text = args.text if args.text is not None else args.file.read_text(encoding="utf-8")
    kind = UpdateKind(args.kind)
    if not args.record_only:
        _news_client(settings)
    db = _open_database(settings)
    try:
        with db.write() as session:
            if args.record_only:
                updates.record_outcome(
                    session,
                    _operator(settings),
                    organizing.CLI_ACTOR,
                    args.slug,
                    kind,
                    text,
                    _today(settings),
                )
                print(f"recorded the {kind.value} for {args.slug}")
                return 0
            queued = updates.create_update(
                session,
                _operator(settings),
                organizing.CLI_ACTOR,
                args.slug,
                kind,
                text,
                _today(settings),
            ).recipients
        print(f"queued for {queued} subscribers")
        return _send_queued(settings, db)
    finally:
        db.dispose()


def cmd_backup(settings: Settings, path: Path) -> int:
    db = _open_database(settings)
    try:
        db.backup(path)
    except (FileExistsError, NotImplementedError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        db.dispose()
    print(f"backed up to {path} (integrity check ok)")
    return 0


def cmd_db_copy(source_url: str, target_url: str) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from storage.copy import CopyRefused, copy_database

    try:
        source, target = (
            make_url(u).render_as_string(hide_password=True) for u in (source_url, target_url)
        )
    except ArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    def show(table: str, rows: int) -> None:
        print(f"  {table}: {rows}", file=sys.stderr)

    print(f"copying {source} to {target}", file=sys.stderr)
    try:
        report = copy_database(source_url, target_url, on_table=show)
    except CopyRefused as exc:
        print(f"error: {exc}; nothing was copied", file=sys.stderr)
        return EXIT_USAGE
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        print(
            f"error: {exc}; for PostgreSQL install the extra: pip install 'undersigned[postgres]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except OperationalError as exc:
        print(f"error: cannot use the database: {exc.orig or exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        # The counts did not match after the copy: say so, and that it is not done.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"copied {report.total} rows in {len(report.rows)} tables; row counts match. "
        f"Set DATABASE_URL to the new database and start the bot."
    )
    return 0


def cmd_keygen() -> int:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
    print(f"SIGNER_KEY={key}")
    return 0


def cmd_campaign_import(settings: Settings, path: Path) -> int:
    try:
        spec = campaign_spec.read_campaign_file(path, settings.timezone)
    except InvalidCampaign as exc:
        _print_problems(path, exc)
        return EXIT_USAGE
    db = _open_database(settings)
    try:
        with db.write() as session:
            campaign, changed = organizing.import_campaign(session, spec)
            slug = campaign.slug
    except InvalidCampaign as exc:
        _print_problems(path, exc)
        return EXIT_USAGE
    except DomainError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        db.dispose()
    print(f"{'imported' if changed else 'unchanged'}: {slug}")
    return 0


def _print_problems(path: Path, problems: InvalidCampaign) -> None:
    """Every problem of a campaign file, one line each, naming its field."""
    for field, message in problems.problems:
        where = f" (`{field}`)" if field and not message.startswith(str(path)) else ""
        prefix = "" if message.startswith(str(path)) else f"{path}: "
        print(f"error: {prefix}{message}{where}", file=sys.stderr)
    if len(problems.problems) > 1:
        print(f"{len(problems.problems)} problems; nothing was changed", file=sys.stderr)


def _operator(settings: Settings) -> organizing.Organizers:
    return organizing.Organizers(settings.organizers)


def cmd_campaign_letter(settings: Settings, slug: str, fmt: str, output: Path | None) -> int:
    if output is not None and output.is_dir():
        print(f"error: {output} is a directory: give the file to write", file=sys.stderr)
        return EXIT_USAGE
    db = _open_database(settings)
    try:
        with db.write() as session:
            letter = build_letter(
                session,
                _operator(settings),
                organizing.CLI_ACTOR,
                slug,
                _today(settings),
                keyring_of(settings) if settings.signer_key else None,
                settings.timezone,
            )
    finally:
        db.dispose()
    text = render(letter, fmt)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        write_private(output, text)
    except OSError as exc:
        print(f"error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {output} (readable by you only): {letter.count:,} signatures, "
        f"{letter.named:,} named",
        file=sys.stderr,
    )
    return 0


FORGET_WARNING = (
    "This cuts the link between every signature on {slug} and the person who made it, "
    "for good:\nits signatures are deleted and its key is destroyed. The count stays; the "
    "names go (make the\nletter first). Afterwards nobody, not even with SIGNER_KEY and "
    "old backups of the database,\ncan tell who signed; signers can no longer check or "
    "withdraw, and the campaign stays closed.\nBackups of the key store made before now "
    "still hold its key: delete them too."
)


def cmd_campaign_forget(settings: Settings, slug: str, yes: bool) -> int:
    print(FORGET_WARNING.format(slug=slug), file=sys.stderr)
    if not yes:
        if not sys.stdin.isatty():
            print("error: not a terminal; add --yes to confirm", file=sys.stderr)
            return EXIT_USAGE
        if input(f"Type the campaign's slug ({slug}) to confirm: ").strip() != slug:
            print("nothing changed", file=sys.stderr)
            return 1
    db = _open_database(settings)
    try:
        unlinked = organizing.forget_campaign(
            db, keyring_of(settings), _operator(settings), organizing.CLI_ACTOR, slug
        )
    except organizing.NotForgotten as exc:
        # Running the command again finishes the job.
        print(f"error: {slug} is not forgotten yet: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"forgot {slug}: {unlinked} signatures unlinked, and its key destroyed")
    return 0


def cmd_campaign_status(settings: Settings, slug: str, change: StatusChange) -> int:
    db = _open_database(settings)
    try:
        with db.write() as session:
            before = organizing.managed_campaign(
                session, _operator(settings), organizing.CLI_ACTOR, slug
            ).status
            campaign = organizing.change_status(
                session, _operator(settings), organizing.CLI_ACTOR, slug, change
            )
            status = campaign.status.value
    finally:
        db.dispose()
    print(f"{slug}: {status}")
    if before.value == "draft" and status == "open":
        print(
            "published: workers can read it with /demands. Its statement and demands lock "
            "as soon as anyone signs.",
            file=sys.stderr,
        )
    return 0


def cmd_campaign_archive(settings: Settings, slug: str, archived: bool) -> int:
    db = _open_database(settings)
    try:
        with db.write() as session:
            organizing.set_archived(
                session, _operator(settings), organizing.CLI_ACTOR, slug, archived
            )
    finally:
        db.dispose()
    print(f"{slug}: {'archived' if archived else 'not archived'}")
    return 0


def cmd_campaign_duplicate(settings: Settings, slug: str, new_slug: str) -> int:
    db = _open_database(settings)
    try:
        with db.write() as session:
            copy = organizing.duplicate_campaign(
                session, _operator(settings), organizing.CLI_ACTOR, slug, new_slug
            )
            made = copy.slug
    finally:
        db.dispose()
    print(f"created {made} as a draft, from {slug}: edit it, then `campaign open {made}`")
    return 0


def _today(settings: Settings) -> dt.date:
    return dt.datetime.now(settings.timezone).date()


def cmd_campaign_list(settings: Settings, as_json: bool) -> int:
    db = _open_database(settings)
    try:
        with db.read() as session:
            rows = [campaigns.campaign_summary(c) for c in campaigns.all_campaigns(session)]
    finally:
        db.dispose()
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no campaigns yet: add one with `campaign import FILE.toml`")
        return 0
    width = max(len(r["slug"]) for r in rows)
    for row in rows:
        state = "open" if row["open"] else row["status"]
        print(f"{row['slug']:<{width}}  {state:<6}  {row['signatures']:>8}  {row['title']}")
    return 0


def cmd_announce(settings: Settings) -> int:
    from jobs.announce import announce_job

    if not settings.slack_bot_token:
        raise SettingsError(
            "SLACK_BOT_TOKEN is not set: put the bot token (xoxb-...) in the environment or .env"
        )
    db = _open_database(settings)
    try:
        report = announce_job(
            db,
            posting_client(settings.slack_api_url, settings.slack_bot_token),
            settings.timezone.key,
        )
    finally:
        db.dispose()
    print("\n".join(report.summary()))
    return 0


def _connect(settings: Settings, db: Database, keyring: Keyring) -> App:
    """Build the app, turning a failed auth.test into one line the operator can act on."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.app import create_app

    try:
        return create_app(settings, db, keyring=keyring)
    except (BoltError, SlackApiError) as exc:
        raise SettingsError(
            "Slack refused the bot token (auth.test failed): check SLACK_BOT_TOKEN"
        ) from exc
    except (SlackClientError, OSError) as exc:
        raise SettingsError(
            f"cannot reach Slack's Web API at {settings.slack_api_url} "
            f"({type(exc).__name__}): check the network, or SLACK_API_URL"
        ) from exc


def cmd_serve(
    settings: Settings, host: str, port: int | None, threads: int, writer_process: bool = True
) -> int:
    from bot.scheduler import start_scheduler
    from bot.server import SlackWSGI, connections_for, serve

    settings.require_http()
    forked = None
    if writer_process:
        # Signatures are committed on the other core (storage/writerprocess.py),
        # with a keyring made there (bot/writer.py). Forked first, before this
        # process opens its database or starts a thread, and after it has
        # imported what both use: the two share those pages.
        key = settings.require_signer_key()
        forked = fork_writer(settings.database_url)
    db = _open_database(settings, pool_size=connections_for(threads))
    _warn_about_the_database_server(db)
    # One keyring for the process: the listeners and the jobs share its keys' cache.
    keyring = keyring_of(settings)
    app = _connect(settings, db, keyring)
    assert settings.slack_signing_secret is not None
    if writer_process:
        db.direct.start_writer_process(
            functools.partial(writer_context, key, settings.key_store, settings.log_level),
            forked,
        )
    scheduler = start_scheduler(settings, db, keyring=keyring)
    try:
        wsgi = SlackWSGI(app, db, settings.slack_signing_secret, events_first_acknowledged=True)
        serve(wsgi, host, port or settings.port, threads)
    finally:
        scheduler.shutdown(wait=False)
        db.direct.stop()  # the writer process finishes what it was sent, then ends
    return 0


def cmd_run(settings: Settings) -> int:
    if settings.mode == "socket":
        from bot.scheduler import start_scheduler
        from bot.server import connections_for
        from bot.socketmode import SOCKET_MODE_WORKERS, socket_mode_handler

        settings.require_socket()
        db = _open_database(settings, pool_size=connections_for(SOCKET_MODE_WORKERS))
        _warn_about_the_database_server(db)
        keyring = keyring_of(settings)  # one for the process, as in serve
        app = _connect(settings, db, keyring)
        scheduler = start_scheduler(settings, db, keyring=keyring)
        logger.info("connecting to Slack in Socket Mode")
        handler = socket_mode_handler(app, settings)
        try:
            handler.connect()
            # The main thread watches the database while the client's threads work.
            return health.watch(db, threading.Event())
        finally:
            handler.close()
            scheduler.shutdown(wait=False)
    if settings.mode == "http":
        return cmd_serve(settings, "0.0.0.0", None, 16)  # noqa: S104 - Slack must reach it
    print(
        "No Slack tokens configured, so this is the offline console. To connect to Slack, set "
        "SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode), or SLACK_BOT_TOKEN and "
        "SLACK_SIGNING_SECRET (HTTP), in .env; see .env.example.",
        file=sys.stderr,
    )
    return cmd_console(settings, None)


def cmd_console(settings: Settings, script: Path | None, people: int = 0) -> int:
    from bot.rehearsal import run_console

    if not os.environ.get("LOG_LEVEL"):
        # Log lines would break into the conversation; warnings and errors still show.
        configure_logging("WARNING")
    if script is not None and not script.is_file():
        print(f"error: {script}: no such file", file=sys.stderr)
        return EXIT_USAGE
    return run_console(settings, script, people)


def _campaign_command(settings: Settings, args: argparse.Namespace) -> int:
    action = args.campaign_command
    try:
        if action == "import":
            return cmd_campaign_import(settings, args.file)
        if action == "list":
            return cmd_campaign_list(settings, args.json)
        if action == "letter":
            return cmd_campaign_letter(settings, args.slug, args.format, args.output)
        if action == "update":
            return cmd_campaign_update(settings, args)
        if action == "forget":
            return cmd_campaign_forget(settings, args.slug, args.yes)
        if action in ("archive", "unarchive"):
            return cmd_campaign_archive(settings, args.slug, action == "archive")
        if action == "duplicate":
            return cmd_campaign_duplicate(settings, args.slug, args.new_slug)
        return cmd_campaign_status(settings, args.slug, StatusChange(action))
    except CampaignNotFound as missing:
        known = ", ".join(missing.known[:20]) or "none yet"
        if len(missing.known) > 20:
            known += f" and {len(missing.known) - 20} more (`campaign list`)"
        asked = missing.slug[:60]
        print(f"error: no campaign called {asked!r} (campaigns: {known})", file=sys.stderr)
    except InvalidCampaign as exc:
        for _, message in exc.problems:
            print(f"error: {message}", file=sys.stderr)
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return EXIT_USAGE


def _with_rehearsal_key(settings: Settings) -> Settings:
    """After a console rehearsal (no SIGNER_KEY, a SQLite file), the command line
    uses the rehearsal key the console left beside the database, and says so."""
    from bot.rehearsal import existing_rehearsal_key

    found = existing_rehearsal_key(settings)
    if found is None:
        return settings
    key, path = found
    print(
        f"note: SIGNER_KEY is not set, so this uses the console's rehearsal key {path}: this "
        "database is a rehearsal. A real campaign needs SIGNER_KEY in .env.",
        file=sys.stderr,
    )
    return replace(settings, signer_key=key)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # A process started in the background by a shell inherits SIGINT ignored,
        # and Python then never turns Ctrl-C into KeyboardInterrupt: the server
        # and the console would not stop. Stopping on SIGINT is part of the contract.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.command == "keygen":
        return cmd_keygen()
    # .env is read here and only here, never at import time.
    load_dotenv(Path.cwd() / ".env")
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        if args.command == "campaign":
            return _campaign_command(_with_rehearsal_key(settings), args)
        if args.command == "serve":
            return cmd_serve(settings, args.host, args.port, args.threads, args.writer_process)
        if args.command == "backup":
            return cmd_backup(settings, args.path)
        if args.command == "db":
            return cmd_db_copy(args.source, args.target)
        if args.command == "send-updates":
            return cmd_send_updates(settings)
        if args.command == "console":
            return cmd_console(settings, args.script, args.people)
        if args.command == "announce":
            return cmd_announce(settings)
        return cmd_run(settings)
    except (SettingsError, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0
