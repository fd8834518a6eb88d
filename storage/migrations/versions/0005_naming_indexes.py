"""Partial indexes for the conditional naming rule: the named signers and the
conditional thresholds of a campaign, without reading all its signatures.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index("ix_signatures_conditional", table_name="signatures")
    op.drop_index("ix_signatures_named", table_name="signatures")
