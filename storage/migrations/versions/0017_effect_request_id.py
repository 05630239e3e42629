"""The Slack request that queued each effect (issue 18): its id, as the request's log lines name it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:36:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0017'
down_revision: str | Sequence[str] | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('pending_effect') as batch:
        batch.add_column(sa.Column('request_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pending_effect') as batch:
        batch.drop_column('request_id')
