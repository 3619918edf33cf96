"""`smartlib train` and `smartlib eval` as plain functions: train -> evaluate -> report -> artifact."""
from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.embedding import normalise, query_vectors
from smartlib_core.quality_gate import refusal, shortfalls
from smartlib_core.reader_ranking import DEFAULT_RANKER, ReaderRanker
from smartlib_training import artifacts, report
from smartlib_training.behaviour import load_behaviour
from smartlib_training.co_reading_fit import co_reading_artifact
from smartlib_training.evaluate import TextEncoder, evaluate
from smartlib_training.personal_fit import personal_quality
from smartlib_training.personal_quality import FreshReaders
from smartlib_training.quality import TextCatalog, behaviour_report, genre_pick_report, known_item_report
from smartlib_training.reader_fit import Space, examples, fit_ranker, signal_table
from smartlib_training.relations import author_disjoint_split
from smartlib_training.train import TrainParams, TrainResult, train_encoder

log = logging.getLogger(__name__)

# Fewer behaviour queries than this in the catalog (another catalog than the file's) and the
# ranker is not fit on them: the built-in one is stored instead.
MIN_BEHAVIOUR_QUERIES = 30
GATE_BEHAVIOUR = "behaviour_recall@10"
GATE_KNOWN_ITEM = "known_item_hit@10"


class QualityGateRefused(Exception):
    """The trained candidate serves readers worse than the active version; nothing was written."""


