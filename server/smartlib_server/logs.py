"""Log output: plain text for a terminal, or one JSON object per line for a log pipeline.

Each JSON line carries the trace id and request id of the call it was written in, when there is
one, so one slow call can be followed from the RPC into the worker threads that served it.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging

from opentelemetry import trace

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Set by the tracing step for the length of one call; worker threads see it through the copied context.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("smartlib_request_id", default="")


class JsonFormatter(logging.Formatter):
    """timestamp, level, logger, message, and trace_id / span_id / request_id when a call is current."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        if rid := request_id.get():
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Replaces the root handlers with one stderr handler in the chosen format.

    Raises:
        ValueError: a format other than "text" or "json".
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for noisy in ("faiss.loader", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
