"""Bulk import of orders (issue 19): `service_order.external_ref`, the reference an order has in the file
`service-orders orders import` made it from, unique per workspace, so a re-run after a crash skips what the
first run created. NULL for orders submitted in Slack (NULLs never collide in a unique index).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | Sequence[str] | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('service_order') as batch:
        batch.add_column(sa.Column('external_ref', sa.String(length=64), nullable=True))
    # a unique index, not a constraint: SQLite adds it in place (a constraint would rebuild the table)
    op.create_index('uq_service_order_external_ref', 'service_order', ['workspace', 'external_ref'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_service_order_external_ref', table_name='service_order')
    with op.batch_alter_table('service_order') as batch:
        batch.drop_column('external_ref')
