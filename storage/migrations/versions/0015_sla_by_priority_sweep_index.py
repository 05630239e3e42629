"""SLAs by priority: the approval reminders' sweep reads orders pending approval per group of priorities that
share a span, each by when its round began: an index on (state, priority, pending_since) reads exactly that
range, where (state, pending_since) read every priority's and filtered.

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('service_order') as batch:
        batch.create_index('ix_service_order_state_priority_pending', ['state', 'priority', 'pending_since'],
                           unique=False)


def downgrade() -> None:
    with op.batch_alter_table('service_order') as batch:
        batch.drop_index('ix_service_order_state_priority_pending')
