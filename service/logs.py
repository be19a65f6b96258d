"""Structured JSON logs. Only metadata is logged: never bodies, keys or transcript text."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# uvicorn adds an ANSI-coloured copy of its messages; it is noise in JSON.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            # The exception type and where it happened; the message is left out on
            # purpose because database errors can quote the values being written.
            exc_type, _, tb = record.exc_info
            entry["exception"] = exc_type.__name__ if exc_type else None
            entry["traceback"] = _frames(tb)
        return json.dumps(entry, default=str)


def _frames(tb) -> list[str]:
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(f"{code.co_filename}:{tb.tb_lineno} in {code.co_name}")
        tb = tb.tb_next
    return frames[-12:]


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (test capture and reloaders swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str) -> None:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes the access log, with the principal and the route template.
    logging.getLogger("uvicorn.access").disabled = True
