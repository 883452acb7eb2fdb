"""One JSON object per log line, with the request id, API key name and agent id of the request."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
key_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("key_name", default=None)
agent_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("agent_id", default=None)
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# An entry link's token is the credential of its page: whatever prints a request line or a path must not print it.
ENTRY_PATH = re.compile(r"/entry/[^\s/?#\"'<>\\]+")
REDACTED_ENTRY = "/entry/[redacted]"


def redact_paths(text: str) -> str:
    """The text with every entry link token replaced (`/entry/<token>` as a route name is left alone)."""
    return ENTRY_PATH.sub(REDACTED_ENTRY, text) if "/entry/" in text else text


class RedactPaths(logging.Filter):
    """A logger filter (gunicorn's access and error logs) that redacts entry link tokens from the message and the
    traceback, whatever handler or format then writes the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        message = record.getMessage()
        if "/entry/" in message:
            record.msg, record.args = redact_paths(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_paths(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", "request_id", "key", "agent_id", ...extra}`."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line (never the arguments' secrets: we never log any)."""
        line = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        for name, var in (("request_id", request_id), ("key", key_name), ("agent_id", agent_id)):
            if (value := var.get()) is not None:
                line[name] = value
        line.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return redact_paths(json.dumps(line, ensure_ascii=False, default=str))


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr, unless the host (pytest) installed handlers of its own."""
    root = logging.getLogger()
    if root.handlers:
        return
    lean_records()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def lean_records() -> None:
    """Skip what JsonFormatter never writes: the caller's file and line, thread and process names.

    The logging HOWTO's "Optimization" settings; every request writes an access line, and finding the caller
    walks the stack each time. Only for processes whose handlers all use JsonFormatter (ours and gunicorn's).
    """
    logging._srcfile = None  # the documented switch for findCaller
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
