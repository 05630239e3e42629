"""How the app logs: plain text lines, or JSON lines (LOG_FORMAT=json) for a log store to search; either way
each line logged while a Slack request is handled names that request's id."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any

from storage.request_context import REQUEST_ID

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(request_tag)s"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class RequestIds(logging.Filter):
    """Gives each record the id of the Slack request it was logged for (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.request_tag = f" [request {record.request_id}]" if record.request_id else ""
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                                "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                                "request_id": getattr(record, "request_id", None)}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def handler(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """Lines in `log_format` to `stream` (standard error), each naming its request."""
    out = logging.StreamHandler(stream)
    out.addFilter(RequestIds())
    out.setFormatter(JsonLines() if log_format is LogFormat.JSON else logging.Formatter(TEXT))
    return out


def configure(log_format: LogFormat, level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, handlers=[handler(log_format)], force=True)

