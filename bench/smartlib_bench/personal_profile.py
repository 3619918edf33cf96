"""RecommendForUser's server CPU a call against SimilarBooks' (issue 30: within 2x), per build.

    python -m smartlib_bench.personal_profile --home HOME [--build NAME=SOURCE[,VAR=VALUE...]] ...
        [--rounds 3] [--seconds 8]

Starts one `smartlib serve` per build on its own copy of HOME (SOURCE: a checkout whose
core/server/clients/... go first on PYTHONPATH, "." for this one; VAR=VALUE: settings for that
server), then, round after round with the builds in turns (each round starts with the next
one), drives each with the bench's `similar_varied` and `personal` mixes at c8 and reads the
server process's CPU (utime + stime from /proc, every thread, ended ones too) around each. So
an A/B of two builds, or of one setting, is interleaved in time and judged by CPU a call, which
a shared host's load changes far less than wall time. Thread-CPU timers around the call's
stages (search_profile.install) say where it goes. Readers' rows are built before the first
round (SMARTLIB_WARM_ROWS), as in `make bench`; CF is not retrained during the rounds. The
personal mix records its readers' clicks and likes between calls (loadgen._personal), so its CPU
a call includes theirs. Each server's row warmer finishes its pass before the rounds (its log
line): a reader's row built on demand inside a first call would count as ranking.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from smartlib_bench import grpc_bench, process_bench, search_profile
from smartlib_bench.process_bench import process_cpu

STAGES = [
    ("smartlib_server.api.interaction_servicer", "PersonalizationHandlers._recommend_for_user", "worker: all of RecommendForUser"),
    ("smartlib_server.services.personalization.blend", "PersonalRecommender.recommend_now", "loop: RecommendForUser answered on the loop"),
    ("smartlib_server.adapters.interaction_store", "InteractionStore.user_history", "worker: history read"),
    ("smartlib_server.adapters.interaction_store", "InteractionStore.user_history_seqs", "worker: history read (into the kept histories)"),
    ("smartlib_server.services.personalization.blend", "PersonalRecommender.ranked", "ranking (loop or worker)"),
    ("smartlib_server.services.personalization.blend", "rank_on_readers", "ranking on reader rows (loop or worker)"),
    ("smartlib_server.services.personalization.reader_blend", "order_candidates", "merge and order after a change (loop or worker)"),
    ("smartlib_server.services.personalization.reader_blend", "pick", "filter and pick (loop or worker)"),
    ("smartlib_server.services.personalization.interactions", "InteractionService.record", "worker: RecordInteractions between calls"),
    ("smartlib_server.services.personalization.experiments", "ExperimentService.record_exposure", "worker: exposure"),
    ("smartlib_server.api.wire", "recommend_response", "reply bytes"),
    ("smartlib_server.api.servicers", "RecommendServicer._key", "loop: answer-cache key"),
    ("smartlib_server.services.caching", "AnswerCaching.get_or_compute_now", "loop: SimilarBooks answer"),
]
MIXES = ("similar_varied", "personal")
PATH_ROOTS = ("core", "server", "clients", "handlers", "training")
BENCH = Path(__file__).resolve().parent.parent  # this checkout's bench/, whatever the build


def _start(name: str, source: Path, home: Path, settings: dict[str, str], scratch: Path):
    path = os.pathsep.join([*(str(source / root) for root in PATH_ROOTS), str(BENCH)])
    env = {"PYTHONPATH": path, search_profile.DUMP_ENV: str(scratch / f"{name}.json"),
           "SMARTLIB_CF_RETRAIN_INTERVAL_S": "3600", **settings}
    proc, address, _ = process_bench.start_server(
        home, command=[sys.executable, "-m", "smartlib_bench.personal_profile", "--serve"], extra_env=env,
        model_store=home / "model_store", timeout_s=900.0, log=scratch / f"{name}.log")
    process_bench.wait_for_row_warmer(name, scratch / f"{name}.log")
    return proc, address


def _round(proc, address: str, ids: str, seconds: float, dump: Path) -> dict:
    figures = {}
    for mix in MIXES:
        grpc_bench.load(address, mix, 8, 1.0, ids, approach=2)  # untimed: its readers' likes, warm connections
        os.kill(proc.pid, signal.SIGUSR2)  # restart the stage totals
        before = process_cpu(proc.pid)
        run = grpc_bench.load(address, mix, 8, seconds, ids, approach=2)
        spent = process_cpu(proc.pid) - before
        dump.unlink(missing_ok=True)
        os.kill(proc.pid, signal.SIGUSR2)
        while not dump.exists():
            time.sleep(0.05)
        time.sleep(0.2)
        calls = run["calls"] + 20  # the generator's warm-up calls fall inside the window too
        stages = {label: 1000 * total[0] / calls for label, total in json.loads(dump.read_text())["stages"].items() if total[1]}
        figures[mix] = {"qps": run["qps"], "p50_ms": run["p50_ms"], "cpu_ms": 1000 * spent / calls, "stages": stages}
    figures["cpu_ratio"] = figures["personal"]["cpu_ms"] / figures["similar_varied"]["cpu_ms"]
    figures["qps_ratio"] = figures["personal"]["qps"] / figures["similar_varied"]["qps"]
    return figures


def _wait_for_rows(address: str, ids: str, timeout_s: float = 1800.0) -> None:
    """Until the varied mix's CPU a call stops falling: the row warmer has built the rows."""
    deadline = time.perf_counter() + timeout_s
    last = None
    while time.perf_counter() < deadline:
        qps = grpc_bench.load(address, "similar_varied", 8, 3.0, ids, approach=2)["qps"]
        if last is not None and qps < 1.15 * last:
            return
        last = qps
        time.sleep(10.0)


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        search_profile.serve(STAGES)
        return
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.personal_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="an ingested, trained SMARTLIB_HOME (copied per build)")
    parser.add_argument("--build", action="append", default=[], metavar="NAME=SOURCE[,VAR=VALUE...]")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warm-s", type=float, default=0.0, help="extra seconds to let the row warmer finish")
    args = parser.parse_args()
    ids = ",".join(_catalog_ids(args.home))

    def measure(name: str, proc, address: str, scratch: Path) -> dict:
        return _round(proc, address, ids, args.seconds, scratch / f"{name}.json")
    results = run_rounds(builds_of(args.build), args.home, _start, ids, args.rounds, measure, _short,
                         warm_s=args.warm_s)
    for name, rounds in results.items():
        print(f"{name}: RecommendForUser CPU a call {_spread([r['personal']['cpu_ms'] for r in rounds])} ms, "
              f"SimilarBooks varied {_spread([r['similar_varied']['cpu_ms'] for r in rounds])} ms, "
              f"CPU ratio {_spread([r['cpu_ratio'] for r in rounds])}, req/s ratio {_spread([r['qps_ratio'] for r in rounds])}")
        stages: dict[str, list[float]] = {}
        for r in rounds:
            for label, ms in r["personal"]["stages"].items():
                stages.setdefault(label, []).append(ms)
        for label, values in sorted(stages.items()):
            print(f"  {label:40s} {statistics.median(values):6.3f} ms a call (median of {len(values)})")


