"""Structured logs: one JSON object per line with the call's trace and request ids."""
from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from smartlib_core.errors import ConfigError
from smartlib_server import logs
from smartlib_server.config import log_format_from_env


def _line(record_fn) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("smartlib.test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        record_fn(logger)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_a_line_inside_a_call_carries_its_trace_and_request_ids():
    context = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=False, trace_flags=TraceFlags(1))
    token = logs.request_id.set("req-7")
    try:
        with trace.use_span(NonRecordingSpan(context)):
            entry = _line(lambda log: log.warning("slow: %d ms", 120))
    finally:
        logs.request_id.reset(token)
    assert entry["message"] == "slow: 120 ms"
    assert entry["level"] == "WARNING" and entry["logger"] == "smartlib.test_logs"
    assert entry["trace_id"] == "00000000000000000000000000000abc"
    assert entry["span_id"] == "0000000000000def"
    assert entry["request_id"] == "req-7"
    assert entry["timestamp"].endswith("+00:00")


def test_a_line_outside_any_call_has_no_ids_and_keeps_the_traceback():
    def fail(log):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")

    entry = _line(fail)
    assert "trace_id" not in entry and "request_id" not in entry
    assert "ValueError: boom" in entry["exception"]


def test_the_format_variable_is_checked_with_its_name():
    assert log_format_from_env({}) == "text"
    assert log_format_from_env({"SMARTLIB_LOG_FORMAT": "json"}) == "json"
    with pytest.raises(ConfigError, match="SMARTLIB_LOG_FORMAT='xml'"):
        log_format_from_env({"SMARTLIB_LOG_FORMAT": "xml"})
    with pytest.raises(ValueError):
        logs.configure("INFO", "xml")


def test_configure_sends_the_chosen_format_to_the_root_logger():
    root = logging.getLogger()
    noisy = [logging.getLogger(name) for name in ("faiss.loader", "sentence_transformers", "httpx")]
    saved = root.handlers[:], root.level, [log.level for log in noisy]

    def logged(fmt: str) -> str:
        logs.configure("debug", fmt)
        [handler] = root.handlers
        stream = io.StringIO()
        handler.setStream(stream)
        logging.getLogger("smartlib.test_logs_root").debug("ready on %d", 50051)
        return stream.getvalue()

    try:
        entry = json.loads(logged("json"))
        assert (entry["message"], entry["level"], entry["logger"]) == ("ready on 50051", "DEBUG", "smartlib.test_logs_root")
        assert all(log.level == logging.WARNING for log in noisy)  # their INFO chatter stays out at any root level
        text = logged("text")
        assert not text.startswith("{") and text.rstrip().endswith("DEBUG smartlib.test_logs_root: ready on 50051")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for log, level in zip(noisy, saved[2], strict=True):
            log.setLevel(level)
