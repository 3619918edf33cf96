"""Restart to SERVING, per build, interleaved (issue 25: SERVING within 2 s, the varied
SimilarBooks mix at 0.75x of the empty RPC within 5 s of it).

    python -m smartlib_bench.restart_profile --home HOME [--build NAME=SOURCE[,VAR=VALUE...]] ...
        [--rounds 4]

Each build (SOURCE: a checkout whose core/server/clients/... go first on PYTHONPATH, "." for
this one; VAR=VALUE: settings for its server) gets its own copy of HOME and one untimed start
that runs until the row warmer has finished its pass, so SMARTLIB_HOME/derived holds what that
build stores for a restart, as after `make bench`'s phases. Then, round after round with the
builds in turns (each round starts with the next one), each is started as `make bench` restarts
it (process_bench.restart): wall seconds to SERVING, the server process's CPU seconds by then
(every thread; a shared host's load changes CPU far less than wall time), the varied mix over
the first 5 s after SERVING against the same process's empty RPC, and the CPU of that window.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from smartlib_bench import process_bench
from smartlib_bench.personal_profile import PATH_ROOTS, _catalog_ids

BENCH = Path(__file__).resolve().parent.parent  # this checkout's bench/, whatever the build


def _env(source: Path, settings: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join([*(str(source / root) for root in PATH_ROOTS), str(BENCH)])
    return {"PYTHONPATH": path, **settings}


def _prepare(name: str, home: Path, env: dict[str, str], scratch: Path, timeout_s: float = 900.0) -> None:
    """One start that runs until the warmer's pass is over (its log line), then stops."""
    log = scratch / f"{name}-prepare.log"
    proc, _, _ = process_bench.start_server(home, log=log, model_store=home / "model_store", extra_env=env,
                                            timeout_s=timeout_s)
    try:
        deadline = time.perf_counter() + timeout_s
        while "reader rows ahead in" not in log.read_text():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{name}: the row warmer did not finish; see {log}")
            time.sleep(1.0)
    finally:
        process_bench.stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.restart_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="an ingested, trained SMARTLIB_HOME (copied per build)")
    parser.add_argument("--build", action="append", default=[], metavar="NAME=SOURCE[,VAR=VALUE...]")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()
    builds = []
    for spec in args.build or ["this=."]:
        name, rest = spec.split("=", 1)
        source, *pairs = rest.split(",")
        builds.append((name, _env(Path(source).resolve(), dict(p.split("=", 1) for p in pairs))))
    ids = _catalog_ids(args.home)
    results: dict[str, list] = {name: [] for name, _ in builds}
    with tempfile.TemporaryDirectory(prefix="smartlib-restart-profile-") as scratch_dir:
        scratch = Path(scratch_dir)
        for name, env in builds:
            shutil.copytree(args.home, scratch / f"home-{name}", symlinks=True)
            _prepare(name, scratch / f"home-{name}", env, scratch)
        for number in range(args.rounds):
            order = builds[number % len(builds):] + builds[:number % len(builds)]
            for name, env in order:
                home = scratch / f"home-{name}"
                figures = process_bench.restart(home, ids, model_store=home / "model_store", extra_env=env)
                results[name].append(figures)
                print(f"round {number + 1} {name}: " + json.dumps(_short(figures)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    for name, runs in results.items():
        print(f"{name}: to SERVING {_spread([r['seconds_to_serving'] for r in runs])} s wall, "
              f"{_spread([r['cpu_to_serving_s'] for r in runs])} s CPU; first 5 s varied/empty "
              f"{_spread([r['after_serving']['ratio_to_empty_c8'] for r in runs])}, CPU a varied call "
              f"{_spread([r['after_serving']['varied_cpu_ms'] for r in runs])} ms")


def _short(figures: dict) -> dict:
    after = figures["after_serving"]
    return {"serving_s": round(figures["seconds_to_serving"], 2), "cpu_s": round(figures["cpu_to_serving_s"], 2),
            "ratio": round(after["ratio_to_empty_c8"], 3), "varied_qps": round(after["varied_qps"]),
            "empty_qps": round(after["empty_qps"]), "varied_cpu_ms": round(after["varied_cpu_ms"], 3),
            "rss_mib": round(figures["rss_mib"])}


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


if __name__ == "__main__":
    sys.exit(main())