def _check_inputs(books: Sequence[Book], vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(books) != len(vectors):
        raise ValueError(f"need one vector per book: {len(books)} books, vectors {vectors.shape}")
    return vectors


def run_train(books: Sequence[Book], vectors: np.ndarray, model_store: Path, params: TrainParams | None = None,
              progress: bool = True, text_encoder: TextEncoder | None = None, behaviour_path: Path | None = None,
              active: tuple[str, dict] | None = None, force: bool = False) -> Path:
    """Trains on the author-disjoint split, evaluates on its held-out books, writes a new version.

    Args:
        books, vectors: the catalog and its stored 2688-d vectors, row-aligned.
        model_store: root folder; the version lands in model_store/encoder/<version>/.
        params: hyper-parameters (defaults: TrainParams()).
        progress: tqdm bar and per-epoch loss lines.
        text_encoder: the MiniLM text encoder for the "<genre> books", known-item and genre-pick
            metrics; None skips them.
        behaviour_path: "readers also enjoyed" lists (training/smartlib_training/behaviour.py):
            the reader ranker is fit on them and scored by 5-fold cross-validation; None or too
            few matching queries stores the built-in ranker.
        active: (version, manifest) of the version serving now, for the quality gate.
        force: write the version even when the gate refuses it.

    Returns:
        The new version directory (verified before returning).

    Raises:
        QualityGateRefused: the candidate falls short of `active` and `force` is False.
    """
    params = params or TrainParams()
    vectors = _check_inputs(books, vectors)
    started = time.perf_counter()
    result: TrainResult = train_encoder(books, vectors, params, progress=progress)
    metrics = evaluate(books, vectors, result.model, result.test_idx, params.ranking_weight,
                       params.ranking_oversample, text_encoder)
    ranker, quality = reader_stage(books, vectors, result.model, behaviour_path, text_encoder, fit=True)
    gate = gate_numbers(quality)
    if active is not None:
        found = shortfalls({"gate": gate, "metrics": metrics}, active[1])
        if found and not force:
            raise QualityGateRefused(refusal("the new encoder", active[0], found, "run `smartlib train --force`"))
        if found:
            log.warning("quality gate overridden (--force): %s", "; ".join(s.describe("the new encoder", active[0]) for s in found))
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
    # The co-reading graph ships beside the ranker that reads the same lists (RecommendForUser blends it in).
    graph = co_reading_artifact(books, behaviour_path) if params.reader_ranker else None
    with tempfile.TemporaryDirectory(prefix="smartlib-report-") as tmp:
        files = report.write_report(Path(tmp), metrics, result.epoch_losses, result.epoch_parts, summary, quality)
        if graph is not None:
            files = [*files, graph.save(Path(tmp))]
        version_dir = artifacts.write_version(model_store, result.model, {
            "training_data_sha256": data_hash,
            "books": len(books),
            "held_out_books": len(result.test_idx),
            "hyper_parameters": params.to_dict(),
            "ranking": {"popularity_weight": params.ranking_weight, "oversample": params.ranking_oversample,
                        **({"reader_ranker": ranker.to_dict()} if params.reader_ranker else {}),
                        **({"co_reading": {"lists": graph.lists, "books": len(graph), "provenance": graph.provenance}}
                           if graph is not None else {})},
            "epoch_losses": result.epoch_losses,
            "metrics": metrics,
            "quality": quality,
            "gate": gate,
            "train_seconds": round(result.seconds, 1),
            "train_cpu_seconds": round(result.cpu_seconds, 1),
        }, files)
    artifacts.verify(version_dir)
    log.info("wrote %s in %.0f s", version_dir, time.perf_counter() - started)
    return version_dir


def reader_stage(books: Sequence[Book], vectors: np.ndarray, model, behaviour_path: Path | None,
                 text_encoder: TextEncoder | None, fit: bool, stored: ReaderRanker | None = None,
                 readers: bool = False, personal: FreshReaders | None = None) -> tuple[ReaderRanker, dict]:
    """The reader ranker (fit on the behaviour file when `fit` and it matches this catalog, else
    `stored` or the built-in one) and the quality figures readers would see, JSON-ready.
    `readers` adds RecommendForUser for fresh readers beside SimilarBooks (`personal`: the
    server's own, when it lends it)."""
    encoded = normalise(model.encode_numpy(vectors))
    queries = load_behaviour(behaviour_path, books) if behaviour_path is not None and Path(behaviour_path).is_file() else []
    enough = len(queries) >= MIN_BEHAVIOUR_QUERIES
    ranker, saw = stored or DEFAULT_RANKER, False
    if fit and enough:
        pool = examples(signal_table(books), Space(encoded), queries)
        ranker = fit_ranker(pool, provenance=f"fit on {Path(behaviour_path).name} ({len(queries)} queries)")
        saw = True
    elif fit:
        log.info("reader ranker: %d behaviour queries match this catalog (need %d); storing the built-in one",
                 len(queries), MIN_BEHAVIOUR_QUERIES)
    elif stored is not None and behaviour_path is not None and "fit on " + Path(behaviour_path).name in stored.provenance:
        saw = True  # re-scoring a ranker on the file it was fit on: cross-validate again
    quality: dict = {"reader_ranker": ranker.provenance, "behaviour_queries": len(queries)}
    if enough:
        raw_unit = normalise(np.asarray(vectors, dtype=np.float32))
        report_, runs = behaviour_report(books, raw_unit, encoded, queries, ranker, saw)
        quality["behaviour"] = {name: {m: e.to_dict() for m, e in values.items()} for name, values in report_.items()}
        if readers:
            quality["personal"] = personal_quality(books, queries, runs, personal)
    if text_encoder is not None:
        catalog = TextCatalog.build(books, normalise(np.asarray(vectors, dtype=np.float32)))

        def encode(texts):
            return normalise(query_vectors(texts, text_encoder))
        quality["known_item_hit@10"] = {k: e.to_dict() for k, e in known_item_report(catalog, encode).items()}
        quality["genre_picks"] = genre_pick_report(catalog, encode)
    return ranker, quality


def gate_numbers(quality: dict) -> dict[str, dict]:
    """The figures ActivateVersion compares against the active version: the default approach's
    behavioural recall@10 and known-item hit@10, each with its bootstrap interval."""
    gate = {}
    for name, values in quality.get("behaviour", {}).items():
        if name.startswith("FINETUNED + reader ranker"):
            gate[GATE_BEHAVIOUR] = values["recall@10"]
    known = quality.get("known_item_hit@10", {}).get("default (FINETUNED)")
    if known:
        gate[GATE_KNOWN_ITEM] = known
    return gate


def run_eval(books: Sequence[Book], vectors: np.ndarray, version_dir: Path, text_encoder: TextEncoder | None = None,
             report_dir: Path | None = None, behaviour_path: Path | None = None,
             personal: FreshReaders | None = None) -> tuple[dict[str, dict[str, float]], dict]:
    """Re-scores a stored version on the current catalog with the split it was trained with;
    `personal` (the server's RecommendForUser for fresh readers) is scored on readers' lists too.

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
    stored = manifest.get("ranking", {}).get("reader_ranker")
    _, quality = reader_stage(books, vectors, model, behaviour_path, text_encoder, fit=False,
                              stored=ReaderRanker.from_dict(stored) if stored else None, readers=True,
                              personal=personal)
    if report_dir is not None:
        losses = manifest.get("epoch_losses", [])
        report.write_report(Path(report_dir), metrics, losses, [], {
            "version": manifest.get("version"), "books": len(books), "held-out books": len(test_idx),
        }, quality)
    return metrics, quality
