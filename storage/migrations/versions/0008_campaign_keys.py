"""Per-campaign keys: signer values and names under each campaign's own key.

Every signer value is re-derived from the stored one under a new key of its
campaign (no Slack id is needed or seen): value = HMAC(campaign signer key, old
value). Public names, conditional names and news addresses are sealed under the
campaign's key; the `name` column, which held public names in clear, is dropped.
The signer rows of campaigns already forgotten (random values, names in clear)
are deleted: their counts stay.

The keys live outside the database (petition/keyring.py); the caller hands in an
object that makes them (`config.attributes["rekeyer"]`, see storage/migrate.py).
A database with signer rows cannot be upgraded without one.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class Rekeyer(Protocol):
    def new_key(self) -> str: ...
    def signer(self, key_id: str, old_value: str) -> str: ...
    def seal_name(self, key_id: str, campaign_id: int, name: str) -> str: ...
    def open_old_name(self, campaign_id: int, sealed: str) -> str | None: ...
    def reseal_address(self, key_id: str, campaign_id: int, sealed: str) -> str | None: ...


NEEDS_KEYS = (
    "this upgrade moves every signature to a key of its campaign, kept outside the "
    "database: run it with SIGNER_KEY set (and KEY_STORE, if the keys are to live "
    "elsewhere than ./undersigned-keys)"
)


def _new_signatures_table() -> None:
    op.create_table(
        "signatures",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("signer_hash", sa.String(length=64), nullable=False),
        sa.Column("named", sa.Boolean(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("name_threshold", sa.Integer(), nullable=True),
        sa.Column("sealed_name", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_signatures_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "signer_hash", name="pk_signatures"),
        sqlite_with_rowid=False,
    )


def _rekey(conn: sa.Connection, rekeyer: Rekeyer | None) -> None:
    campaigns = conn.execute(sa.text("SELECT id, forgotten_at FROM campaigns")).all()
    forgotten = [c.id for c in campaigns if c.forgotten_at is not None]
    for campaign_id in forgotten:
        conn.execute(sa.text("DELETE FROM subscribers WHERE campaign_id = :c"), {"c": campaign_id})
        conn.execute(
            sa.text(
                "DELETE FROM update_deliveries WHERE update_id IN "
                "(SELECT id FROM updates WHERE campaign_id = :c)"
            ),
            {"c": campaign_id},
        )
    live = [c.id for c in campaigns if c.forgotten_at is None]
    keys: dict[int, str] = {}

    def key_of(campaign_id: int) -> str:
        if rekeyer is None:
            raise RuntimeError(NEEDS_KEYS)
        if campaign_id not in keys:
            keys[campaign_id] = rekeyer.new_key()
            conn.execute(
                sa.text("UPDATE campaigns SET key_id = :k WHERE id = :c"),
                {"k": keys[campaign_id], "c": campaign_id},
            )
        return keys[campaign_id]

    rows: list[dict[str, Any]] = []
    for campaign_id in live:
        found = conn.execute(
            sa.text(
                "SELECT signer_hash, name, signed_on, name_threshold, sealed_name "
                "FROM signatures_old WHERE campaign_id = :c"
            ),
            {"c": campaign_id},
        ).all()
        for row in found:
            key_id = key_of(campaign_id)
            assert rekeyer is not None  # key_of() refuses to go on without one
            name = row.name
            if name is None and row.sealed_name is not None:
                name = rekeyer.open_old_name(campaign_id, row.sealed_name)
            rows.append(
                {
                    "campaign_id": campaign_id,
                    "signer_hash": rekeyer.signer(key_id, row.signer_hash),
                    "named": row.name is not None,
                    "signed_on": row.signed_on,
                    "name_threshold": row.name_threshold,
                    "sealed_name": (
                        rekeyer.seal_name(key_id, campaign_id, name) if name is not None else None
                    ),
                }
            )
        subscribers = conn.execute(
            sa.text("SELECT signer_hash, sealed_address FROM subscribers WHERE campaign_id = :c"),
            {"c": campaign_id},
        ).all()
        for sub in subscribers:
            key_id = key_of(campaign_id)
            assert rekeyer is not None
            resealed = rekeyer.reseal_address(key_id, campaign_id, sub.sealed_address)
            where = {"c": campaign_id, "h": sub.signer_hash}
            if resealed is None:
                conn.execute(
                    sa.text("DELETE FROM subscribers WHERE campaign_id = :c AND signer_hash = :h"),
                    where,
                )
                continue
            conn.execute(
                sa.text(
                    "UPDATE subscribers SET signer_hash = :n, sealed_address = :a "
                    "WHERE campaign_id = :c AND signer_hash = :h"
                ),
                {**where, "n": rekeyer.signer(key_id, sub.signer_hash), "a": resealed},
            )
        deliveries = conn.execute(
            sa.text(
                "SELECT d.update_id, d.signer_hash FROM update_deliveries d "
                "JOIN updates u ON u.id = d.update_id WHERE u.campaign_id = :c"
            ),
            {"c": campaign_id},
        ).all()
        for delivery in deliveries:
            key_id = key_of(campaign_id)
            assert rekeyer is not None
            conn.execute(
                sa.text(
                    "UPDATE update_deliveries SET signer_hash = :n "
                    "WHERE update_id = :u AND signer_hash = :h"
                ),
                {
                    "n": rekeyer.signer(key_id, delivery.signer_hash),
                    "u": delivery.update_id,
                    "h": delivery.signer_hash,
                },
            )
    # Inserted in the order of the new values: the table's pages keep no trace
    # of the order of the old ones.
    rows.sort(key=lambda r: (r["campaign_id"], r["signer_hash"]))
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO signatures "
                "(campaign_id, signer_hash, named, signed_on, name_threshold, sealed_name) "
                "VALUES (:campaign_id, :signer_hash, :named, :signed_on, :name_threshold, "
                ":sealed_name)"
            ),
            rows,
        )


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
    op.drop_index("ix_signatures_named", table_name="signatures")
    op.drop_index("ix_signatures_conditional", table_name="signatures")
    op.rename_table("signatures", "signatures_old")
    if op.get_bind().dialect.name == "postgresql":
        # The new table takes these names: PostgreSQL's are unique per schema.
        op.execute(
            "ALTER TABLE signatures_old RENAME CONSTRAINT pk_signatures TO pk_signatures_old"
        )
        op.execute(
            "ALTER TABLE signatures_old RENAME CONSTRAINT fk_signatures_campaign_id_campaigns "
            "TO fk_signatures_campaign_id_campaigns_old"
        )
    _new_signatures_table()
    _rekey(op.get_bind(), context.config.attributes.get("rekeyer"))
    op.drop_table("signatures_old")
    op.create_index(
        "ix_signatures_named",
        "signatures",
        ["campaign_id", "named"],
        sqlite_where=sa.text("named = 1"),
        postgresql_where=sa.text("named"),
    )
    op.create_index(
        "ix_signatures_conditional",
        "signatures",
        ["campaign_id", "name_threshold"],
        sqlite_where=sa.text("name_threshold IS NOT NULL"),
        postgresql_where=sa.text("name_threshold IS NOT NULL"),
    )


def downgrade() -> None:
    """Only a database with no signer rows goes back: the old values (a person's
    digest) are not kept, so signatures cannot be moved back. Restore a backup."""
    bind = op.get_bind()
    for table in ("signatures", "subscribers", "update_deliveries"):
        rows = bind.execute(sa.select(sa.literal(1)).select_from(sa.table(table)).limit(1))
        if rows.first() is not None:
            raise RuntimeError(
                "per-campaign keys cannot be undone with signatures stored: the old values "
                "are not kept (restore a backup made before the upgrade)"
            )
    op.drop_index("ix_signatures_conditional", table_name="signatures")
    op.drop_index("ix_signatures_named", table_name="signatures")
    op.drop_table("signatures")
    op.create_table(
        "signatures",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("signer_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("name_threshold", sa.Integer(), nullable=True),
        sa.Column("sealed_name", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_signatures_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "signer_hash", name="pk_signatures"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_signatures_named",
        "signatures",
        ["campaign_id", "name"],
        sqlite_where=sa.text("name IS NOT NULL"),
        postgresql_where=sa.text("name IS NOT NULL"),
    )
    op.create_index(
        "ix_signatures_conditional",
        "signatures",
        ["campaign_id", "name_threshold"],
        sqlite_where=sa.text("name_threshold IS NOT NULL"),
        postgresql_where=sa.text("name_threshold IS NOT NULL"),
    )
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("key_id")
