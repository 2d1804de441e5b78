"""task attempts and retry backoff

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduler_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("avoid_worker", sa.String(length=42), nullable=True))
    op.create_table(
        "scheduler_attempts",
        sa.Column("task_id", sa.String(length=66), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("worker", sa.String(length=42), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("failure_class", sa.String(length=16), nullable=True),
        sa.Column("next_retry_at", sa.Float(), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scheduler_attempts")
    with op.batch_alter_table("scheduler_tasks", schema=None) as batch_op:
        batch_op.drop_column("avoid_worker")
        batch_op.drop_column("not_before")
