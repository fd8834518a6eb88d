"""News DMs kept track of, so that the bot can delete them: when their subscriber
stops news or withdraws, or the campaign is forgotten.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "news_posts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("signer_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_ref", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_news_posts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "signer_hash", "sealed_ref", name=op.f("pk_news_posts")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "news_retractions",
        sa.Column("sealed_ref", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("sealed_ref", name=op.f("pk_news_retractions")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("news_retractions")
    op.drop_table("news_posts")
