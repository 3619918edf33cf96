"""Where a SearchByText request spends the server's CPU: per thread and per stage, in ms a request.

    python -m smartlib_bench.search_profile --home HOME [--concurrency 8] [--seconds 15] [--approach 2]
        [--fusion-ab PAIRS | --in-process PAIRS] [--env SMARTLIB_RUNTIME=torch ...]

Starts `smartlib serve` on HOME with thread-CPU timers around the request's stages (this module,
run with --serve, wraps them and then runs the server), drives distinct SearchByText queries
from the load generator (every call a cache miss), and reads each server thread's CPU from
/proc before and after. Thread CPU counts no time spent blocked, so nested stages subtract
cleanly and nothing is sampled. Each round also reports the sizes of the query batches it formed
and the load generator's own CPU a call. `--in-process PAIRS` alternates gRPC rounds with rounds
that call the same server's search service from as many threads inside its process (no gRPC, as
the bench's "in process" rows), so the two paths are compared on one server in one window.
`--paths loop,pool,in-process` cycles SearchByText's served path (the event loop's), the worker-pool
path before it (smartlib_bench.search_paths) and in-process rounds, on one server. Every round
also prints where the request's wall time went (smartlib_bench.search_timeline: a timestamp at
each hand-off, the server threads' waits for a core from schedstat, and how late a sleeping
thread and the event loop wake), and the host's busy share over the round.
docs/search-profile.md says how to read the result. Run it on a quiet host: CPU time per request
also grows when other processes share the cores and caches.
"""
from __future__ import annotations

import argparse
import collections
import functools
import importlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

# (module, attribute path, label): the loop's, the workers' and the query batcher's stages.
STAGES = [
    ("smartlib_server.api.servicers", "RecommendServicer._key", "loop: answer-cache key"),
    ("smartlib_server.services.caching", "AnswerCaching.get_or_compute_now", "loop: answer-cache lookup"),
    ("smartlib_server.services.caching", "AnswerCaching.get_or_compute", "worker: all of a request's work"),
    ("smartlib_server.services.recommend.service", "RecommendService.search_by_text", "worker: search_by_text"),
    ("smartlib_server.adapters.batched_inference", "BatchedInference.start_queries", "worker: embedding hand-off"),
    ("smartlib_server.adapters.inference", "PendingRows.result", "worker: embedding wait"),
    ("smartlib_server.services.text_search", "TextSearch.words", "worker: lexical step (while the embedding waits)"),
    ("smartlib_server.services.text_search", "TextSearch.rank", "worker: ranking"),
    ("smartlib_core.text_ranking", "ShelfIndex.asked", "worker: broad-ask parse"),
    ("smartlib_core.text_ranking", "_descriptive", "worker: dense ranking"),
    ("smartlib_server.services.recommend.vector_index", "VectorIndex.search", "worker: dense scan (FAISS)"),
    ("smartlib_core.lexical", "LexicalIndex.search", "worker: BM25"),
    ("smartlib_core.text_ranking", "fuse", "worker: fusion"),
    ("smartlib_server.api.wire", "recommend_response", "worker: reply bytes"),
    ("smartlib_server.adapters.batching", "DynamicBatcher._run", "batcher: a batch"),
    ("smartlib_server.adapters.inference", "LocalInference.embed_queries", "batcher: embedding"),
]
DUMP_ENV = "SEARCH_PROFILE_OUT"  # not SMARTLIB_: the server refuses variables it does not know
IN_PROCESS_SIGNAL = signal.SIGRTMIN  # the server runs one in-process round (`_in_process_on_signal`)
PATH_SIGNAL = signal.SIGRTMIN + 1  # the server takes SearchByText's path from `<dump>.path` (search_paths)


def install(stages=STAGES) -> dict:
    """Wraps every stage with a thread-CPU accumulator; returns label -> [seconds, calls]."""
    totals: dict = collections.defaultdict(lambda: [0.0, 0])
    lock = threading.Lock()
    for module_name, path, label in stages:
        try:
            owner = importlib.import_module(module_name)
        except ModuleNotFoundError:  # an older build may lack the module too
            continue
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
        if hasattr(owner, name):  # an older build may lack a stage (A/B across commits via PYTHONPATH)
            setattr(owner, name, _timed(getattr(owner, name), totals[label], lock))
    return totals


def _timed(fn, total: list, lock: threading.Lock):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            with lock:
                total[0] += spent
                total[1] += 1
    return timed


