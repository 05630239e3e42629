"""Clients' own prices (client_price, catalog rows of kind `price`), and each version's currency and tax rate
(order_version.currency, .tax_rate), so a version's figures stay as issued whatever the settings say later.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'client_price',
        sa.Column('client_code', sa.String(length=64), nullable=False),
        sa.Column('item_code', sa.String(length=64), nullable=False),
        sa.Column('unit_price', sa.Numeric(14, 4).with_variant(sa.String(40), 'sqlite'), nullable=False),
        sa.PrimaryKeyConstraint('client_code', 'item_code'),
    )
    # plain ALTERs (SQLite has ADD and DROP COLUMN): a batch copy of order_version would trip line_item's key
    op.add_column('order_version', sa.Column('currency', sa.String(length=3), nullable=True))
    op.add_column('order_version', sa.Column('tax_rate', sa.Numeric(7, 6).with_variant(sa.String(40), 'sqlite'),
                                             nullable=True))


def downgrade() -> None:
    op.drop_column('order_version', 'tax_rate')
    op.drop_column('order_version', 'currency')
    op.drop_table('client_price')
