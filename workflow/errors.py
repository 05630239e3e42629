"""Typed outcomes the bot turns into the right Slack surface."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base for every refusal the user should read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Refused(WorkflowError):
    """The actor may not take this step now (role, assignment, or the order's state)."""


class NotFound(WorkflowError):
    pass


class Stale(Refused):
    """The order moved on since the form or button was shown."""


class FieldErrors(WorkflowError):
    """Invalid form input, keyed by the form field (its block_id). Nothing was stored."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
