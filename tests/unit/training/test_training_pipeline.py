"""End to end on a generated catalog: train -> evaluate -> report -> verified artifact."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from smartlib_core.co_reading import load_co_reading
from smartlib_training import artifacts, reader_fit
from smartlib_training.personal_quality import BLEND, CO_READING, FUSION, OWN, PERSONAL, SERVED, SIMILAR
from smartlib_training.pipeline import run_eval, run_train
from smartlib_training.relations import author_disjoint_split
from smartlib_training.report import quality_tables
from smartlib_training.train import TrainParams, train_encoder

# Small batches and few epochs keep the whole file to a few seconds on 2 cores.
TINY = TrainParams(epochs=6, batch_size=12, lr=2e-3, test_fraction=0.25, genre_neighbours=4, raw_neighbours=4, threads=1)


@pytest.fixture(scope="module")
def trained(catalog):
    return train_encoder(catalog.books, catalog.vectors, TINY, progress=False)


@pytest.fixture(scope="module")
def version_dir(catalog, tmp_path_factory):
    store = tmp_path_factory.mktemp("model_store")
    return run_train(catalog.books, catalog.vectors, store, TINY, progress=False, text_encoder=catalog.text_encoder)


def test_split_keeps_every_author_on_one_side(catalog):
    train, test = author_disjoint_split(catalog.books, 0.25, seed=3)
    assert len(train) + len(test) == len(catalog.books) and len(test) > 0
    train_authors = {a for i in train for a in catalog.books[i].authors}
    test_authors = {a for i in test for a in catalog.books[i].authors}
    assert not train_authors & test_authors


def test_coauthors_are_split_together(catalog):
    books = list(catalog.books)
    # b0 is by Author 0; giving it Author 1 as co-author must pull both authors' books together.
    books[0] = dataclasses.replace(books[0], authors=("Author 0", "Author 1"))
    for seed in range(5):
        _, test = author_disjoint_split(books, 0.5, seed)
        held = {a for i in test for a in books[i].authors}
        assert ("Author 0" in held) == ("Author 1" in held)


def test_loss_falls_and_model_outputs_unit_vectors(trained, catalog):
    assert len(trained.epoch_losses) == TINY.epochs
    assert trained.epoch_losses[-1] < 0.9 * trained.epoch_losses[0]
    out = trained.model.encode_numpy(catalog.vectors[:5])
    assert out.shape == (5, 256)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_training_is_reproducible(trained, version_dir):
    # The pipeline trained separately with the same params and seed; its losses are in the manifest.
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["epoch_losses"] == pytest.approx(trained.epoch_losses, rel=1e-4)


def test_rejects_misaligned_inputs(catalog):
    with pytest.raises(ValueError, match="one 2688-d vector per book"):
        train_encoder(catalog.books[:10], catalog.vectors[:9], TINY, progress=False)


def test_training_runs_on_its_threads_and_gives_the_process_its_own_back(catalog, monkeypatch):
    # torch's thread count is process-wide: a training left at threads=1 made the test session's
    # later 10k ingest run on one core. Whatever the process had before comes back, on success
    # and on failure alike.
    import torch

    from smartlib_training import train

    seen, real = [], train._train
    monkeypatch.setattr(train, "_train", lambda *a: seen.append(torch.get_num_threads()) or real(*a))
    before = torch.get_num_threads()
    wanted = 1 if before > 1 else 2
    train_encoder(catalog.books, catalog.vectors, dataclasses.replace(TINY, epochs=1, threads=wanted), progress=False)
    assert seen == [wanted] and torch.get_num_threads() == before
    with pytest.raises(ValueError):
        train_encoder(catalog.books[:10], catalog.vectors[:9], dataclasses.replace(TINY, threads=wanted), progress=False)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"block_weights": (1.0, 1.0)}, {"test_fraction": 1.0}, {"temperature": 0.0}])
def test_invalid_training_parameters_are_rejected(bad):
    with pytest.raises(ValueError, match="invalid training parameters"):
        TrainParams(**bad)


def test_pipeline_writes_a_verified_version(version_dir, catalog):
    names = {p.name for p in version_dir.iterdir()}
    assert {"encoder.safetensors", "manifest.json", "report.md", "loss.png", "metrics.png"} <= names
    assert artifacts.latest_version(version_dir.parent.parent) == version_dir.name
    model, manifest = artifacts.load_verified(version_dir)
    assert manifest["version"] == version_dir.name
    assert manifest["training_data_sha256"] == artifacts.training_data_hash(catalog.books, catalog.vectors)
    assert manifest["ranking"]["popularity_weight"] == TINY.ranking_weight
    assert set(manifest["files"]) == names - {"manifest.json"}
    for approach in ("baseline", "finetuned"):
        metrics = manifest["metrics"][approach]
        assert 0.0 <= metrics["ndcg@10"] <= 1.0
        assert 0.0 <= metrics["genre_query_precision@10"] <= 1.0
    # The 256-d index is 2688/256 = 10.5x smaller than the raw one.
    assert manifest["metrics"]["baseline"]["index_mb"] / manifest["metrics"]["finetuned"]["index_mb"] == pytest.approx(10.5)
    assert "| nDCG@10 (genre Jaccard) |" in (version_dir / "report.md").read_text()
    assert (version_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Loading restores the exact trained weights, block weighting included.
    assert model.input_scale[384 * 4].item() == pytest.approx(TINY.block_weights[4])


def test_run_eval_reproduces_the_stored_metrics(version_dir, catalog, tmp_path):
    metrics, _ = run_eval(catalog.books, catalog.vectors, version_dir, catalog.text_encoder, report_dir=tmp_path)
    stored = json.loads((version_dir / "manifest.json").read_text())["metrics"]
    for approach in ("baseline", "finetuned"):
        for key in ("ndcg@10", "author_recall@10", "genre_query_precision@10"):
            assert metrics[approach][key] == pytest.approx(stored[approach][key], abs=1e-6)
    assert (tmp_path / "report.md").is_file()


@pytest.mark.parametrize("target", ["report.md", "encoder.safetensors", "loss.png"])
def test_tampered_file_is_refused(version_dir, tmp_path, target):
    import shutil

    copy = tmp_path / version_dir.name
    shutil.copytree(version_dir, copy)
    data = bytearray((copy / target).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / target).write_bytes(bytes(data))
    with pytest.raises(artifacts.ArtifactIntegrityError, match=target):
        artifacts.load_verified(copy)


def test_edited_manifest_and_missing_file_are_refused(version_dir, tmp_path):
    import shutil

    edited = tmp_path / "edited"
    shutil.copytree(version_dir, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    manifest["ranking"]["popularity_weight"] = 1.0
    (edited / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(artifacts.ArtifactIntegrityError, match="modified"):
        artifacts.load_verified(edited)

    missing = tmp_path / "missing"
    shutil.copytree(version_dir, missing)
    (missing / "metrics.png").unlink()
    with pytest.raises(artifacts.ArtifactIntegrityError, match="missing"):
        artifacts.load_verified(missing)

    (missing / "manifest.json").write_text("{not json")
    with pytest.raises(artifacts.ArtifactIntegrityError, match="unreadable"):
        artifacts.load_verified(missing)


def test_latest_version_ignores_partial_and_foreign_dirs(tmp_path):
    root = tmp_path / "encoder"
    for name in ("20260101T000000Z", "20260102T000000Z", ".20260103T000000Z.partial", "notes"):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")
    (root / "20260104T000000Z").mkdir()  # no manifest yet: not a complete version
    assert artifacts.latest_version(tmp_path) == "20260102T000000Z"
    assert artifacts.latest_version(tmp_path / "empty") is None


def _behaviour_file(catalog, path, queries: int = 40):
    """Readers here pair any book with the catalog's most-rated books by other authors: a rule
    the ranker can learn from popularity, and which cosine alone does not follow."""
    books = catalog.books

    def ref(b):
        return {"row": b.list_rank, "title": b.title, "author": b.authors[0]}

    lines = []
    for q in range(queries):
        mates = sorted((b for b in books if b.authors != books[q].authors), key=lambda b: -b.num_ratings)[:4]
        lines.append(json.dumps({"query": ref(books[q]), "similar": [ref(b) for b in mates]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class FitSpy:
    """Records, for every reader ranker the cross-validation fits, the query books it was fit on,
    and for every ranking it produces, the ranker that produced it."""

    def __init__(self) -> None:
        self.fitted: list[tuple[object, frozenset[int]]] = []
        self.scored: list[tuple[object, int]] = []

    def install(self, patch: pytest.MonkeyPatch) -> None:
        fit, rank = reader_fit.fit_ranker, reader_fit.ranked

        def spied_fit(train, *args, **kwargs):
            ranker = fit(train, *args, **kwargs)
            self.fitted.append((ranker, frozenset(e.query for e in train)))
            return ranker

        def spied_ranked(ranker, example, k):
            self.scored.append((ranker, example.query))
            return rank(ranker, example, k)

        patch.setattr(reader_fit, "fit_ranker", spied_fit)
        patch.setattr(reader_fit, "ranked", spied_ranked)


@pytest.fixture(scope="module")
def behaviour_version(catalog, tmp_path_factory):
    folder = tmp_path_factory.mktemp("behaviour")
    path = _behaviour_file(catalog, folder / "similar.jsonl")
    spy = FitSpy()
    with pytest.MonkeyPatch.context() as patch:
        spy.install(patch)  # the cross-validation's own calls; the shipped ranker is fit elsewhere
        version_dir = run_train(catalog.books, catalog.vectors, folder / "model_store", TINY, progress=False,
                                text_encoder=catalog.text_encoder, behaviour_path=path)
    return path, version_dir, spy


def test_reader_ranker_is_fit_on_the_behaviour_file_and_scored_out_of_fold(behaviour_version):
    _, version_dir, _ = behaviour_version
    _, manifest = artifacts.load_verified(version_dir)
    assert manifest["ranking"]["reader_ranker"]["provenance"] == "fit on similar.jsonl (40 queries)"
    # The co-reading graph of the same lists ships beside it, checksummed with the version.
    graph = load_co_reading(version_dir)
    assert graph is not None and graph.lists == 40 and "co_reading.json" in manifest["files"]
    assert manifest["ranking"]["co_reading"] == {"lists": 40, "books": len(graph), "provenance": "similar.jsonl (40 lists)"}
    behaviour = manifest["quality"]["behaviour"]
    ranked = behaviour["FINETUNED + reader ranker (5-fold, out of fold)"]["recall@10"]
    cosine = behaviour["BASELINE (2688-d cosine)"]["recall@10"]
    assert ranked["mean"] > cosine["mean"] + 0.2 and ranked["queries"] == 40
    assert manifest["gate"]["behaviour_recall@10"] == ranked
    assert manifest["gate"]["known_item_hit@10"] == manifest["quality"]["known_item_hit@10"]["default (FINETUNED)"]
    report = (version_dir / "report.md").read_text()
    assert "## What readers see" in report and (version_dir / "quality.png").is_file()


def test_every_query_is_scored_by_a_ranker_that_never_saw_it(behaviour_version):
    *_, spy = behaviour_version
    trained_on = {id(ranker): queries for ranker, queries in spy.fitted}
    assert len(spy.fitted) == 5 and all(len(queries) == 32 for queries in trained_on.values())  # 5 folds of 40
    assert sorted(query for _, query in spy.scored) == list(range(40))  # each query ranked exactly once
    seen = [query for ranker, query in spy.scored if query in trained_on[id(ranker)]]
    assert seen == [], f"queries ranked by a ranker fit on them: {seen}"


def test_without_a_behaviour_file_the_built_in_ranker_is_stored(version_dir):
    _, manifest = artifacts.load_verified(version_dir)
    assert load_co_reading(version_dir) is None and "co_reading" not in manifest["ranking"]
    assert manifest["ranking"]["reader_ranker"]["provenance"].startswith("built-in")
    assert "behaviour" not in manifest["quality"]
    assert set(manifest["quality"]["genre_picks"]) == {"BASELINE", "default (FINETUNED)", "top 10 by Num_Ratings (reference)"}
    known = manifest["quality"]["known_item_hit@10"]
    assert set(known) == {"BASELINE", "default without the lexical index", "default (FINETUNED)"}
    table = quality_tables(manifest["quality"])
    assert "| top 10 by Num_Ratings (reference) |" in table and "1.00× |" in table  # the reference against itself


def test_eval_re_scores_the_stored_ranker_out_of_fold(behaviour_version, catalog):
    path, version_dir, _ = behaviour_version
    _, quality = run_eval(catalog.books, catalog.vectors, version_dir, catalog.text_encoder, behaviour_path=path)
    stored = json.loads((version_dir / "manifest.json").read_text())["quality"]["behaviour"]
    key = "FINETUNED + reader ranker (5-fold, out of fold)"
    assert quality["behaviour"][key]["recall@10"]["mean"] == pytest.approx(stored[key]["recall@10"]["mean"])


def test_eval_scores_fresh_readers_beside_similar_books(behaviour_version, catalog):
    path, version_dir, _ = behaviour_version

    def echo(book_ids, k, ranking):  # a server whose blend recommends the reader's own books back
        return list(book_ids)[:k] if ranking == "blend" else []

    _, quality = run_eval(catalog.books, catalog.vectors, version_dir, catalog.text_encoder, behaviour_path=path,
                          personal=echo)
    personal = quality["personal"]
    assert personal["one book"]["readers"] == personal["three books"]["readers"] == 40
    assert personal["three books"][PERSONAL][OWN]["mean"] == 0.0
    assert personal["three books"][SIMILAR][OWN]["mean"] == 0.0
    assert personal["three books"][BLEND][OWN]["mean"] == 1.0
    assert personal["three books"][SERVED]["recall@10"]["mean"] == 0.0
    # One liked book: the personal ranking is that book's reader-ranked row, as SimilarBooks gives it.
    one = personal["one book"]
    assert one[PERSONAL]["recall@10"]["mean"] == pytest.approx(one[SIMILAR]["recall@10"]["mean"])
    assert "| three books (40 readers) |" in quality_tables(quality)
    # The learned fusion is fit (32 training readers a fold) and never returns a reader's own books.
    assert personal["learned fusion"].startswith("fit per fold")
    assert personal["three books"][FUSION][OWN]["mean"] == 0.0
    # The co-reading blend: its weights chosen per fold, never a reader's own books back.
    assert len(personal["co-reading share and half-evidence per fold"]) == 5
    assert personal["three books"][CO_READING][OWN]["mean"] == 0.0
    assert personal["one book"][CO_READING][OWN]["mean"] == 0.0
    assert one[FUSION]["recall@10"]["mean"] == pytest.approx(one[SIMILAR]["recall@10"]["mean"])
