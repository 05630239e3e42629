"""Several workspaces in one database (issue 18): every table holding a workspace's data gets a `workspace`
column (the Slack team id), in the primary key of those keyed by Slack ids and in the unique keys and listing
indexes of the others; orders are numbered per workspace (`service_order.number`, `order_numbering`). An
order's versions, items, approvals and the rest belong to its workspace through the order.

The rows already here are the workspace whose team id `slack_workspace` holds (the bot claimed the database for
it at its first start); with none recorded yet, they wait as '' and the first start claims them
(bot/workspace.py). Orders keep their numbers (number = id).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 14:30:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | Sequence[str] | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tables keyed by Slack ids: the workspace leads the primary key (PostgreSQL's own names for the keys)
KEYED = {'role_grant': ['user_id', 'role'], 'person': ['user_id'], 'client_price': ['client_code', 'item_code'],
         'routing': ['kind', 'code', 'role', 'user_id'], 'home_viewer': ['user_id']}
# tables with a unique key that becomes one per workspace: (PostgreSQL's name for the old one, its columns)
UNIQUE = {'catalog_entry': ('catalog_entry_kind_code_key', ['kind', 'code']),
          'pending_effect': ('pending_effect_key_key', ['key']),
          'reminder': ('reminder_key_key', ['key'])}
# service_order's listing indexes, each now led by the workspace
LISTINGS = {'ix_service_order_state_created': ['state', 'created_at'],
            'ix_service_order_state_scheduled': ['state', 'scheduled_date'],
            'ix_service_order_state_pending': ['state', 'pending_since'],
            'ix_service_order_state_priority_pending': ['state', 'priority', 'pending_since']}
TO_ARCHIVE = sa.text('closed_at IS NOT NULL AND channel_archived_at IS NULL')
# names SQLite's batch mode gives the unnamed unique constraints it reflects, so they can be dropped
NAMING = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _workspace() -> str:
    """The team id the rows here belong to: the one recorded, or '' (claimed at the first start)."""
    teams = op.get_bind().execute(sa.text('SELECT team_id FROM slack_workspace')).scalars().all()
    return teams[0] if len(teams) == 1 else ''


def _add_workspace(table: str, team: str) -> None:
    # NOT NULL with a default fills the rows already there, in place on SQLite too; '' is no workspace's, so
    # a row written without one (never, through the models) is nobody's rather than the first workspace's
    op.add_column(table, sa.Column('workspace', sa.String(length=32), nullable=False, server_default=''))
    if team:
        op.execute(sa.text(f'UPDATE {table} SET workspace = :team').bindparams(team=team))


def upgrade() -> None:
    team = _workspace()
    with op.batch_alter_table('slack_workspace') as batch:
        batch.add_column(sa.Column('uninstalled_at', sa.DateTime(timezone=True), nullable=True))

    for table, key in KEYED.items():
        _add_workspace(table, team)
        if _sqlite():  # SQLite cannot alter a primary key in place: batch mode copies the rows
            with warnings.catch_warnings():  # that the new key differs from the old columns' is the point
                warnings.filterwarnings('ignore', "Table '_alembic_tmp_", sa.exc.SAWarning)
                with op.batch_alter_table(table, recreate='always') as batch:
                    batch.create_primary_key(f'{table}_pkey', ['workspace', *key])
        else:
            op.drop_constraint(f'{table}_pkey', table, type_='primary')
            op.create_primary_key(f'{table}_pkey', table, ['workspace', *key])

    for table, (old, columns) in UNIQUE.items():
        _add_workspace(table, team)
        if _sqlite():
            with op.batch_alter_table(table, recreate='always', naming_convention=NAMING) as batch:
                batch.drop_constraint(f'uq_{table}_{columns[0]}', type_='unique')
                batch.create_unique_constraint(f'uq_{table}_workspace', ['workspace', *columns])
                batch.create_index(f'ix_{table}_workspace', ['workspace'])
        else:
            op.drop_constraint(old, table, type_='unique')
            op.create_unique_constraint(f'uq_{table}_workspace', table, ['workspace', *columns])
            op.create_index(f'ix_{table}_workspace', table, ['workspace'])

    _add_workspace('service_order', team)
    op.add_column('service_order', sa.Column('number', sa.Integer(), nullable=False, server_default='0'))
    op.execute(sa.text('UPDATE service_order SET number = id'))
    op.create_index('ix_service_order_workspace', 'service_order', ['workspace'])
    op.create_index('uq_service_order_number', 'service_order', ['workspace', 'number'], unique=True)
    for name, columns in LISTINGS.items():
        op.drop_index(name, 'service_order')
        op.create_index(name, 'service_order', ['workspace', *columns])
    op.drop_index('ix_service_order_to_archive', 'service_order')
    op.create_index('ix_service_order_to_archive', 'service_order', ['workspace', 'closed_at'],
                    postgresql_where=TO_ARCHIVE, sqlite_where=TO_ARCHIVE)
    if not _sqlite():  # SQLite cannot drop a default in place; '' there is no workspace's, as above
        for table in [*KEYED, *UNIQUE, 'service_order']:
            op.alter_column(table, 'workspace', server_default=None)
        op.alter_column('service_order', 'number', server_default=None)

    op.create_table(
        'order_numbering',
        sa.Column('workspace', sa.String(length=32), nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('workspace'))
    op.execute(sa.text('INSERT INTO order_numbering (workspace, last) SELECT workspace, MAX(number) '
                       'FROM service_order GROUP BY workspace'))


def downgrade() -> None:
    # any table, not just the orders: a workspace with a catalog or roles but no order yet is one all the same
    every = ' UNION '.join(f'SELECT workspace FROM {table}' for table in [*KEYED, *UNIQUE, 'service_order'])
    teams = op.get_bind().execute(sa.text(f'SELECT COUNT(*) FROM ({every}) AS teams')).scalar_one()
    if teams > 1:
        raise RuntimeError('this database holds several workspaces: 0017 can hold only one')
    op.drop_table('order_numbering')
    op.drop_index('ix_service_order_to_archive', 'service_order')
    op.create_index('ix_service_order_to_archive', 'service_order', ['closed_at'],
                    postgresql_where=TO_ARCHIVE, sqlite_where=TO_ARCHIVE)
    for name, columns in LISTINGS.items():
        op.drop_index(name, 'service_order')
        op.create_index(name, 'service_order', columns)
    op.drop_index('uq_service_order_number', 'service_order')
    op.drop_index('ix_service_order_workspace', 'service_order')
    with op.batch_alter_table('service_order') as batch:
        batch.drop_column('number')
        batch.drop_column('workspace')
    for table, (old, columns) in UNIQUE.items():
        with op.batch_alter_table(table, recreate='always' if _sqlite() else 'auto') as batch:
            batch.drop_index(f'ix_{table}_workspace')
            batch.drop_constraint(f'uq_{table}_workspace', type_='unique')
            batch.create_unique_constraint(old, columns)
            batch.drop_column('workspace')
    for table, key in KEYED.items():
        with op.batch_alter_table(table, recreate='always' if _sqlite() else 'auto') as batch:
            if not _sqlite():
                batch.drop_constraint(f'{table}_pkey', type_='primary')
            batch.drop_column('workspace')
            batch.create_primary_key(f'{table}_pkey', key)
    with op.batch_alter_table('slack_workspace') as batch:
        batch.drop_column('uninstalled_at')
