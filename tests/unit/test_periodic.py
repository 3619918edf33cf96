"""PeriodicWorker: the one loop under the change follower, the CF retrainer, the warmer and the export."""
from __future__ import annotations

import logging
import threading

import pytest

from smartlib_server.periodic import PeriodicWorker


def test_stop_ends_a_long_wait_at_once_and_the_first_round_waits_an_interval():
    calls = []
    worker = PeriodicWorker(lambda: calls.append(1), interval_s=3600, name="test-periodic-idle").start()
    assert worker.is_alive()
    worker.stop(timeout=30)  # a stop that only took effect after the hour-long wait would time out here
    assert not worker.is_alive()
    assert calls == []


def test_a_failing_round_is_logged_and_the_next_rounds_still_run(caplog):
    ran = threading.Event()
    rounds = []

    def tick():
        rounds.append(1)
        if len(rounds) == 1:
            raise OSError("store away, once")
        if len(rounds) >= 3:
            ran.set()

    with caplog.at_level(logging.WARNING, logger="smartlib_server.periodic"):
        worker = PeriodicWorker(tick, interval_s=0.01, name="test-periodic-failing", failed="the test round failed")
        with worker:
            assert ran.wait(30)
    assert not worker.is_alive()
    assert worker.failures == 1 and worker.runs >= 2
    failed = [r for r in caplog.records if "the test round failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info[0] is OSError


def test_start_is_idempotent_and_a_stopped_worker_does_not_start_again():
    worker = PeriodicWorker(lambda: None, interval_s=3600, name="test-periodic-once")
    worker.start()
    first = worker.thread
    worker.start()
    assert worker.thread is first
    worker.stop(timeout=30)
    worker.start()
    assert not worker.is_alive() and worker.thread is first


def test_a_pause_replaces_the_interval_wait_and_sleep_reports_a_stop():
    waits = []
    stopped_in_round = []
    done = threading.Event()

    def pause(seconds):
        waits.append(seconds)

    def tick():
        if len(waits) >= 2:
            worker._stop.set()  # as stop() would, from inside a round
            stopped_in_round.append(worker.sleep(3600))
            done.set()

    worker = PeriodicWorker(tick, interval_s=0.25, name="test-periodic-pause", pause=pause).start()
    assert done.wait(30)
    worker.stop(timeout=30)
    assert not worker.is_alive()
    assert set(waits) == {0.25} and stopped_in_round == [True]


def test_the_interval_must_be_positive():
    with pytest.raises(ValueError):
        PeriodicWorker(lambda: None, interval_s=0, name="test-periodic-zero")
