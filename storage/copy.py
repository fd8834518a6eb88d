"""Copy every table from one database to another: `python -m bot db copy FROM TO`.

For moving a workspace from its SQLite file to PostgreSQL (or back). Both sides
are migrated to head first, so they have the same tables; the target must hold no
rows. Tables are copied parents first, in one transaction on the target, so a
failure leaves it empty and the copy can simply be run again. Afterwards
PostgreSQL's id sequences are moved past the copied ids, and the row counts of
every table are compared.

Rows are read in primary-key order. For signatures that is the order of their
keyed hashes, so the copy does not lay them down in the order people signed (a
PostgreSQL table keeps rows roughly in the order they were written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, func, insert, select, text

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base

BATCH_ROWS = 2000


class CopyRefused(Exception):
    """The copy was not started: the target is not empty, or the same database."""


@dataclass
class CopyReport:
    # Table name to rows copied, in the order the tables were copied.
    rows: dict[str, int] = field(default_factory=dict)
    sequences_reset: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def tables_in_dependency_order() -> list[Table]:
    """Every table the models declare, each after the tables it refers to."""
    return list(Base.metadata.sorted_tables)


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def copy_database(
    source_url: str,
    target_url: str,
    on_table: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy every row of `source_url` into the empty database at `target_url`."""
    source = Database.from_url(source_url)
    target = Database.from_url(target_url)
    try:
        if source.engine.url == target.engine.url:
            raise CopyRefused("the source and the target are the same database")
        upgrade(source.engine)
        upgrade(target.engine)
        tables = tables_in_dependency_order()
        with target.engine.connect() as conn:
            filled = [t.name for t in tables if _count(conn, t)]
        if filled:
            raise CopyRefused(
                "the target already holds rows (in " + ", ".join(filled) + "); copy into a new, "
                "empty database"
            )
        report = CopyReport()
        # One snapshot of the source for every table, so that a count cannot move
        # between tables (stop the bot first all the same: writes after the snapshot
        # are not copied).
        source_options = {"isolation_level": "REPEATABLE READ"} if not source.is_sqlite else {}
        with (
            source.engine.connect().execution_options(**source_options) as reader,
            target.engine.begin() as writer,
        ):
            if not source.is_sqlite:
                reader.execute(text("SET TRANSACTION READ ONLY"))
            for table in tables:
                report.rows[table.name] = _copy_table(reader, writer, table)
                if on_table is not None:
                    on_table(table.name, report.rows[table.name])
            if not target.is_sqlite:
                report.sequences_reset = _reset_sequences(writer, tables)
            reader.rollback()
        _verify(source, target, tables, report)
        return report
    finally:
        source.dispose()
        target.dispose()


def _copy_table(reader: Connection, writer: Connection, table: Table) -> int:
    query = select(table).order_by(*table.primary_key.columns)
    copied = 0
    result = reader.execution_options(yield_per=BATCH_ROWS).execute(query)
    for batch in result.mappings().partitions():
        writer.execute(insert(table), [dict(row) for row in batch])
        copied += len(batch)
    return copied


def _reset_sequences(writer: Connection, tables: list[Table]) -> list[str]:
    """Move each id sequence past the largest copied id, so that the next row
    inserted on PostgreSQL does not collide with a copied one."""
    reset = []
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = writer.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": column.name},
        ).scalar_one()
        if sequence is None:
            continue
        writer.execute(
            text(
                f'SELECT setval(:sequence, COALESCE((SELECT MAX("{column.name}") '  # noqa: S608
                f'FROM "{table.name}"), 0) + 1, false)'
            ),
            {"sequence": sequence},
        )
        reset.append(table.name)
    return reset


def _verify(source: Database, target: Database, tables: list[Table], report: CopyReport) -> None:
    with source.engine.connect() as src, target.engine.connect() as dst:
        for table in tables:
            copied, have, now = report.rows[table.name], _count(dst, table), _count(src, table)
            if have != copied:
                raise RuntimeError(
                    f"{table.name}: {copied} rows were copied but the target holds {have}"
                )
            if now != copied:
                raise RuntimeError(
                    f"{table.name}: the source changed during the copy ({copied} rows copied, "
                    f"{now} now): stop the bot, drop the target and copy again"
                )
