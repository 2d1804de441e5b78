"""initial market schema

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
        "market_orders",
        sa.Column("order_hash", sa.String(length=66), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("app", sa.String(length=42), nullable=False),
        sa.Column("dataset", sa.String(length=42), nullable=False),
        sa.Column("workerpool", sa.String(length=42), nullable=False),
        sa.Column("requester", sa.String(length=42), nullable=False),
        sa.Column("category", sa.Integer(), nullable=True),
        sa.Column("tag", sa.String(length=66), nullable=False),
        sa.Column("price", sa.String(length=78), nullable=False),
        sa.Column("price_key", sa.String(length=78), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_json", sa.Text(), nullable=False),
        sa.Column("published_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("order_hash"),
    )
    op.create_index("ix_market_orders_book", "market_orders", ["kind", "status", "price_key"])
    op.create_table(
        "market_seen_events",
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tx_hash", "log_index"),
    )
    op.create_table(
        "market_request_nonces",
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.String(length=66), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signer", "nonce"),
    )


def downgrade() -> None:
    op.drop_table("market_request_nonces")
    op.drop_table("market_seen_events")
    op.drop_index("ix_market_orders_book", table_name="market_orders")
    op.drop_table("market_orders")
