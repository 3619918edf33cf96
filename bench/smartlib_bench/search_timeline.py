"""Where a SearchByText request's wall time goes: a timestamp at each hand-off, per request.

search_profile's `--serve` mode installs these hooks next to its CPU timers. Every request is
followed by its query text, which is distinct per call (the load generator's and the in-process
rounds' queries), so no id has to be threaded through the server. The marks, in order:

    servicer_in   the loop enters RecommendServicer.SearchByText (gRPC only)
    submit        the loop hands the work to the pool (Blocking.run; gRPC only)
    worker_in     a worker starts it (AnswerCaching.get_or_compute; gRPC only)
    search_in     RecommendService.search_by_text starts (both paths)
    queued        the query joins the batcher's queue (BatchedInference.start_queries)
    taken         its batch's pass starts (LocalInference.embed_queries on the batcher's thread)
    embedded      the pass returns
    awoken        the loop has the rows (the loop path, which awaits the batch itself)
    resumed       the caller has its rows back (the last PendingRows.result to return)
    search_out    search_by_text returns
    worker_out    the worker's part ends
    loop_resumed  the loop has the answer back (Blocking.run returns)
    servicer_out  SearchByText returns its bytes

`summary()` turns the marks into the mean and median milliseconds between neighbours. A
`GilProbe` thread sleeps 2 ms at a time and records how late it wakes: the lateness is what any
thread waking from a wait (a future, a lock, the loop's poll) pays before it runs Python again,
and its own schedstat says how much of that was waiting for a core rather than for the GIL.
"""
from __future__ import annotations

import contextvars
import functools
import statistics
import threading
import time
from pathlib import Path

MARKS = ("servicer_in", "submit", "worker_in", "search_in", "queued", "taken", "embedded", "awoken", "resumed",
         "search_out", "worker_out", "loop_resumed", "servicer_out")
STEPS = {  # (from, to) -> label; the steps a path has are those whose marks it records
    ("servicer_in", "submit"): "loop: before the hand-off (key, cache lookup)",
    ("submit", "worker_in"): "hand-off: loop -> worker",
    ("worker_in", "search_in"): "worker: before the search",
    ("search_in", "queued"): "worker: validation, state",
    ("queued", "taken"): "queue: waiting for a pass",
    ("taken", "embedded"): "embedding pass",
    ("embedded", "resumed"): "hand-off: batcher -> caller",
    ("embedded", "awoken"): "hand-off: batcher -> loop",
    ("awoken", "submit"): "loop: after the embedding",
    ("awoken", "resumed"): "loop: after the embedding",
    ("resumed", "worker_out"): "caller: ranking, reply bytes",
    ("worker_out", "servicer_out"): "loop: after the ranking",
    ("resumed", "servicer_out"): "loop: ranking, reply bytes",
    ("servicer_in", "queued"): "loop: key, cache lookup, validation",
    ("worker_in", "resumed"): "worker: lexical step, rows",
    ("resumed", "search_out"): "caller: ranking",
    ("search_out", "worker_out"): "worker: reply bytes, cache store",
    ("worker_out", "loop_resumed"): "hand-off: worker -> loop",
    ("loop_resumed", "servicer_out"): "loop: after the hand-off",
}
_query: contextvars.ContextVar[str | None] = contextvars.ContextVar("search_timeline_query", default=None)


class Timeline:
    def __init__(self) -> None:
        self.marks: dict[str, dict[str, float]] = {}
        self.loop_probe: LoopProbe | None = None  # started by the first SearchByText, on the loop

    def mark(self, query: str | None, name: str) -> None:
        if query is not None:
            self.marks.setdefault(query, {})[name] = time.perf_counter()

    def take(self) -> dict[str, dict[str, float]]:
        marks, self.marks = self.marks, {}
        return marks