def builds_of(specs: list[str]) -> list[tuple[str, Path, dict[str, str]]]:
    """`--build NAME=SOURCE[,VAR=VALUE...]` arguments as (name, source, settings); this checkout without any."""
    builds = []
    for spec in specs or ["this=."]:
        name, rest = spec.split("=", 1)
        source, *pairs = rest.split(",")
        builds.append((name, Path(source).resolve(), dict(p.split("=", 1) for p in pairs)))
    return builds


def run_rounds(builds, home: Path, start, ids: str, rounds: int, measure, short, warm_s: float = 0.0,
               last=None) -> dict[str, list]:
    """One server per build on its own copy of `home` (`start(name, source, home, settings,
    scratch)` returns the process and address), its reader rows built, then `rounds` rounds with
    the builds in turns (each round starts with the next one), each `measure(name, proc, address,
    scratch)`, printed through `short`; `last(servers)` runs before the servers stop."""
    results: dict[str, list] = {name: [] for name, _, _ in builds}
    with tempfile.TemporaryDirectory(prefix="smartlib-profile-") as scratch_dir:
        scratch = Path(scratch_dir)
        servers = {}
        try:
            for name, source, settings in builds:
                copy = scratch / f"home-{name}"
                shutil.copytree(home, copy, symlinks=True)
                servers[name] = start(name, source, copy, settings, scratch)
            for _, address in servers.values():
                _wait_for_rows(address, ids)
            time.sleep(warm_s)
            for number in range(rounds):
                order = builds[number % len(builds):] + builds[:number % len(builds)]
                for name, _, _ in order:
                    proc, address = servers[name]
                    figures = measure(name, proc, address, scratch)
                    results[name].append(figures)
                    print(f"round {number + 1} {name}: " + json.dumps(short(figures)), flush=True)
            if last is not None:
                last(servers)
        finally:
            for proc, _ in servers.values():
                process_bench.stop_server(proc)
    return results


def _catalog_ids(home: Path, n: int = 3000) -> list[str]:
    """A random 3,000 of the home's book ids, as `make bench`'s varied mix takes them."""
    import random
    import sqlite3

    with sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True) as db:
        ids = sorted(r[0] for r in db.execute("SELECT id FROM books"))
    return random.Random(5).sample(ids, min(n, len(ids)))


def _short(figures: dict) -> dict:
    return {"rfu_cpu_ms": round(figures["personal"]["cpu_ms"], 3), "sim_cpu_ms": round(figures["similar_varied"]["cpu_ms"], 3),
            "cpu_ratio": round(figures["cpu_ratio"], 2), "qps_ratio": round(figures["qps_ratio"], 2),
            "rfu_qps": round(figures["personal"]["qps"]), "sim_qps": round(figures["similar_varied"]["qps"])}


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


if __name__ == "__main__":
    main()
