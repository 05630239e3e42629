"""Proposed changes (issue 16, re-approval of changes): a step that raised an approved order's total with tax
past REAPPROVAL_OVER is held in proposed_change until it is approved (a new version) or rejected.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# the models' MONEY (ExactDecimal(14, 4)): NUMERIC, or its exact digits as text on SQLite
_MONEY = sa.Numeric(14, 4).with_variant(sa.String(40), 'sqlite')

# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'proposed_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('author_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('lines', sa.Text(), nullable=False),
        sa.Column('people', sa.Text(), nullable=False),
        sa.Column('facts', sa.Text(), nullable=False),
        sa.Column('total_before', _MONEY, nullable=False),
        sa.Column('total_after', _MONEY, nullable=False),
        sa.Column('level', sa.String(length=32), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('decided_by', sa.String(length=32), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['order_id'], ['service_order.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_proposed_change_order_id', 'proposed_change', ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_proposed_change_order_id', table_name='proposed_change')
    op.drop_table('proposed_change')
