"""Alembic revisions, one file each (`python -m storage.migrations revision MESSAGE` writes the next)."""