def install(timeline: Timeline) -> None:
    """Wraps the server's hand-off points so they mark `timeline` (before the server starts)."""
    from smartlib_server.adapters import batched_inference, inference
    from smartlib_server.api import blocking, servicers
    from smartlib_server.services import caching
    from smartlib_server.services.recommend import service

    mark = timeline.mark
    search_text = servicers.RecommendServicer.SearchByText

    @functools.wraps(search_text)
    async def searched(self, request, context):
        if timeline.loop_probe is None:
            timeline.loop_probe = LoopProbe()
        token = _query.set(request.query)
        mark(request.query, "servicer_in")
        try:
            return await search_text(self, request, context)
        finally:
            mark(request.query, "servicer_out")
            _query.reset(token)
    servicers.RecommendServicer.SearchByText = searched

    rows = getattr(servicers, "_rows", None)  # the loop path's await of the batch (absent before it)
    if rows is not None:
        @functools.wraps(rows)
        async def awaited(ask):
            try:
                return await rows(ask)
            finally:
                mark(_query.get(), "awoken")
        servicers._rows = awaited

    run = blocking.Blocking.run

    @functools.wraps(run)
    async def ran(self, fn, *args):
        query = _query.get()
        mark(query, "submit")
        try:
            return await run(self, fn, *args)
        finally:
            mark(query, "loop_resumed")
    blocking.Blocking.run = ran
    _around(caching.AnswerCaching, "get_or_compute", lambda *a, **k: _query.get(), "worker_in", "worker_out", mark)
    _around(service.RecommendService, "search_by_text", lambda self, query, *a, **k: query, "search_in", "search_out", mark)

    start = batched_inference.BatchedInference.start_queries

    @functools.wraps(start)
    def started(self, texts):
        for text in texts:
            mark(text, "queued")
        return start(self, texts)
    batched_inference.BatchedInference.start_queries = started

    embed = inference.LocalInference.embed_queries

    @functools.wraps(embed)
    def embedded(self, texts):
        for text in texts:
            mark(text, "taken")
        try:
            return embed(self, texts)
        finally:
            for text in texts:
                mark(text, "embedded")
    inference.LocalInference.embed_queries = embedded

    result = inference.PendingRows.result

    @functools.wraps(result)
    def resumed(self):
        try:
            return result(self)
        finally:
            mark(_query.get(), "resumed")
    inference.PendingRows.result = resumed


def _around(owner, name: str, query_of, before: str, after: str, mark) -> None:
    """Marks `before` and `after` around `owner.name`, for the query `query_of(*args)` names;
    the query is also made the current one, so the marks of what the call runs find it."""
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        query = query_of(*args, **kwargs)
        token = _query.set(query)
        mark(query, before)
        try:
            return fn(*args, **kwargs)
        finally:
            mark(query, after)
            _query.reset(token)
    setattr(owner, name, wrapped)


def summary(marks: dict[str, dict[str, float]]) -> dict:
    """Mean and median ms of every step between neighbouring marks a request recorded, over the
    requests that ended (a request cut by the round's end is left out), and of the whole request.
    Each path records the marks it passes, so its steps are the pairs it has, in time order."""
    done = [m for m in marks.values() if ("servicer_out" in m) or ("search_out" in m and "servicer_in" not in m)]
    out: dict = {"requests": len(done), "steps": {}}
    spans: dict[str, list[float]] = {}
    for m in done:
        present = sorted(m, key=m.__getitem__)  # in the order they happened
        for a, b in zip(present, present[1:], strict=False):
            spans.setdefault(STEPS.get((a, b), f"{a} -> {b}"), []).append(1000 * (m[b] - m[a]))
    for label, values in spans.items():
        out["steps"][label] = {"mean_ms": statistics.fmean(values), "p50_ms": statistics.median(values), "n": len(values)}
    whole = [1000 * (m.get("servicer_out", m.get("search_out", 0)) - m.get("servicer_in", m.get("search_in", 0)))
             for m in done]
    if whole:
        out["whole_ms"] = {"mean_ms": statistics.fmean(whole), "p50_ms": statistics.median(whole), "n": len(whole)}
    return out


def schedstat(path: str = "/proc/thread-self/schedstat") -> tuple[float, float]:
    """(seconds on a core, seconds runnable but waiting for one) of a thread, from the kernel."""
    run, wait, _ = Path(path).read_text().split()
    return int(run) / 1e9, int(wait) / 1e9


