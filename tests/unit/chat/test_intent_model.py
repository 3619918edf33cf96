"""The intent model: its corpus, the shipped weights' tie to it, and predictions on sentences
written for this test (in no corpus family), with the real MiniLM."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_server.services.chat import intent_model
from smartlib_server.services.chat.intent_model import LABELS, Example, IntentModel, context_prior
from smartlib_server.services.chat.intent_training import choose_threshold, confusion_table, family_study, fit, fold_of


def test_the_corpus_loads_with_every_label_in_both_languages():
    examples = intent_model.load_corpus()
    assert len(examples) >= 1500
    for language in ("en", "pt"):
        assert {e.label for e in examples if e.language == language} == set(LABELS)


def test_the_shipped_weights_were_trained_on_this_corpus():
    """Fails when the corpus changed without retraining: run `smartlib chat-eval --intents --write-weights`."""
    model = intent_model.shipped()
    assert model.corpus_hash == intent_model.corpus_hash()
    assert model.labels == LABELS
    assert model.weights.shape == (model.features.dim, len(LABELS))
    assert 0.0 < model.threshold < 1.0


def test_folds_keep_families_together():
    examples = intent_model.load_corpus()
    folds: dict[str, set[int]] = {}
    for e in examples:
        folds.setdefault(e.family, set()).add(fold_of(e.family, 5))
    assert all(len(f) == 1 for f in folds.values())
    assert {f for fs in folds.values() for f in fs} == set(range(5))


@pytest.fixture(scope="module")
def embed():
    from smartlib_core.embedding import MiniLMTextEncoder

    encoder = MiniLMTextEncoder.for_queries()
    return lambda texts: encoder(texts)


@pytest.mark.parametrize(("text", "label"), [
    ("yo, who penned {TITLE}?", "who_wrote"),
    ("anything by {AUTHOR} on your shelves?", "author"),
    ("which book follows {TITLE}?", "series_next"),
    ("what's a good weekend read?", "recommend"),
    ("quem escreveu {TITLE} mesmo?", "who_wrote"),
    ("tem mais livros do {AUTHOR}?", "author"),
    ("vai chover amanhã em Recife?", "off_topic"),
    ("asdfgh qwerty", "nonsense"),
    ("forget everything you know about me", "memory_forget"),
])
def test_predicts_sentences_it_never_saw(embed, text, label):
    model = intent_model.shipped()
    probs = model.probabilities([text], embed)[0]
    assert model.labels[int(np.argmax(probs))] == label


@pytest.mark.parametrize(("liked", "negated"), [
    ("I'm really into {GENRE} these days", "I'm not really into {GENRE} these days"),
    ("{AUTHOR} is someone I always enjoy", "{AUTHOR} is someone I never enjoy"),
    ("eu curto {GENRE} demais", "eu não curto {GENRE}"),
    ("gosto muito de {GENRE}", "não gosto muito de {GENRE}"),
])
def test_a_negated_taste_statement_flips_polarity(embed, liked, negated):
    model = intent_model.shipped()
    probs = model.probabilities([liked, negated], embed)
    assert [model.labels[int(i)] for i in probs.argmax(axis=1)] == ["taste_like", "taste_dislike"]


def test_the_context_prior_sinks_list_asks_without_a_list():
    prior = context_prior(LABELS, list_shown=False)
    assert prior[LABELS.index("more")] < 0.1 and prior[LABELS.index("recommend")] == 1.0
    assert (context_prior(LABELS, list_shown=True) == 1.0).all()


def test_logistic_regression_learns_a_separable_toy_problem():
    rng = np.random.default_rng(1)
    dense = np.concatenate([rng.normal(-2, 0.3, (20, 384)), rng.normal(2, 0.3, (20, 384))]).astype(np.float32)
    empty = np.zeros(0, dtype=np.int64)
    design = intent_model.Design(dense, empty, empty, np.zeros(0, dtype=np.float32), 384 + 16)
    y = np.array([0] * 20 + [1] * 20)
    w, b = fit(design, y, 2, steps=50)
    assert (np.argmax(design.dot(w) + b, axis=1) == y).all()


def test_the_threshold_keeps_accepted_answers_precise():
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.6, 0.5, 0.4])
    right = np.array([True, True, True, True, False, True, False])
    threshold, covered, accuracy = choose_threshold(confidence, right)
    assert threshold == 0.8 and covered == pytest.approx(4 / 7) and accuracy == 1.0


def test_weights_round_trip(tmp_path):
    model = intent_model.shipped()
    model.save(tmp_path / "m.npz")
    again = IntentModel.load(tmp_path / "m.npz")
    assert again.corpus_hash == model.corpus_hash and again.features == model.features
    assert np.allclose(again.weights, model.weights)


def test_the_confusion_table_puts_true_labels_in_rows_and_predictions_in_columns():
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    like, dislike = LABELS.index("taste_like"), LABELS.index("taste_dislike")
    confusion[like, like], confusion[like, dislike] = 40, 7  # seven likes read as dislikes
    lines = confusion_table(confusion)
    row = next(line for line in lines if line.split()[1:2] == ["taste_like"])
    cells = row.split()[2:]
    assert cells[like] == "40" and cells[dislike] == "7" and cells.count(".") == len(LABELS) - 2
    other = next(line for line in lines if line.split()[1:2] == ["taste_dislike"])
    assert set(other.split()[2:]) == {"."}


def test_the_weights_hash_covers_the_linkers_data(tmp_path, monkeypatch):
    """The corpus is slotted by the linker's and lexicon's data, so a change there must ask for retraining too."""
    import shutil

    data = tmp_path / "data"
    for folder in ("corpus", "linker", "lexicon"):
        shutil.copytree(intent_model.CORPUS.parent / folder, data / folder)
    monkeypatch.setattr(intent_model, "CORPUS", data / "corpus")
    before = intent_model.corpus_hash()
    homographs = data / "linker" / "homographs.yaml"
    homographs.write_text(homographs.read_text(encoding="utf-8") + "\n# one more rule\n", encoding="utf-8")
    assert intent_model.corpus_hash() != before


def test_the_family_study_names_wholly_missed_families_and_reads_neighbours_across_folds():
    def family_in_fold(fold: int, prefix: str) -> str:
        return next(f"{prefix}-{i:03d}" for i in range(1000) if fold_of(f"{prefix}-{i:03d}", 5) == fold)

    a, b = family_in_fold(0, "en-greet"), family_in_fold(1, "en-help")
    examples = [Example("hi", "greet", a, "en"), Example("hello", "greet", a, "en"),
                Example("help", "help", b, "en"), Example("how", "help", b, "en")]
    greet, help_ = LABELS.index("greet"), LABELS.index("help")
    pred = np.array([help_, help_, help_, greet])  # family a all wrong, b half wrong
    # Each greet's nearest vector in the other fold is a help and vice versa, except that
    # "how" lies nearest "hi" (another label) and "help" nearest "hello" (another label too).
    dense = np.array([[1, 0], [0.9, 0.1], [0.8, 0.2], [1, 0.05]], dtype=np.float32)
    study = family_study(examples, pred, dense, 5)
    assert study.count == 2 and study.some_wrong == 2
    assert study.lost == {"greet": [a]}
    assert study.neighbour_agrees == 0.0
    same = [Example(e.text, "greet", e.family, "en") for e in examples]
    assert family_study(same, pred, dense, 5).neighbour_agrees == 1.0
