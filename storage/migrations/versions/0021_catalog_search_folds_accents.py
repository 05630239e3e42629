"""Typeahead folds accents (issue 19): `catalog_entry.search_text` is stored with accents and other combining
marks dropped as well as casefolded, as the typed words are folded, so "penalolen" finds "Peñalolén". On
PostgreSQL its index becomes a trigram GIN index (pg_trgm), which finds a rare word's entries for the typeahead's
`LIKE '%word%'`; and on both an index on (workspace, kind, code, search_text) lets the typeahead read each kind in
code order, checking the words in the index, until its 100th match (bench/real_size.py).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 18:10:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | Sequence[str] | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_entry = sa.table('catalog_entry', sa.column('id', sa.Integer), sa.column('code', sa.String),
                  sa.column('name', sa.String), sa.column('search_text', sa.String))
_BATCH = 5000
_INDEX = 'ix_catalog_entry_search_text'
_BASE_LETTERS = str.maketrans({'ø': 'o', 'ł': 'l', 'đ': 'd', 'ħ': 'h', 'ŧ': 't', 'ı': 'i', 'æ': 'ae', 'œ': 'oe'})


def folded(text: str) -> str:
    """workflow.folding.fold as this revision made it (frozen here: migrations never import the workflow)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize('NFKD', text.casefold())
    return ''.join(c for c in decomposed if not unicodedata.combining(c)).translate(_BASE_LETTERS)


def _recompute(fold) -> None:  # type: ignore[no-untyped-def]
    """search_text = fold("code name")[:300] for every entry, writing only the rows that change (in batches by
    id, so a catalog of a million rows is never held in memory at once)."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(sa.select(_entry.c.id, _entry.c.code, _entry.c.name, _entry.c.search_text)
                                  .where(_entry.c.id > last).order_by(_entry.c.id).limit(_BATCH)).all()
        if not rows:
            return
        last = rows[-1].id
        changed = [{'row': row.id, 'text': text} for row in rows
                   for text in [fold(f'{row.code} {row.name}')[:300]] if text != row.search_text]
        if changed:
            connection.execute(_entry.update().where(_entry.c.id == sa.bindparam('row'))
                               .values(search_text=sa.bindparam('text')), changed)


def upgrade() -> None:
    _recompute(folded)
    # the typeahead reads each kind in code order and stops at its 100th match: with the words in the index,
    # no row is read until one matches
    op.create_index('ix_catalog_entry_typeahead', 'catalog_entry', ['workspace', 'kind', 'code', 'search_text'])
    if op.get_bind().dialect.name == 'postgresql':
        # pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the database's owner may create it
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.drop_index(_INDEX, table_name='catalog_entry')
        op.create_index(_INDEX, 'catalog_entry', ['search_text'], postgresql_using='gin',
                        postgresql_ops={'search_text': 'gin_trgm_ops'})


def downgrade() -> None:
    op.drop_index('ix_catalog_entry_typeahead', table_name='catalog_entry')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index(_INDEX, table_name='catalog_entry')
        op.create_index(_INDEX, 'catalog_entry', ['search_text'])  # pg_trgm stays: it may have been there before
    _recompute(str.casefold)
