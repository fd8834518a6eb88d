"""The letter's addressee and signing period, and campaign cards posted in channels.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("addressee", sa.String(200), nullable=True))
        batch.add_column(sa.Column("opened_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
    # The signing period of campaigns made before: opened when the audit trail
    # first says so (else when created, for one imported open), closed when it last
    # says so (else at its closing date).
    op.execute(
        "UPDATE campaigns SET opened_at = COALESCE("
        "(SELECT MIN(a.at) FROM audit_entries a WHERE a.campaign_slug = campaigns.slug "
        "AND a.action IN ('open', 'reopen')), created_at) WHERE status <> 'draft'"
    )
    op.execute(
        "UPDATE campaigns SET closed_at = COALESCE("
        "(SELECT MAX(a.at) FROM audit_entries a WHERE a.campaign_slug = campaigns.slug "
        "AND a.action = 'close'), closes_at) WHERE status = 'closed'"
    )
    op.create_table(
        "campaign_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=False),
        sa.Column("shown", sa.String(length=64), nullable=False),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_cards_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_cards")),
        sa.UniqueConstraint(
            "campaign_id", "channel_id", name=op.f("uq_campaign_cards_campaign_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("campaign_cards")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("closed_at")
        batch.drop_column("opened_at")
        batch.drop_column("addressee")
