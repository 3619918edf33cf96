"""`smartlib train` and `smartlib eval` as plain functions: train -> evaluate -> report -> artifact."""
from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from smartlib_server.domain import Book
from smartlib_training import artifacts, report
from smartlib_training.evaluate import TextEncoder, evaluate
from smartlib_training.relations import author_disjoint_split
from smartlib_training.train import TrainParams, TrainResult, train_encoder

log = logging.getLogger(__name__)


def _check_inputs(books: Sequence[Book], vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(books) != len(vectors):
        raise ValueError(f"need one vector per book: {len(books)} books, vectors {vectors.shape}")
    return vectors


def run_train(books: Sequence[Book], vectors: np.ndarray, model_store: Path, params: TrainParams | None = None,
              progress: bool = True, text_encoder: TextEncoder | None = None) -> Path:
    """Trains on the author-disjoint split, evaluates on its held-out books, writes a new version.

    Args:
        books, vectors: the catalog and its stored 2688-d vectors, row-aligned.
        model_store: root folder; the version lands in model_store/encoder/<version>/.
        params: hyper-parameters (defaults: TrainParams()).
        progress: tqdm bar and per-epoch loss lines.
        text_encoder: the MiniLM text encoder for the "<genre> books" metric; None skips it.

    Returns:
        The new version directory (verified before returning).
    """
    params = params or TrainParams()
    vectors = _check_inputs(books, vectors)
    started = time.perf_counter()
    result: TrainResult = train_encoder(books, vectors, params, progress=progress)
    metrics = evaluate(books, vectors, result.model, result.test_idx, params.ranking_weight,
                       params.ranking_oversample, text_encoder)
    data_hash = artifacts.training_data_hash(books, vectors)
    summary = {
        "books": len(books),
        "training books": len(result.train_idx),
        "held-out books": len(result.test_idx),
        "training seconds (wall)": round(result.seconds, 1),
        "training CPU seconds": round(result.cpu_seconds, 1),
        "training data sha256": data_hash,
        "hyper-parameters": params.to_dict(),
    }
    with tempfile.TemporaryDirectory(prefix="smartlib-report-") as tmp:
        files = report.write_report(Path(tmp), metrics, result.epoch_losses, result.epoch_parts, summary)
        version_dir = artifacts.write_version(model_store, result.model, {
            "training_data_sha256": data_hash,
            "books": len(books),
            "held_out_books": len(result.test_idx),
            "hyper_parameters": params.to_dict(),
            "ranking": {"popularity_weight": params.ranking_weight, "oversample": params.ranking_oversample},
            "epoch_losses": result.epoch_losses,
            "metrics": metrics,
            "train_seconds": round(result.seconds, 1),
            "train_cpu_seconds": round(result.cpu_seconds, 1),
        }, files)
    artifacts.verify(version_dir)
    log.info("wrote %s in %.0f s", version_dir, time.perf_counter() - started)
    return version_dir


def run_eval(books: Sequence[Book], vectors: np.ndarray, version_dir: Path, text_encoder: TextEncoder | None = None,
             report_dir: Path | None = None) -> dict[str, dict[str, float]]:
    """Re-scores a stored version on the current catalog with the split it was trained with.

    The version directory is never modified (that would break its checksums); pass
    `report_dir` to write a fresh report elsewhere.

    Raises:
        ArtifactIntegrityError: the version fails verification.
    """
    vectors = _check_inputs(books, vectors)
    model, manifest = artifacts.load_verified(version_dir)
    params = TrainParams.from_dict(manifest.get("hyper_parameters", {}))
    if manifest.get("training_data_sha256") != artifacts.training_data_hash(books, vectors):
        # The split is recomputed from the current catalog, so some "held-out" books may have
        # been trained on; the numbers are then optimistic.
        log.warning("catalog differs from the one %s was trained on; held-out metrics may be optimistic",
                    manifest.get("version"))
    _, test_idx = author_disjoint_split(books, params.test_fraction, params.seed)
    metrics = evaluate(books, vectors, model, test_idx, params.ranking_weight, params.ranking_oversample, text_encoder)
    if report_dir is not None:
        losses = manifest.get("epoch_losses", [])
        report.write_report(Path(report_dir), metrics, losses, [], {
            "version": manifest.get("version"), "books": len(books), "held-out books": len(test_idx),
        })
    return metrics
