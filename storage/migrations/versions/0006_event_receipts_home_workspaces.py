"""Event receipts (Slack's redeliveries acted on once, across replicas) and the
workspaces the app was installed in (for signatures made before a Grid move).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_receipts",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_receipts")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_event_receipts_minute"), "event_receipts", ["minute"])
    op.create_table(
        "home_workspaces",
        sa.Column("workspace_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_team", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_hash", name=op.f("pk_home_workspaces")),
    )


def downgrade() -> None:
    op.drop_table("home_workspaces")
    op.drop_index(op.f("ix_event_receipts_minute"), table_name="event_receipts")
    op.drop_table("event_receipts")
