"""task events (the SSE stream and webhooks read them)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_task_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("task_id", sa.String(length=66), nullable=False),
        sa.Column("deal_id", sa.String(length=66), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=42), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_scheduler_task_events_task", "scheduler_task_events", ["task_id", "id"])
    op.create_index("ix_scheduler_task_events_deal", "scheduler_task_events", ["deal_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_scheduler_task_events_deal", table_name="scheduler_task_events")
    op.drop_index("ix_scheduler_task_events_task", table_name="scheduler_task_events")
    op.drop_table("scheduler_task_events")
