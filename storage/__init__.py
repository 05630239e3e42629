"""Tables, engine and migrations."""

from storage import installations, models  # noqa: F401  (registers every table on SQLModel.metadata)
