"""Approval rounds: when an order last entered pending approval (service_order.pending_since, backfilled from
created_at) and which time that was (pending_round, 1 for every order so far), with the index the reminder
sweep reads by; approval and escalation reminders already queued get the round in their key (round 1), so
they are not sent again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROUNDED = ('approval', 'escalation')  # kinds keyed '{kind}:{order}:{hours}h', now '{kind}:{order}:r{round}:{hours}h'


def upgrade() -> None:
    with op.batch_alter_table('service_order') as batch:
        batch.add_column(sa.Column('pending_since', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('pending_round', sa.Integer(), nullable=False, server_default=sa.text('1')))
    op.execute('UPDATE service_order SET pending_since = created_at')
    with op.batch_alter_table('service_order') as batch:
        batch.alter_column('pending_since', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column('pending_round', existing_type=sa.Integer(), server_default=None)
        batch.create_index('ix_service_order_state_pending', ['state', 'pending_since'], unique=False)
    _rekey(lambda order, hours: f'{order}:r1:{hours}')


def downgrade() -> None:
    # later rounds' keys cannot all fold back into one per order: only round 1's are kept, the rest dropped
    reminder = sa.table('reminder', sa.column('kind', sa.String), sa.column('key', sa.String))
    op.execute(reminder.delete().where(reminder.c.kind.in_(_ROUNDED), ~reminder.c.key.like('%:r1:%')))
    _rekey(lambda order, hours: f'{order}:{hours}', rounded=True)
    with op.batch_alter_table('service_order') as batch:
        batch.drop_index('ix_service_order_state_pending')
        batch.drop_column('pending_round')
        batch.drop_column('pending_since')


def _rekey(shape, rounded: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Rewrite approval and escalation reminder keys: '{kind}:{order}[:r1]:{hours}h' (few rows: one or two per
    order that ever waited a day)."""
    reminder = sa.table('reminder', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                        sa.column('key', sa.String))
    connection = op.get_bind()
    for row in connection.execute(sa.select(reminder.c.id, reminder.c.key).where(reminder.c.kind.in_(_ROUNDED))).all():
        parts = row.key.split(':')
        kind, order, hours = parts[0], parts[1], parts[-1]
        if len(parts) != (4 if rounded else 3):
            continue
        connection.execute(reminder.update().where(reminder.c.id == row.id)
                           .values(key=f'{kind}:{shape(order, hours)}'))
