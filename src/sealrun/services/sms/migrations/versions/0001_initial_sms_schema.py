"""initial SMS schema

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
        "sms_app_secrets",
        sa.Column("app", sa.String(length=42), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app"),
    )
    op.create_table(
        "sms_attestation_nonces",
        sa.Column("nonce", sa.String(length=66), nullable=False),
        sa.Column("task_id", sa.String(length=66), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("consumed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    with op.batch_alter_table("sms_attestation_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_attestation_nonces_task_id"), ["task_id"], unique=False)

    op.create_table(
        "sms_audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=66), nullable=True),
        sa.Column("dataset", sa.String(length=42), nullable=True),
        sa.Column("app", sa.String(length=42), nullable=True),
        sa.Column("requester", sa.String(length=42), nullable=True),
        sa.Column("workerpool", sa.String(length=42), nullable=True),
        sa.Column("worker", sa.String(length=42), nullable=True),
        sa.Column("tee", sa.String(length=32), nullable=True),
        sa.Column("measurement", sa.String(length=130), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=66), nullable=False),
        sa.Column("entry_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("entry_hash"),
    )
    with op.batch_alter_table("sms_audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_audit_log_dataset"), ["dataset"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_audit_log_task_id"), ["task_id"], unique=False)

    op.create_table(
        "sms_dataset_keys",
        sa.Column("dataset", sa.String(length=42), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dataset"),
    )
    op.create_table(
        "sms_enclave_keys",
        sa.Column("task_id", sa.String(length=66), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_table(
        "sms_request_nonces",
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.String(length=66), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signer", "nonce"),
    )
    with op.batch_alter_table("sms_request_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_request_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "sms_requester_secrets",
        sa.Column("requester", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("requester", "name"),
    )
    op.create_table(
        "sms_result_recipients",
        sa.Column("beneficiary", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=62), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("beneficiary"),
    )


def downgrade() -> None:
    op.drop_table("sms_result_recipients")
    op.drop_table("sms_requester_secrets")
    with op.batch_alter_table("sms_request_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_request_nonces_expires_at"))

    op.drop_table("sms_request_nonces")
    op.drop_table("sms_enclave_keys")
    op.drop_table("sms_dataset_keys")
    with op.batch_alter_table("sms_audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_audit_log_task_id"))
        batch_op.drop_index(batch_op.f("ix_sms_audit_log_dataset"))

    op.drop_table("sms_audit_log")
    with op.batch_alter_table("sms_attestation_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_attestation_nonces_task_id"))

    op.drop_table("sms_attestation_nonces")
    op.drop_table("sms_app_secrets")
