"""The leaderboard's order ends with the candidate's id: a total order, for keyset paging.

A page that starts after the previous page's last row needs an order with no ties; the
candidate number is unique in practice but not by constraint, so the id settles it, and
PostgreSQL's rank index gets the id as its last column so such a page stays one range scan.
SQLite's index needs nothing: its entries end with the rowid, which the id is.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANK: list[str | sa.TextClause] = [sa.text("confirmed_mean DESC NULLS LAST"), sa.text("fitness DESC NULLS LAST"), "number"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_candidates_rank", table_name="candidates")
        op.create_index("ix_candidates_rank", "candidates", ["job_id", *RANK, "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_candidates_rank", table_name="candidates")
        op.create_index("ix_candidates_rank", "candidates", ["job_id", *RANK])
