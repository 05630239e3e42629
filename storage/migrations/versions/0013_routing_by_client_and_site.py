"""Routing (issue 16): the supervisors and coordinators a client or a site names in the catalog (`routing`),
one row per (kind, code, role, person). No rows for a client or site: its orders go to everyone, as before.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'routing',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'code', 'role', 'user_id'),
    )


def downgrade() -> None:
    op.drop_table('routing')
