"""Log output of the long-running commands (``serve``, ``worker``): text or one JSON object a line.

The runner attaches ``job_id``, ``candidate_id``, ``evaluation_id`` and ``runner`` to its records
(``extra=``); both formats show them, so ``grep job=12`` or a log pipeline's ``job_id == 12``
finds every line of one job.

Example:
    >>> configure_logging("json")
    >>> logging.getLogger("worker").info("claimed", extra={"job_id": 3})  # doctest: +SKIP
    {"time": "2026-11-22T16:40:01.123Z", "level": "INFO", "logger": "worker", "message": "claimed", "job_id": 3}
"""

from __future__ import annotations

import json
import logging
import sys
import time

FORMATS = ("text", "json")
ID_FIELDS = ("job_id", "candidate_id", "evaluation_id", "runner")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the ids the
    record carries, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        for field in ID_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with the record's ids in brackets after the logger's name."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"{field.removesuffix('_id')}={getattr(record, field)}" for field in ID_FIELDS
               if getattr(record, field, None) is not None]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """Sends every logger's records to stderr in ``fmt`` (replacing earlier handlers)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter on every start