def serve(stages=STAGES) -> None:
    """`smartlib serve` with the stages timed; SIGUSR2 writes them (and the thread names) to
    the file named by $SEARCH_PROFILE_OUT and starts the totals again; SIGUSR1 flips
    SearchByText's lexical fusion (SMARTLIB_TEXT_FUSION), for the same-server A/B."""
    from smartlib_bench import process_bench, search_paths, search_timeline

    totals = install(stages)
    timeline = search_timeline.Timeline()
    path = ["loop"]
    search_paths.install(path)
    search_timeline.install(timeline)

    def follow(*_):
        path[0] = Path(f"{os.environ[DUMP_ENV]}.path").read_text().strip()
    signal.signal(PATH_SIGNAL, follow)
    probe = search_timeline.GilProbe(0.005)
    batches = count_batches("query")
    built = process_bench.built_recommend_services()
    _flip_fusion_on_signal(built)
    _in_process_on_signal(built, Path(os.environ[DUMP_ENV]))

    def dump(*_):
        snapshot = {label: list(total) for label, total in totals.items()}
        for total in totals.values():
            total[:] = [0.0, 0]
        sizes = dict(batches)
        batches.clear()
        names = {t.native_id: t.name for t in threading.enumerate()}
        Path(os.environ[DUMP_ENV]).write_text(json.dumps({
            "stages": snapshot, "threads": names, "batches": sizes,
            "timeline": search_timeline.summary(timeline.take()), "gil_probe": probe.take(),
            "loop_probe": timeline.loop_probe.take() if timeline.loop_probe else None}))
    signal.signal(signal.SIGUSR2, dump)
    process_bench.serve_here()


def count_batches(name: str) -> collections.Counter:
    """Counts the batches the `name` batcher forms, by their number of items."""
    from smartlib_server.adapters import batching

    sizes: collections.Counter = collections.Counter()
    run = batching.DynamicBatcher._run

    def counted(self, batch):
        if self.name == name:
            sizes[sum(len(job.items) for job in batch)] += 1
        return run(self, batch)
    batching.DynamicBatcher._run = counted
    return sizes


def _in_process_on_signal(built: list, dump: Path) -> None:
    """IN_PROCESS_SIGNAL runs `search_by_text` from threads inside the server for the concurrency,
    seconds and approach in `<dump>.request` (distinct queries, as the load generator's) and
    writes batcher_bench's summary to `<dump>.in-process`."""
    def start(*_):
        threading.Thread(target=_in_process_round, args=(built[0], dump), name="in-process-round", daemon=True).start()
    signal.signal(IN_PROCESS_SIGNAL, start)


def _in_process_round(service, dump: Path) -> None:
    from smartlib_bench.batcher_bench import closed_loop
    from smartlib_bench.queries import QUERIES
    from smartlib_core.domain import Approach, BookFilter

    request = json.loads(Path(f"{dump}.request").read_text())
    approach = {0: None, 1: Approach.BASELINE, 2: Approach.FINETUNED}[request["approach"]]
    run_id, no_filter = os.urandom(4).hex(), BookFilter()

    def search(n: int) -> None:
        service.search_by_text(f"{QUERIES[n % len(QUERIES)]} {run_id} {n}", 10, approach, no_filter)
    summary = closed_loop(search, request["concurrency"], request["seconds"])
    Path(f"{dump}.in-process").write_text(json.dumps(summary))


