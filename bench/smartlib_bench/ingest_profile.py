"""Books/s of `smartlib ingest`, and how much of its CPU is MiniLM.

    HF_HUB_OFFLINE=1 PYTHONPATH=bench python -m smartlib_bench.ingest_profile CSV [--compiled DIR] [--label L]

Ingests CSV into a fresh temporary home (never a shared one) through the CLI's own code in this
process, and prints one line: the books written, the ingest call's wall time and process CPU
(every thread's, so OpenVINO's streams count), books/s and books per CPU-second, and the CPU
spent inside the text encoder's calls. `--compiled` copies a home's compiled models in first,
so no export or compile is timed. For an A/B, alternate runs of two checkouts (put the other
commit's core, server and clients first on PYTHONPATH) and compare CPU: on a shared host the
wall time follows the neighbours' load.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--compiled", type=Path, help="a home's compiled/ folder to start from")
    parser.add_argument("--label", default="ingest")
    args = parser.parse_args(argv)
    from smartlib_core import embedding, runtime
    from smartlib_server import cli
    from smartlib_server.services import ingest

    inside = {"cpu": 0.0}

    def counted(call):
        def wrapper(self, texts, max_tokens=None):
            started = time.process_time()
            try:
                return call(self, texts, max_tokens)
            finally:
                inside["cpu"] += time.process_time() - started
        return wrapper

    for encoder in (runtime.RuntimeTextEncoder, embedding.MiniLMTextEncoder):
        encoder.__call__ = counted(encoder.__call__)
    timed = {}
    original = ingest.ingest_csv

    def ingest_csv(*call_args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        report = original(*call_args, **kwargs)
        timed.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu, books=report.embedded)
        return report
    ingest.ingest_csv = ingest_csv  # cli imports it from the module when the command runs
    with tempfile.TemporaryDirectory(prefix="smartlib-ingest-profile-") as home:
        if args.compiled:
            shutil.copytree(args.compiled, Path(home) / "compiled")
        cli.main(["ingest", "--home", home, "--json", str(args.csv)])
    books, wall, cpu = timed["books"], timed["wall"], timed["cpu"]
    print(f"{args.label}: {books} books in {wall:.2f} s wall, {cpu:.2f} s CPU: {books / wall:.1f} books/s, "
          f"{books / cpu:.1f} books per CPU-second; {inside['cpu']:.2f} s CPU inside MiniLM calls "
          f"({inside['cpu'] / cpu:.0%})")


if __name__ == "__main__":
    main()
