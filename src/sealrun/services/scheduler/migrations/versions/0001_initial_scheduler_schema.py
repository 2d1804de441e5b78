"""initial scheduler schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_deals",
        sa.Column("deal_id", sa.String(length=66), primary_key=True),
        sa.Column("max_time", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("deal_json", sa.Text(), nullable=False),
    )
    op.create_table(
        "scheduler_tasks",
        sa.Column("task_id", sa.String(length=66), primary_key=True),
        sa.Column("deal_id", sa.String(length=66), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("worker", sa.String(length=42), nullable=True),
        sa.Column("enclave", sa.String(length=42), nullable=True),
        sa.Column("authorization", sa.String(length=132), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
    )
    op.create_index("ix_scheduler_tasks_status", "scheduler_tasks", ["status", "deal_id", "idx"])
    op.create_index("ix_scheduler_tasks_worker", "scheduler_tasks", ["worker", "status"])
    op.create_table(
        "scheduler_workers",
        sa.Column("address", sa.String(length=42), primary_key=True),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("tee", sa.String(length=32), nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
    )
    op.create_table(
        "scheduler_seen_events",
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tx_hash", "log_index"),
    )
    op.create_table(
        "scheduler_request_nonces",
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.String(length=66), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signer", "nonce"),
    )


def downgrade() -> None:
    for table in ("scheduler_request_nonces", "scheduler_seen_events", "scheduler_workers"):
        op.drop_table(table)
    op.drop_index("ix_scheduler_tasks_worker", table_name="scheduler_tasks")
    op.drop_index("ix_scheduler_tasks_status", table_name="scheduler_tasks")
    op.drop_table("scheduler_tasks")
    op.drop_table("scheduler_deals")
