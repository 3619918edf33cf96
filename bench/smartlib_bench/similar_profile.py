"""SimilarBooks' server CPU a call on the bench's varied mix, against the empty RPC's, per build.

    python -m smartlib_bench.similar_profile --home HOME [--build NAME=SOURCE[,VAR=VALUE...]] ...
        [--rounds 3] [--seconds 6] [--py-spy SECONDS]

Issue 25 wants the varied mix at 0.75x of the empty RPC's req/s. The server holds the GIL for
nearly all of a call, so on two cores shared with the load generator that ratio follows the
server's CPU a call of each. Like personal_profile (whose helpers this reuses), one
`smartlib serve` per build on its own copy of HOME, reader rows built before the first round,
then rounds with the builds in turns, each driving `empty` and `similar_varied` at c8 and
reading the server process's CPU (utime + stime, every thread) around each, split by thread
name, with the garbage collector's time and how many calls went to a worker thread. --also adds
other load generator kinds (`similar_hit` sends the same replies, answered from the answer cache).
With --py-spy, the first build is then sampled by py-spy under the varied mix and the Python
functions holding the most samples are printed (gRPC's Cython shows as asyncio's Handle._run).
Measured on a loaded host the CPU a call moves with the load; judge builds within one run.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from smartlib_bench import grpc_bench, process_bench
from smartlib_bench.personal_profile import BENCH, PATH_ROOTS, _catalog_ids, _spread, builds_of, run_rounds
from smartlib_bench.process_bench import process_cpu

MIXES = ("empty", "similar_varied")


GC_ENV = "SIMILAR_PROFILE_GC"  # not SMARTLIB_: the server refuses variables it does not know


def _start(name: str, source: Path, home: Path, settings: dict[str, str], scratch: Path):
    """`smartlib serve` of `source` with only the garbage collector's pauses timed (no stage
    timers: they would tax the calls measured)."""
    path = os.pathsep.join([*(str(source / root) for root in PATH_ROOTS), str(BENCH)])
    proc, address, _ = process_bench.start_server(
        home, command=[sys.executable, "-m", "smartlib_bench.similar_profile", "--serve"],
        extra_env={"PYTHONPATH": path, GC_ENV: str(scratch / f"{name}-gc.json"), **settings},
        model_store=home / "model_store", timeout_s=900.0, log=scratch / f"{name}.log")
    process_bench.wait_for_row_warmer(name, scratch / f"{name}.log")
    return proc, address


def _serve() -> None:
    """The server, with the cyclic garbage collector's time and runs by generation kept; SIGUSR2
    writes them to $SIMILAR_PROFILE_GC and starts them again."""
    import gc

    from smartlib_server.api.blocking import Blocking

    totals = {"seconds": 0.0, "runs": [0, 0, 0], "to_worker": 0}
    run = Blocking.run

    def counted(self, *args, **kwargs):
        totals["to_worker"] += 1
        return run(self, *args, **kwargs)
    Blocking.run = counted
    started = [0.0]

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            totals["seconds"] += time.thread_time() - started[0]
            totals["runs"][info["generation"]] += 1

    def dump(*_) -> None:
        Path(os.environ[GC_ENV]).write_text(json.dumps(totals))
        totals.update(seconds=0.0, runs=[0, 0, 0], to_worker=0)
    gc.callbacks.append(timer)
    signal.signal(signal.SIGUSR2, dump)
    process_bench.serve_here()


def _threads(pid: int) -> dict[str, float]:
    """CPU seconds by thread name (threads of one name summed), from /proc."""
    found: dict[str, float] = collections.Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        found[name.rstrip("0123456789_-")] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def _gc(proc, dump: Path) -> dict:
    dump.unlink(missing_ok=True)
    os.kill(proc.pid, signal.SIGUSR2)
    while not dump.exists():
        time.sleep(0.05)
    time.sleep(0.1)
    return json.loads(dump.read_text())


def _round(proc, address: str, ids: str, seconds: float, gc_dump: Path, mixes=MIXES) -> dict:
    figures = {}
    for mix in mixes:
        grpc_bench.load(address, mix, 8, 1.0, ids, approach=2)  # untimed: warm connections
        _gc(proc, gc_dump)
        before, threads = process_cpu(proc.pid), _threads(proc.pid)
        run = grpc_bench.load(address, mix, 8, seconds, ids, approach=2)
        spent = process_cpu(proc.pid) - before
        after = _threads(proc.pid)
        gc = _gc(proc, gc_dump)
        calls = run["calls"] + 20  # the generator's warm-up calls fall inside the window too
        figures[mix] = {"qps": run["qps"], "cpu_ms": 1000 * spent / calls, "gc_ms": 1000 * gc["seconds"] / calls,
                        "gc_runs": gc["runs"], "to_worker": gc["to_worker"] / calls,
                        "threads_ms": {name: round(1000 * (cpu - threads.get(name, 0.0)) / calls, 3)
                                       for name, cpu in after.items() if cpu - threads.get(name, 0.0) > 0}}
    figures["cpu_ratio"] = figures["empty"]["cpu_ms"] / figures["similar_varied"]["cpu_ms"]
    figures["qps_ratio"] = figures["similar_varied"]["qps"] / figures["empty"]["qps"]
    return figures


def _py_spy(pid: int, address: str, ids: str, seconds: float, out: Path) -> None:
    """py-spy's collapsed stacks of the server under the varied mix; prints the top functions."""
    driver = threading.Thread(target=grpc_bench.load, args=(address, "similar_varied", 8, seconds + 3.0, ids, 2))
    driver.start()
    time.sleep(2.0)  # the generator's start and warm-up
    spy = Path(sys.executable).with_name("py-spy")
    subprocess.run([str(spy), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "250", "-f", "raw",
                    "-o", str(out), "--nonblocking"], check=True, capture_output=True)
    driver.join()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"py-spy: {total} samples (threads summed)")
    for title, counter in (("own", own), ("with callees", inclusive)):
        print(f"  top {title}:")
        for frame, n in counter.most_common(40):
            print(f"    {100 * n / total:5.1f} %  {frame}")


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        _serve()
        return
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.similar_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="an ingested, trained SMARTLIB_HOME (copied per build)")
    parser.add_argument("--build", action="append", default=[], metavar="NAME=SOURCE[,VAR=VALUE...]")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--also", action="append", default=[], metavar="KIND",
                        help="another loadgen kind to measure each round (e.g. similar_hit: same replies, answered from the cache)")
    parser.add_argument("--py-spy", type=float, default=0.0, metavar="SECONDS", help="sample the first build this long")
    args = parser.parse_args()
    builds = builds_of(args.build)
    ids = ",".join(_catalog_ids(args.home))

    def measure(name: str, proc, address: str, scratch: Path) -> dict:
        return _round(proc, address, ids, args.seconds, scratch / f"{name}-gc.json", (*MIXES, *args.also))

    def sample(servers: dict) -> None:
        if args.py_spy:
            proc, address = servers[builds[0][0]]
            _py_spy(proc.pid, address, ids, args.py_spy, Path(tempfile.gettempdir()) / f"py-spy-{proc.pid}.txt")
    results = run_rounds(builds, args.home, _start, ids, args.rounds, measure, _short, last=sample)
    for name, rounds in results.items():
        print(f"{name}: server CPU a call: empty {_spread([r['empty']['cpu_ms'] for r in rounds])} ms, "
              f"SimilarBooks varied {_spread([r['similar_varied']['cpu_ms'] for r in rounds])} ms; "
              f"empty/varied CPU {_spread([r['cpu_ratio'] for r in rounds])}, "
              f"varied/empty req/s {_spread([r['qps_ratio'] for r in rounds])}")
        for kind in args.also:
            print(f"  {kind}: server CPU a call {_spread([r[kind]['cpu_ms'] for r in rounds])} ms")


def _short(figures: dict) -> dict:
    return {"empty_cpu_ms": round(figures["empty"]["cpu_ms"], 3), "varied_cpu_ms": round(figures["similar_varied"]["cpu_ms"], 3),
            "empty_gc_ms": round(figures["empty"]["gc_ms"], 3), "varied_gc_ms": round(figures["similar_varied"]["gc_ms"], 3),
            "varied_gc_runs": figures["similar_varied"]["gc_runs"], "varied_to_worker": round(figures["similar_varied"]["to_worker"], 3),
            "threads_ms": {mix: figures[mix]["threads_ms"] for mix in MIXES},
            "cpu_ratio": round(figures["cpu_ratio"], 2), "qps_ratio": round(figures["qps_ratio"], 2),
            "empty_qps": round(figures["empty"]["qps"]), "varied_qps": round(figures["similar_varied"]["qps"])}


if __name__ == "__main__":
    main()