class LoopProbe:
    """A task on the event loop that sleeps `interval_s` at a time and keeps how late it resumes:
    how long a ready callback (a call's next step, a worker's answer) waits for the loop."""

    def __init__(self, interval_s: float = 0.005) -> None:
        import asyncio

        self.interval_s, self.wakes, self.late_s = interval_s, 0, 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())  # kept: the loop holds tasks weakly

    async def _run(self) -> None:
        import asyncio

        while True:
            began = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            self.wakes += 1
            self.late_s += max(time.perf_counter() - began - self.interval_s, 0.0)

    def take(self) -> dict:
        out = {"wakes": self.wakes, "late_ms": 1000 * self.late_s / max(self.wakes, 1)}
        self.wakes, self.late_s = 0, 0.0
        return out


class GilProbe:
    """A thread that sleeps `interval_s` at a time and keeps how late it woke, split by its own
    schedstat into waiting for a core and the rest (mostly waiting for the GIL)."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._reset()
        threading.Thread(target=self._loop, name="gil-probe", daemon=True).start()

    def _reset(self) -> None:
        self.wakes, self.late_s, self.core_wait_s, self.worst_s = 0, 0.0, 0.0, 0.0

    def _loop(self) -> None:
        while True:
            _, waited_before = schedstat()
            began = time.perf_counter()
            time.sleep(self.interval_s)  # releases the GIL; waking takes it back
            late = time.perf_counter() - began - self.interval_s
            _, waited_after = schedstat()
            with self._lock:
                self.wakes += 1
                self.late_s += max(late, 0.0)
                self.core_wait_s += waited_after - waited_before
                self.worst_s = max(self.worst_s, late)

    def take(self) -> dict:
        with self._lock:
            wakes = max(self.wakes, 1)
            out = {"wakes": self.wakes, "late_ms": 1000 * self.late_s / wakes,
                   "core_wait_ms": 1000 * self.core_wait_s / wakes, "worst_ms": 1000 * self.worst_s}
            self._reset()
        return out


def core_waits(pid: int) -> dict[int, float]:
    """Seconds every thread of `pid` has spent runnable but waiting for a core, by thread id."""
    out = {}
    for tid in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(tid.name)] = schedstat(str(tid / "schedstat"))[1]
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            continue
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every core since boot, from /proc/stat: the host's load over a
    round is the difference of two readings."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def print_round(dumped: dict, calls: int, waits: dict[str, float], busy: float, seconds: float, client_ms: float) -> None:
    """The wall-time side of a round: the host's busy share, the server's threads' waits for a
    core, the probe, and each step's mean and median ms."""
    print(f"host busy {busy:.0%} of its cores over the round; server threads waited for a core "
          f"{sum(waits.values()) / seconds:.2f} s a second ("
          + ", ".join(f"{name} {1000 * s / calls:.2f}" for name, s in waits.items() if s > 0.001 * seconds)
          + " ms a request)")
    loop = dumped.get("loop_probe")
    if loop:
        print(f"a ready step on the event loop ran {loop['late_ms']:.2f} ms late (mean over {loop['wakes']} wakes)")
    probe = dumped.get("gil_probe")
    if probe:
        print(f"a wake from sleep ran {probe['late_ms']:.2f} ms late (mean; {probe['core_wait_ms']:.2f} ms of it "
              f"waiting for a core, the rest for the GIL; worst {probe['worst_ms']:.1f} ms, {probe['wakes']} wakes)")
    line = dumped.get("timeline", {})
    if "whole_ms" in line:
        whole = line["whole_ms"]
        print(f"wall ms a request, inside the server: mean {whole['mean_ms']:.2f}, p50 {whole['p50_ms']:.2f} "
              f"({line['requests']} requests); the caller's mean, concurrency / req/s: {client_ms:.2f}")
    for label, figures in line.get("steps", {}).items():
        print(f"  {label:40s} mean {figures['mean_ms']:7.2f}  p50 {figures['p50_ms']:7.2f}")
