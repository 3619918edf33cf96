"""`smartlib eval`'s quality figures with an inference runtime against fp32 torch, on one home.

    PYTHONPATH=bench python -m smartlib_bench.runtime_quality --home HOME [--runtime openvino]

Scores the home's newest encoder twice through training's own run_eval: as `smartlib eval`
does (the stored book vectors, query texts through fp32 torch), then with every book of the
catalog embedded again and every query text embedded through the runtime (the bf16 hint where
the CPU has bf16). Prints both reports' metrics ("<genre> books" precision@10) and quality
tables (behavioural recall, known-item hit@10, "recommend <genre> books") with their 95 %
bootstrap intervals, and the cosine of the new book vectors
to the stored ones. The FINETUNED encoder runs through torch in both: its runtime export is
held to the same bound by tests/unit/test_runtime.py. Takes minutes: 10k books, 7 texts each.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from smartlib_core import encoder_versions as versions, runtime
from smartlib_core.embedding import BLOCK_DIM, BLOCKS, MiniLMTextEncoder, assemble, book_fields


def block_cosines(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Cosine per 384-d block present in both (a missing field is a zero block in both)."""
    a, b = new.reshape(len(new), len(BLOCKS), BLOCK_DIM), old.reshape(len(old), len(BLOCKS), BLOCK_DIM)
    present = (np.linalg.norm(a, axis=2) > 0) & (np.linalg.norm(b, axis=2) > 0)
    return (a * b).sum(axis=2)[present]


def main(argv: list[str] | None = None) -> None:
    from smartlib_server.cli import _catalog_for_training
    from smartlib_server.config import Settings
    from smartlib_training.cli import BEHAVIOUR_FILE
    from smartlib_training.pipeline import run_eval
    from smartlib_training.report import metrics_table, quality_tables

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="an ingested, trained home (a copy: nothing is written)")
    parser.add_argument("--runtime", default=runtime.PREFERRED_RUNTIME, choices=runtime.RUNTIMES)
    args = parser.parse_args(argv)
    settings = Settings.from_env(home=args.home)
    version = versions.latest_version(settings.model_store)
    behaviour = Path(os.environ.get("SMARTLIB_DATA_DIR", "../shared/data")) / BEHAVIOUR_FILE
    behaviour = behaviour if behaviour.is_file() else None
    books, stored = _catalog_for_training(settings)
    root = versions.encoder_root(settings.model_store) / version
    reference_metrics, reference = run_eval(books, stored, root, MiniLMTextEncoder(), None, behaviour)
    with tempfile.TemporaryDirectory() as cache:
        served = runtime.text_encoder(args.runtime, Path(cache), bf16=True)
        started, cpu = time.perf_counter(), time.process_time()
        vectors = assemble([book_fields(b) for b in books], served)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        cosines = block_cosines(vectors, stored)
        metrics, ours = run_eval(books, vectors, root, served, None, behaviour)
    name = getattr(served, "variant", "torch")
    print(f"{len(books)} books embedded again through {name} in {took:.0f} s ({cpu:.0f} s CPU); "
          f"cosine per block to the stored vectors: mean {cosines.mean():.6f}, min {cosines.min():.6f}\n")
    print(f"## As `smartlib eval` scores it (stored vectors, fp32 torch queries), encoder {version}\n")
    print(metrics_table(reference_metrics) + "\n")  # "<genre> books" precision@10 is here
    print(quality_tables(reference))
    print(f"\n## Books and queries through {name}\n")
    print(metrics_table(metrics) + "\n")
    print(quality_tables(ours))


if __name__ == "__main__":
    main()
