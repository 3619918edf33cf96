"""What lexical fusion costs SearchByText, measured in short alternating windows on one server.

    python -m smartlib_bench.fusion_ab --home HOME [--seconds 90] [--window 2] [--concurrency 8]

A/B runs of several seconds each (make bench, search_profile --fusion-ab) differ by more than
fusion costs whenever the host is shared: a neighbour's burst lands on one side of a pair. Here
the server itself flips SMARTLIB_TEXT_FUSION every `window` seconds during one long run of the
load generator (cache-miss SearchByText, as make bench drives it), and counts the calls that
complete and the process CPU spent in each window. Load drifts slower than the flips reach
both sides alike, and the pairs of neighbouring windows give a spread. A call in flight at a
flip counts for the window it ends in, which dilutes the difference by about latency / window
(a few percent of the difference at 2 s windows, not of the ratio).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

DUMP_ENV = "FUSION_AB_OUT"  # not SMARTLIB_: the server refuses variables it does not know
WINDOW_ENV = "FUSION_AB_WINDOW"


def serve() -> None:
    """`smartlib serve` with a window clock: SIGUSR1 starts flipping fusion every $FUSION_AB_WINDOW
    seconds, SIGUSR2 stops and writes each window (fused or not, seconds, CPU seconds, calls)."""
    from smartlib_bench import process_bench
    from smartlib_server.services.recommend.service import RecommendService

    built = process_bench.built_recommend_services()
    completed = [0]
    search = RecommendService.search_by_text

    def counted(self, *args, **kwargs):
        result = search(self, *args, **kwargs)
        completed[0] += 1  # under the GIL; a lost increment would only blur a window
        return result
    RecommendService.search_by_text = counted
    windows: list[dict] = []
    stop = threading.Event()

    def flipper() -> None:
        length = float(os.environ[WINDOW_ENV])
        while not stop.is_set():
            fused = built[0].text_fusion
            wall, cpu, calls = time.perf_counter(), time.process_time(), completed[0]
            stop.wait(length)
            windows.append({"fused": fused, "seconds": time.perf_counter() - wall,
                            "cpu": time.process_time() - cpu, "calls": completed[0] - calls})
            built[0].text_fusion = not fused

    def start(*_):
        threading.Thread(target=flipper, name="fusion-ab-flipper", daemon=True).start()

    def dump(*_):
        stop.set()
        time.sleep(0.05)
        Path(os.environ[DUMP_ENV]).write_text(json.dumps(windows))
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, dump)
    process_bench.serve_here()


def measure(home: Path, seconds: float, window: float, concurrency: int) -> list[dict]:
    from smartlib_bench import grpc_bench, process_bench

    with tempfile.TemporaryDirectory(prefix="smartlib-fusion-ab-") as scratch:
        dump = Path(scratch) / "windows.json"
        proc, address, _ = process_bench.start_server(
            home, command=[sys.executable, "-m", "smartlib_bench.fusion_ab", "--serve"],
            extra_env={DUMP_ENV: str(dump), WINDOW_ENV: str(window), "SMARTLIB_WARM_ROWS": "false"},
        )
        try:
            grpc_bench.load(address, "text_miss", concurrency, 3.0, approach=2)  # untimed warm-up
            done: dict = {}
            load = threading.Thread(target=lambda: done.update(
                grpc_bench.load(address, "text_miss", concurrency, seconds + 2.0, approach=2)))
            load.start()
            time.sleep(1.5)  # the generator's start-up and its own warm-up calls
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(seconds)
            os.kill(proc.pid, signal.SIGUSR2)
            load.join()
            while not dump.exists():
                time.sleep(0.05)
            time.sleep(0.2)
            return json.loads(dump.read_text())
        finally:
            process_bench.stop_server(proc)


def summarise(windows: list[dict]) -> dict:
    """fused / dense-only req/s and CPU a call over all windows, and a bootstrap 95 % interval
    of the req/s ratio over neighbouring (fused, dense-only) pairs."""
    def ratio(chosen: list[tuple[dict, dict]]) -> tuple[float, float]:
        fused = [w for pair in chosen for w in pair if w["fused"]]
        dense = [w for pair in chosen for w in pair if not w["fused"]]
        rate = [sum(w["calls"] for w in side) / sum(w["seconds"] for w in side) for side in (fused, dense)]
        cpu = [sum(w["cpu"] for w in side) / max(sum(w["calls"] for w in side), 1) for side in (fused, dense)]
        return rate[0] / rate[1], cpu[0] / cpu[1]
    pairs = [(a, b) for a, b in zip(windows[::2], windows[1::2], strict=False) if a["fused"] != b["fused"]]
    qps, cpu = ratio(pairs)
    rng = random.Random(0)
    draws = sorted(ratio([rng.choice(pairs) for _ in pairs])[0] for _ in range(2000))
    fused = [w for w in windows if w["fused"]]
    dense = [w for w in windows if not w["fused"]]
    return {
        "pairs": len(pairs), "fused_vs_dense_only_qps": qps, "qps_ci95": (draws[50], draws[1949]),
        "fused_vs_dense_only_cpu_per_call": cpu,
        "fused_qps": sum(w["calls"] for w in fused) / sum(w["seconds"] for w in fused),
        "dense_only_qps": sum(w["calls"] for w in dense) / sum(w["seconds"] for w in dense),
        "fused_cpu_ms": 1000 * sum(w["cpu"] for w in fused) / sum(w["calls"] for w in fused),
        "dense_only_cpu_ms": 1000 * sum(w["cpu"] for w in dense) / sum(w["calls"] for w in dense),
    }


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.fusion_ab", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="an ingested (and trained) SMARTLIB_HOME; copy a shared one first")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(json.dumps(summarise(measure(args.home, args.seconds, args.window, args.concurrency))))


if __name__ == "__main__":
    main()
