"""Baseline: the schema as `create_all` made it from storage/models.py before there were migrations.

A database made that way (no alembic_version) is stamped at this revision by storage.migrations.upgrade.
Types are SQLAlchemy's own (the models' ExactDecimal is NUMERIC, or exact text on SQLite), so this file does not
depend on the project's code.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('asset',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('catalog_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('unit_price', sa.Numeric(14, 4).with_variant(sa.String(40), 'sqlite'), nullable=True),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('search_text', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'code')
    )
    with op.batch_alter_table('catalog_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_entry_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_entry_parent_code'), ['parent_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_entry_search_text'), ['search_text'], unique=False)

    op.create_table('person',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tz', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('role_grant',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'role')
    )
    op.create_table('service_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.String(length=32), nullable=False),
    sa.Column('client_code', sa.String(length=64), nullable=False),
    sa.Column('site_code', sa.String(length=64), nullable=False),
    sa.Column('requested_date', sa.Date(), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('scheduled_date', sa.Date(), nullable=True),
    sa.Column('approval_notes', sa.Text(), nullable=True),
    sa.Column('approved_by', sa.String(length=32), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=32), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.Text(), nullable=True),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('submitted_view_id', sa.String(length=32), nullable=True),
    sa.Column('channel_id', sa.String(length=32), nullable=True),
    sa.Column('channel_name', sa.String(length=80), nullable=True),
    sa.Column('card_ts', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submitted_view_id')
    )
    with op.batch_alter_table('service_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_order_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_order_state'), ['state'], unique=False)

    op.create_table('slack_event',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('slack_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slack_event_received_at'), ['received_at'], unique=False)

    op.create_table('assignment',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('added_in_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['service_order.id'], ),
    sa.PrimaryKeyConstraint('order_id', 'user_id')
    )
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=32), nullable=True),
    sa.Column('to_state', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['service_order.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_order_id'), ['order_id'], unique=False)

    op.create_table('order_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('author_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('scheduled_date', sa.Date(), nullable=True),
    sa.Column('document', sa.Text(), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('pdf_file_id', sa.String(length=32), nullable=True),
    sa.UniqueConstraint('order_id', 'number'),  # before the key, as create_all wrote it: the same DDL
    sa.ForeignKeyConstraint(['order_id'], ['service_order.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('order_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_version_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_version_order_id'), ['order_id'], unique=False)

    op.create_table('pending_effect',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['service_order.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('pending_effect', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_effect_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_effect_status'), ['status'], unique=False)

    op.create_table('line_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('unit_price', sa.Numeric(14, 4).with_variant(sa.String(40), 'sqlite'), nullable=True),
    sa.Column('quantity', sa.Numeric(14, 3).with_variant(sa.String(40), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['order_version.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('line_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_item_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('line_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_line_item_version_id'))

    op.drop_table('line_item')
    with op.batch_alter_table('pending_effect', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_effect_status'))
        batch_op.drop_index(batch_op.f('ix_pending_effect_order_id'))

    op.drop_table('pending_effect')
    with op.batch_alter_table('order_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_version_order_id'))
        batch_op.drop_index(batch_op.f('ix_order_version_fingerprint'))

    op.drop_table('order_version')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_order_id'))

    op.drop_table('audit_event')
    op.drop_table('assignment')
    with op.batch_alter_table('slack_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slack_event_received_at'))

    op.drop_table('slack_event')
    with op.batch_alter_table('service_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_order_state'))
        batch_op.drop_index(batch_op.f('ix_service_order_requester_id'))

    op.drop_table('service_order')
    op.drop_table('role_grant')
    op.drop_table('person')
    with op.batch_alter_table('catalog_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_entry_search_text'))
        batch_op.drop_index(batch_op.f('ix_catalog_entry_parent_code'))
        batch_op.drop_index(batch_op.f('ix_catalog_entry_kind'))

    op.drop_table('catalog_entry')
    op.drop_table('asset')
