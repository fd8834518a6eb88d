"""The count others see: a snapshot of the exact count, refreshed on the hour.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("public_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("public_count_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE campaigns SET public_count = signature_count")
    with op.batch_alter_table("campaigns") as batch:
        batch.alter_column("public_count", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("public_count_at")
        batch.drop_column("public_count")
