"""A reschedule's time window (service_order and order_version scheduled_start/end) and a crew change's
removal (assignment.removed_in_version).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('service_order', 'order_version'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('scheduled_start', sa.Time(), nullable=True))
            batch.add_column(sa.Column('scheduled_end', sa.Time(), nullable=True))
    with op.batch_alter_table('assignment') as batch:
        batch.add_column(sa.Column('removed_in_version', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('assignment') as batch:
        batch.drop_column('removed_in_version')
    for table in ('order_version', 'service_order'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('scheduled_end')
            batch.drop_column('scheduled_start')
