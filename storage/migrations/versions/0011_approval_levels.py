"""Approval by amount (issue 16): each level's approval of an order's round (table approval), and the level
and role each order waits for (service_order.approval_level, .approval_role, and how many it needs, .approval_levels;
every order so far needs one level, a supervisor's, as before levels).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'approval',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('approver_id', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('scheduled_date', sa.Date(), nullable=True),
        sa.Column('field_workers', sa.Text(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['order_id'], ['service_order.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_approval_order_round', 'approval', ['order_id', 'round'], unique=False)
    with op.batch_alter_table('service_order') as batch:
        batch.add_column(sa.Column('approval_level', sa.Integer(), nullable=False, server_default=sa.text('1')))
        batch.add_column(sa.Column('approval_role', sa.String(length=32), nullable=False,
                                   server_default='supervisor'))
        batch.add_column(sa.Column('approval_levels', sa.Integer(), nullable=False, server_default=sa.text('1')))
    with op.batch_alter_table('service_order') as batch:
        batch.alter_column('approval_level', existing_type=sa.Integer(), server_default=None)
        batch.alter_column('approval_role', existing_type=sa.String(length=32), server_default=None)
        batch.alter_column('approval_levels', existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('service_order') as batch:
        batch.drop_column('approval_levels')
        batch.drop_column('approval_role')
        batch.drop_column('approval_level')
    op.drop_index('ix_approval_order_round', table_name='approval')
    op.drop_table('approval')
