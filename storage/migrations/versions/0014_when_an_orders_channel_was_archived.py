"""Tidy channels: when a closed order's channel was archived (service_order.channel_archived_at; none so far),
with the partial index the archive sweep reads closed, not yet archived orders by.

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TO_ARCHIVE = {dialect: sa.text('closed_at IS NOT NULL AND channel_archived_at IS NULL')
               for dialect in ('postgresql_where', 'sqlite_where')}


def upgrade() -> None:
    with op.batch_alter_table('service_order') as batch:
        batch.add_column(sa.Column('channel_archived_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('service_order') as batch:
        batch.create_index('ix_service_order_to_archive', ['closed_at'], unique=False, **_TO_ARCHIVE)


def downgrade() -> None:
    with op.batch_alter_table('service_order') as batch:
        batch.drop_index('ix_service_order_to_archive')
        batch.drop_column('channel_archived_at')
