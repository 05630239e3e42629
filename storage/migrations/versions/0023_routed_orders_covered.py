"""App Home counts a coordinator's orders in one pass over an index (issue 19): the indexes of the orders routed
to a person, by client and by site, also hold each order's state, approval role and scheduled date, so the
counts by state, of those waiting for this person's approval and of the overdue ones (workflow/overview.tally)
read the index alone, not each order's row. For those who see every order (admins) the index by state and
scheduled date holds the approval role too.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 19:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0023'
down_revision: str | Sequence[str] | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_service_order_routed_client', 'service_order',
                    ['workspace', 'client_code', 'state', 'site_code', 'approval_role', 'scheduled_date'])
    op.create_index('ix_service_order_routed_site', 'service_order',
                    ['workspace', 'site_code', 'state', 'approval_role', 'scheduled_date'])
    op.create_index('ix_service_order_state_scheduled_role', 'service_order',
                    ['workspace', 'state', 'scheduled_date', 'approval_role'])
    op.drop_index('ix_service_order_site', table_name='service_order')
    op.drop_index('ix_service_order_client_state', table_name='service_order')
    op.drop_index('ix_service_order_state_scheduled', table_name='service_order')


def downgrade() -> None:
    op.create_index('ix_service_order_client_state', 'service_order',
                    ['workspace', 'client_code', 'state', 'site_code'])
    op.create_index('ix_service_order_site', 'service_order', ['workspace', 'site_code'])
    op.create_index('ix_service_order_state_scheduled', 'service_order', ['workspace', 'state', 'scheduled_date'])
    op.drop_index('ix_service_order_state_scheduled_role', table_name='service_order')
    op.drop_index('ix_service_order_routed_site', table_name='service_order')
    op.drop_index('ix_service_order_routed_client', table_name='service_order')