def _flip_fusion_on_signal(built: list) -> None:
    """SIGUSR1 flips `text_fusion` on every RecommendService the server builds (one)."""
    def flip(*_):
        for service in built:
            service.text_fusion = not service.text_fusion
    signal.signal(signal.SIGUSR1, flip)


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of every thread of `pid`, by native thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # ended meanwhile
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def native_names(pid: int) -> dict[int, str]:
    """"native <comm>" for every thread of `pid` (the kernel's name: OpenVINO's and gRPC core's
    threads have no Python name); Python's names replace these where there is one."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(tid)] = "native " + re.sub(r"[-_ ]?\d+$", "", Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip())
        except FileNotFoundError:  # ended meanwhile
            continue
    return out


def breakdown(before: dict[int, float], after: dict[int, float], names: dict[int, str], calls: int) -> dict[str, float]:
    """ms of CPU a request per thread group, worker threads summed ("smartlib-worker_3" counts
    as "smartlib-worker"); threads without a Python name are native (OpenVINO's streams,
    torch's OpenMP, gRPC core)."""
    groups: dict[str, float] = collections.Counter()
    for tid, seconds in after.items():
        name = re.sub(r"_\d+$", "", names.get(tid, "native"))
        groups[name] += seconds - before.get(tid, 0.0)
    return {name: 1000 * seconds / calls for name, seconds in sorted(groups.items(), key=lambda g: -g[1]) if seconds > 0}


def profile(home: Path, concurrency: int, seconds: float, approach: int, fusion: list[bool] | None = None,
            env: dict[str, str] | None = None, in_process: list[bool] | None = None,
            search_path: list[str] | None = None) -> list[dict]:
    """One profiled run a round, all on one server; `fusion` gives each round's lexical fusion
    (default: one round, fused), so an A/B interleaves fused and dense-only rounds (A B A B)
    in the same process and window; `in_process` likewise says which rounds call the service
    inside the server instead of through gRPC. `env` adds settings for the server (an A/B of a
    setting that needs a restart, such as SMARTLIB_RUNTIME, alternates runs of this). `search_path`
    gives each gRPC round's SearchByText path (search_paths.PATHS), switched on the same server."""
    from smartlib_bench import process_bench

    rounds = fusion or [True] * len(in_process or search_path or [False])
    paths = in_process or [False] * len(rounds)
    ways = search_path or ["loop"] * len(rounds)
    paths = [inside or way == "in-process" for inside, way in zip(paths, ways, strict=True)]  # a pseudo-path
    with tempfile.TemporaryDirectory(prefix="smartlib-search-profile-") as scratch:
        dump = Path(scratch) / "stages.json"
        proc, address, _ = process_bench.start_server(
            home, command=[sys.executable, "-m", "smartlib_bench.search_profile", "--serve"],
            extra_env={DUMP_ENV: str(dump), "SMARTLIB_WARM_ROWS": "false", **(env or {})},  # no row building
            timeout_s=600.0,  # a start on a loaded host
        )
        try:
            fused, results, way = True, [], "loop"
            for number, on in enumerate(rounds):
                if ways[number] not in (way, "in-process"):
                    way = ways[number]
                    Path(f"{dump}.path").write_text(way)
                    os.kill(proc.pid, PATH_SIGNAL)
                if on != fused:
                    os.kill(proc.pid, signal.SIGUSR1)
                    fused = on
                warm = 3.0 if number == 0 else 1.0  # the first round warms the server; later ones settle the flip
                results.append(dict(_one_round(proc.pid, address, dump, concurrency, seconds, approach, warm, paths[number]),
                                    fusion=on, in_process=paths[number], path=way))
        finally:
            process_bench.stop_server(proc)
    return results


def _one_round(pid: int, address: str, dump: Path, concurrency: int, seconds: float, approach: int, warm: float,
               in_process: bool = False) -> dict:
    from smartlib_bench import grpc_bench, process_bench, search_timeline

    grpc_bench.load(address, "text_miss", concurrency, warm, approach=approach)  # untimed warm-up
    os.kill(pid, signal.SIGUSR2)
    before, process_before = thread_cpu(pid), process_bench.process_cpu(pid)
    waits_before, busy_before, began = search_timeline.core_waits(pid), search_timeline.machine_busy(), time.perf_counter()
    if in_process:
        run = _run_in_process(pid, dump, concurrency, seconds, approach)
    else:
        run = grpc_bench.load(address, "text_miss", concurrency, seconds, approach=approach)
    after, process_after = thread_cpu(pid), process_bench.process_cpu(pid)
    waits_after, busy_after, ended = search_timeline.core_waits(pid), search_timeline.machine_busy(), time.perf_counter()
    dump.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    while not dump.exists():
        time.sleep(0.05)
    time.sleep(0.2)  # the handler writes the file in one go; let it finish
    dumped = json.loads(dump.read_text())
    empty = grpc_bench.load(address, "empty", concurrency, min(seconds, 5.0))  # the bench's ceiling, just after
    calls = run["calls"] + (0 if in_process else 20)  # the generator's 20 warm-up calls run inside the window too
    names = {**native_names(pid), **{int(t): n for t, n in dumped["threads"].items()}}
    threads = breakdown(before, after, names, calls)
    waits = {name: ms * calls / 1000 for name, ms in breakdown(waits_before, waits_after, names, calls).items()}
    total = 1000 * (process_after - process_before) / calls
    if total - sum(threads.values()) > 0.01:  # threads that ended: an in-process round's callers
        threads["ended threads (in-process callers)"] = total - sum(threads.values())
    stages = {label: {"ms": 1000 * total[0] / calls, "per_request": total[1] / calls}
              for label, total in dumped["stages"].items()}
    return {"load": run, "ratio_to_empty": run["qps"] / empty["qps"], "cpu_ms_per_request": sum(threads.values()),
            "threads_ms": threads, "stages": stages, "batches": {int(k): v for k, v in dumped["batches"].items()},
            "timeline": dumped.get("timeline"), "gil_probe": dumped.get("gil_probe"), "loop_probe": dumped.get("loop_probe"),
            "core_waits_s": waits,
            "seconds": ended - began, "host_busy": (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)}


def _run_in_process(pid: int, dump: Path, concurrency: int, seconds: float, approach: int) -> dict:
    done = Path(f"{dump}.in-process")
    done.unlink(missing_ok=True)
    Path(f"{dump}.request").write_text(json.dumps({"concurrency": concurrency, "seconds": seconds, "approach": approach}))
    os.kill(pid, IN_PROCESS_SIGNAL)
    while not done.exists():
        time.sleep(0.05)
    time.sleep(0.2)  # written in one go; let it finish
    return json.loads(done.read_text())


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.search_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="an ingested (and trained) SMARTLIB_HOME; copy a shared one first")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--approach", type=int, default=2, help="1 BASELINE, 2 FINETUNED (the default route)")
    parser.add_argument("--fusion-ab", type=int, default=0, metavar="PAIRS",
                        help="PAIRS interleaved rounds of fused then dense-only (SMARTLIB_TEXT_FUSION) on one server")
    parser.add_argument("--in-process", type=int, default=0, metavar="PAIRS",
                        help="PAIRS interleaved rounds of gRPC then the same service called inside the server")
    parser.add_argument("--paths", default="", metavar="P1,P2,...",
                        help="rounds cycling SearchByText's paths (search_paths.PATHS, or in-process), on one server")
    parser.add_argument("--repeat", type=int, default=1, help="how many times --paths' cycle runs")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the server, e.g. SMARTLIB_RUNTIME=torch (repeatable)")
    args = parser.parse_args()
    rounds = [True, False] * args.fusion_ab or None
    paths = [False, True] * args.in_process or None
    env = dict(item.split("=", 1) for item in args.env)
    ways = args.paths.split(",") * args.repeat if args.paths else None
    results = profile(args.home, args.concurrency, args.seconds, args.approach, rounds, env, paths, ways)
    for result in results:
        _print(result, bool(args.fusion_ab))
    if args.fusion_ab:
        _print_ab(results)


