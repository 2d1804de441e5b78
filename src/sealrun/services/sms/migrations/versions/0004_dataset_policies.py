"""dataset owners' release policies, and the policy digest in the audit log (decision 0090)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_dataset_policies",
        sa.Column("dataset", sa.String(length=42), primary_key=True),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("sms_audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy", sa.String(length=66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_audit_log", schema=None) as batch_op:
        batch_op.drop_column("policy")
    op.drop_table("sms_dataset_policies")
