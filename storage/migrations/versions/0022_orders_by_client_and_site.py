"""The orders routed to a person, read by client and by site (issue 19): App Home, `/order list` and the digest
of a coordinator named on a few clients among thousands read those clients' orders only
(workflow/routing.seen_by), not every order.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 18:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0022'
down_revision: str | Sequence[str] | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_service_order_client_state', 'service_order',
                    ['workspace', 'client_code', 'state', 'site_code'])
    op.create_index('ix_service_order_site', 'service_order', ['workspace', 'site_code'])


def downgrade() -> None:
    op.drop_index('ix_service_order_site', table_name='service_order')
    op.drop_index('ix_service_order_client_state', table_name='service_order')
