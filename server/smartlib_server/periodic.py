"""One background loop for every "do this every few seconds until told to stop" worker.

The change follower, the CF retrainer, the reader-row warmer and the catalog export all need the
same things: a daemon thread, a first tick one interval after start (not at once), a stop that
ends the wait at once instead of after it, and a tick that fails without ending the loop. Each
used to write that loop itself; here it is written, and tested, once.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Runs `tick()` on a daemon thread, once per interval, until `stop()`.

    Args:
        tick: the work of one round. An exception is logged with its traceback and counted in
            `failures`; the loop goes on (the store or a disk may be briefly away).
        interval_s: seconds between rounds, waited on the stop event so stop() cuts it short.
        name: the thread's name, also used in the log line of a failed round.
        pause: waits between rounds instead of the stop event, given the interval (the change
            follower blocks on PostgreSQL NOTIFY); it should return within the interval.
        on_start: runs first on the new thread (thread-local settings such as OpenMP threads).
        after_failure_s: extra wait after a failed round, so a round that fails at once does
            not spin.
        failed: the log line of a failed round (each worker keeps the wording operators know).
        level: its log level.
    """

    def __init__(
        self, tick: Callable[[], object], interval_s: float, name: str, *,
        pause: Callable[[float], object] | None = None, on_start: Callable[[], object] | None = None,
        after_failure_s: float = 0.0, failed: str | None = None, level: int = logging.WARNING,
    ):
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.name = name
        self.interval_s = interval_s
        self._tick = tick
        self._pause = pause
        self._on_start = on_start
        self._after_failure_s = after_failure_s
        self._failed = failed or f"{name}: a round failed"
        self._level = level
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.runs = 0  # rounds that finished without an exception
        self.failures = 0

    def start(self) -> PeriodicWorker:
        """Starts the thread; a second call, or a call after stop(), does nothing."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Asks the loop to end and waits up to `timeout` for a round in progress to finish."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def sleep(self, seconds: float) -> bool:
        """Waits inside a round (pacing); True when stop() was called meanwhile."""
        return self._stop.wait(seconds)

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _wait(self) -> bool:
        if self._pause is None:
            return self._stop.wait(self.interval_s)
        self._pause(self.interval_s)
        return self._stop.is_set()

    def _run(self) -> None:
        if self._on_start is not None:
            self._on_start()
        while not self._wait():
            try:
                self._tick()
                self.runs += 1
            except Exception:  # one failed round must not end the schedule
                self.failures += 1
                log.log(self._level, "%s; next try in %.1f s", self._failed, self.interval_s, exc_info=True)
                self._stop.wait(self._after_failure_s)

    def __enter__(self) -> PeriodicWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
