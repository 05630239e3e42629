"""Alembic's environment. Run through `storage.migrations` (init_db, `service-orders db`, `python -m
storage.migrations`), which configures Alembic in code and hands over the connection to migrate: there is no
alembic.ini."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.dialects import sqlite
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.models import ExactDecimal


def render_item(kind: str, obj: Any, autogen: Any) -> str | bool:
    """Revisions use SQLAlchemy's own types only, so they never import the project's code (which changes after
    them): sqlmodel's AutoString is a String, its UTCDateTime a DateTime with time zone, and ExactDecimal is
    NUMERIC, or on SQLite the exact text it keeps there."""
    if kind != "type":
        return False
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length!r})"
    if isinstance(obj, TypeDecorator) and isinstance(obj.impl_instance, DateTime):  # sqlmodel's UTCDateTime
        return f"sa.DateTime(timezone={obj.impl_instance.timezone})"
    if isinstance(obj, ExactDecimal):
        on_sqlite = obj.load_dialect_impl(sqlite.dialect())
        return (f"sa.Numeric({obj.impl.precision}, {obj.impl.scale})"
                f".with_variant(sa.String({on_sqlite.length}), 'sqlite')")
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through storage.migrations (init_db or `service-orders db upgrade`), which "
                       "passes the connection; offline (--sql) mode is not supported.")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite alters a table by copying it; revisions written in batch mode do that there and run plain ALTERs
    # elsewhere, so every revision runs on both databases whichever one it was generated against
    render_as_batch=True,
    render_item=render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
