"""One assignment row per stint: the primary key takes in added_in_version, so a field worker removed by a
crew change and added back keeps the row of their earlier stint (each version's crew stays as it was).

Downgrade collapses the stints: a worker keeps only their latest stint, as the old schema held it (a re-add
overwrote the row), so the versions of their earlier stints no longer list them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIMARY_KEY = 'assignment_pkey'  # PostgreSQL's own name for it


def assignment(*key: str) -> sa.Table:
    """The table as it is after 0008, with `key` as its primary key: SQLite's batch mode copies the rows into
    it (SQLite cannot alter a primary key in place)."""
    return sa.Table(
        'assignment', sa.MetaData(),
        sa.Column('order_id', sa.Integer(), sa.ForeignKey('service_order.id'), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('added_in_version', sa.Integer(), nullable=False),
        sa.Column('removed_in_version', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint(*key, name=PRIMARY_KEY),
        sa.Index('ix_assignment_user_id', 'user_id'))


def set_key(*key: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('assignment', recreate='always', copy_from=assignment(*key)):
            pass
    else:
        op.drop_constraint(PRIMARY_KEY, 'assignment', type_='primary')
        op.create_primary_key(PRIMARY_KEY, 'assignment', list(key))


def upgrade() -> None:
    set_key('order_id', 'user_id', 'added_in_version')


def downgrade() -> None:
    # a worker keeps their latest stint: the row a re-add overwrote in the old schema
    op.execute(sa.text(
        "DELETE FROM assignment WHERE EXISTS (SELECT 1 FROM assignment AS later "
        "WHERE later.order_id = assignment.order_id AND later.user_id = assignment.user_id "
        "AND later.added_in_version > assignment.added_in_version)"))
    set_key('order_id', 'user_id')