def _print(result: dict, label: bool) -> None:
    from smartlib_bench import search_timeline

    total = result["cpu_ms_per_request"]
    if label:
        print("fused" if result["fusion"] else "dense-only")
    print("in process, no gRPC" if result["in_process"] else f"gRPC, path {result.get('path', 'loop')}")
    print(json.dumps(result["load"]))
    print(f"req/s over the empty RPC at the same concurrency: {result['ratio_to_empty']:.3f}")
    sizes = result["batches"]
    formed = sum(sizes.values())
    print(f"query batches: {formed}, mean {sum(k * v for k, v in sizes.items()) / max(formed, 1):.2f} queries; "
          f"by size {dict(sorted(sizes.items()))}")
    print(f"server CPU a request: {total:.2f} ms")
    search_timeline.print_round(result, result["load"]["calls"], result["core_waits_s"], result["host_busy"], result["seconds"],
                                1000 * result["load"]["concurrency"] / result["load"]["qps"])
    for name, ms in result["threads_ms"].items():
        print(f"  {name:28s} {ms:6.2f} ms  {ms / total:6.1%}")
    for label_, figures in sorted(result["stages"].items()):
        print(f"  {label_:44s} {figures['ms']:6.3f} ms  ({figures['per_request']:.2f} calls a request)")


def _print_ab(results: list[dict]) -> None:
    """Each pair's fused / dense-only ratios (req/s and server CPU a request), then their mean."""
    pairs = list(zip(results[::2], results[1::2], strict=True))
    qps = [a["load"]["qps"] / b["load"]["qps"] for a, b in pairs]
    cpu = [a["cpu_ms_per_request"] / b["cpu_ms_per_request"] for a, b in pairs]
    for number, (q, c) in enumerate(zip(qps, cpu, strict=True), start=1):
        print(f"pair {number}: fused / dense-only req/s {q:.3f}, CPU a request {c:.3f}")
    print(f"mean: req/s {sum(qps) / len(qps):.3f}, CPU a request {sum(cpu) / len(cpu):.3f}")


if __name__ == "__main__":
    main()
