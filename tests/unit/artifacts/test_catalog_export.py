"""Catalog CSV exports, on demand and on a schedule."""
from __future__ import annotations

import threading
import time

import pytest

from smartlib_server.artifacts import export


def test_csv_export_round_trips_every_field(catalog, books, tmp_path):
    path = export.export_catalog_csv(catalog, tmp_path / "exports")
    assert path.parent == tmp_path / "exports" and path.name.startswith("catalog-")
    # commas in list items, quotes, newlines, tabs and non-ASCII all survive
    assert export.read_csv(path) == list(books)


def test_exports_beyond_keep_are_removed_oldest_first(catalog, tmp_path):
    out = tmp_path / "exports"
    made = [export.export_catalog_csv(catalog, out, keep=2) for _ in range(4)]
    assert sorted(out.iterdir()) == made[-2:]


def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_scheduler_runs_repeatedly_and_survives_a_failing_run():
    calls = []

    def job():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OSError("disk full, once")

    scheduler = export.ExportScheduler(job, interval_s=0.02).start()
    try:
        assert _wait_for(lambda: scheduler.runs >= 3)
        assert scheduler.failures == 1
    finally:
        scheduler.stop(timeout=5)
    assert not any(t.name == "catalog-export" for t in threading.enumerate())
    settled = len(calls)
    time.sleep(0.1)
    assert len(calls) == settled  # nothing runs after stop()


def test_scheduler_waits_a_full_interval_before_the_first_run():
    calls = []
    with export.ExportScheduler(lambda: calls.append(1), interval_s=30):
        time.sleep(0.1)
    assert calls == []


def test_scheduled_export_writes_files(catalog, tmp_path):
    out = tmp_path / "exports"
    scheduler = export.scheduled_export(catalog, out, interval_s=0.05, keep=3)
    try:
        assert _wait_for(lambda: out.is_dir() and len(list(out.glob("catalog-*.csv"))) >= 2)
    finally:
        scheduler.stop(timeout=5)
    assert len(list(out.glob("catalog-*.csv"))) <= 3


def test_interval_must_be_positive():
    with pytest.raises(ValueError):
        export.ExportScheduler(lambda: None, interval_s=0)
