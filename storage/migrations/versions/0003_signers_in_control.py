"""Conditional names, subscribers, updates and their deliveries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("name_threshold", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sealed_name", sa.Text(), nullable=True))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("delivered_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("employer_answer", sa.Text(), nullable=True))
    op.create_table(
        "subscribers",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("signer_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_address", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_subscribers_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "signer_hash", name=op.f("pk_subscribers")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("news", "delivered", "answer", name="updatekind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_updates_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_updates")),
    )
    op.create_table(
        "update_deliveries",
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("signer_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending", "sent", "failed", name="deliverystate", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("in_doubt_since", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["updates.id"],
            name=op.f("fk_update_deliveries_update_id_updates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("update_id", "signer_hash", name=op.f("pk_update_deliveries")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("update_deliveries")
    op.drop_table("updates")
    op.drop_table("subscribers")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("employer_answer")
        batch.drop_column("delivered_on")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("sealed_name")
        batch.drop_column("name_threshold")
