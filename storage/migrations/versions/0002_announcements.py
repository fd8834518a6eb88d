"""Announcements (milestones and final counts, each posted once) and job runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("milestone", "final", name="announcementkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "posted",
                "superseded",
                name="announcementstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("in_doubt_since", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("posted_at", UTCDateTime(), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_announcements_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
        sa.UniqueConstraint(
            "campaign_id",
            "kind",
            "threshold",
            "channel_id",
            name=op.f("uq_announcements_campaign_id"),
        ),
    )
    op.create_table(
        "job_runs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("last_run_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_runs")),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_table("announcements")
