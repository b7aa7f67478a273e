"""The leaderboard's ORDER BY as an index, and a per-job candidate counter.

Replaces ix_candidates_leaderboard (job_id, confirmed_mean, fitness, number), whose ascending
order with NULLs first matched no query, by an index in the leaderboard's order; and adds
jobs.candidates_proposed so the leaderboard's total is read, not counted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("candidates_proposed", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE jobs SET candidates_proposed = "
               "(SELECT count(*) FROM candidates WHERE candidates.job_id = jobs.id)")
    op.drop_index("ix_candidates_leaderboard", table_name="candidates")
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_candidates_rank", "candidates", ["job_id", sa.text("confirmed_mean DESC NULLS LAST"),
                                                              sa.text("fitness DESC NULLS LAST"), "number"])
    else:  # SQLite: DESC already puts NULLs last, and NULLS LAST is refused in an index
        op.create_index("ix_candidates_rank_sqlite", "candidates",
                        ["job_id", sa.text("confirmed_mean DESC"), sa.text("fitness DESC"), "number"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_candidates_rank", table_name="candidates")
    else:
        op.drop_index("ix_candidates_rank_sqlite", table_name="candidates")
    op.create_index("ix_candidates_leaderboard", "candidates", ["job_id", "confirmed_mean", "fitness", "number"])
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("candidates_proposed")
