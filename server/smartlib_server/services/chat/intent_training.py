"""Training and cross-validating the intent model on the labelled corpus.

Folds go by paraphrase family: all of a family's utterances sit in one fold, so a sentence is
never judged by a model that trained on its near-copy. The confidence threshold is read off
the out-of-fold predictions, and the model shipped is trained on the whole corpus.
"""
from __future__ import annotations

import dataclasses
import zlib
from collections import Counter

import numpy as np

from smartlib_server.services.chat import link_tables, linker
from smartlib_server.services.chat.intent_model import (
    LABELS,
    WEIGHTS,
    Design,
    Embed,
    Example,
    Features,
    IntentModel,
    corpus_hash,
    load_corpus,
    softmax,
)

# Picked on the family-grouped k-fold (docs/chat.md): 1e-4 and 80 steps underfit (0.811 with cues),
# 1e-3 more so (0.768), no penalty at all overfits (0.790). 400 steps since 2026-12-07 night (branch
# chatm): with the 57 utterances of that night's families 200 steps scored 0.860 and 400 0.865.
L2 = 1e-5
STEPS = 400
TARGET_PRECISION = 0.97  # the threshold keeps answers at least this often right on the k-fold


@dataclasses.dataclass
class Report:
    accuracy: float
    per_label: dict[str, tuple[float, float, int]]  # label -> (precision, recall, support)
    confusion: np.ndarray  # (labels, labels): rows true, columns predicted
    threshold: float
    covered: float  # share of utterances at or above the threshold
    covered_accuracy: float
    by_language: dict[str, float]
    folds: int
    size: int
    families: FamilyStudy | None = None


@dataclasses.dataclass
class FamilyStudy:
    """How the misses spread over paraphrase families, and how new the held-out families are:
    the share of utterances whose nearest MiniLM neighbour in the other folds has their label
    (a 1-NN reading; low means a fold's wordings are mostly unlike anything trained on)."""

    count: int
    some_wrong: int
    lost: dict[str, list[str]]  # label -> families with every utterance wrong
    neighbour_agrees: float


def slotted_corpus(examples: list[Example]) -> list[str]:
    """Corpus utterances as the model sees a message: the genre, mood and number words the
    linker would mark become slots too (titles and authors already are)."""
    tables = link_tables.build((0, 0, 0), {})
    return [linker.slotted(e.text, linker.link(e.text, tables, {})) for e in examples]


def fit(x: Design, y: np.ndarray, classes: int, steps: int = STEPS, l2: float = L2,
        lr: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, class-balanced, by full-batch Adam."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.01, (x.dim, classes)).astype(np.float32)
    b = np.zeros(classes, dtype=np.float32)
    counts = np.bincount(y, minlength=classes).astype(np.float32)
    sample = (len(y) / (classes * np.maximum(counts, 1)))[y][:, None].astype(np.float32)
    onehot = np.eye(classes, dtype=np.float32)[y]
    m_w, v_w, m_b, v_b = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b))
    for step in range(1, steps + 1):
        grad = (softmax(x.dot(w) + b) - onehot) * sample / len(y)
        g_w = x.tdot(grad) + l2 * w
        g_b = grad.sum(axis=0)
        for param, g, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            param -= lr * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return w, b


def fold_of(family: str, folds: int) -> int:
    return zlib.crc32(family.encode()) % folds


def cross_validate(examples: list[Example], x: Design, folds: int = 5, **kw) -> np.ndarray:
    """Out-of-fold label probabilities, (n, labels), folded by family."""
    y = np.array([LABELS.index(e.label) for e in examples])
    which = np.array([fold_of(e.family, folds) for e in examples])
    out = np.zeros((len(examples), len(LABELS)), dtype=np.float32)
    for f in range(folds):
        test = which == f
        w, b = fit(x.subset(~test), y[~test], len(LABELS), **kw)
        out[test] = softmax(x.subset(test).dot(w) + b)
    return out


def family_study(examples: list[Example], pred: np.ndarray, dense: np.ndarray, folds: int) -> FamilyStudy:
    y = np.array([LABELS.index(e.label) for e in examples])
    which = np.array([fold_of(e.family, folds) for e in examples])
    wrong: dict[str, list[bool]] = {}
    for e, p, t in zip(examples, pred, y, strict=True):
        wrong.setdefault(e.family, []).append(p != t)
    lost: dict[str, list[str]] = {}
    for e in examples:
        if all(wrong[e.family]) and e.family not in lost.get(e.label, []):
            lost.setdefault(e.label, []).append(e.family)
    unit = dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
    nearest = np.empty(len(y), dtype=np.int64)
    for start in range(0, len(y), 512):  # blocks keep the similarity matrix small
        sims = unit[start:start + 512] @ unit.T
        sims[which[start:start + 512, None] == which[None, :]] = -np.inf
        nearest[start:start + 512] = sims.argmax(axis=1)
    return FamilyStudy(len(wrong), sum(any(w) for w in wrong.values()), lost, float(np.mean(y[nearest] == y)))


def report(examples: list[Example], probs: np.ndarray, folds: int, dense: np.ndarray | None = None) -> Report:
    y = np.array([LABELS.index(e.label) for e in examples])
    pred = probs.argmax(axis=1)
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_label = {}
    for i, label in enumerate(LABELS):
        tp = confusion[i, i]
        per_label[label] = (tp / max(confusion[:, i].sum(), 1), tp / max(confusion[i].sum(), 1), int(confusion[i].sum()))
    threshold, covered, covered_accuracy = choose_threshold(probs.max(axis=1), pred == y)
    languages = sorted({e.language for e in examples})
    by_language = {lang: float(np.mean([p == t for p, t, e in zip(pred, y, examples, strict=True) if e.language == lang]))
                   for lang in languages}
    families = family_study(examples, pred, dense, folds) if dense is not None else None
    return Report(float(np.mean(pred == y)), per_label, confusion, threshold, covered, covered_accuracy,
                  by_language, folds, len(examples), families)


def choose_threshold(confidence: np.ndarray, right: np.ndarray) -> tuple[float, float, float]:
    """The lowest confidence bar whose accepted answers are right TARGET_PRECISION of the time
    (and the share accepted, and their accuracy)."""
    order = np.argsort(-confidence)
    hits = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(hits >= TARGET_PRECISION)[0]
    if not len(ok):
        return 1.0, 0.0, 0.0
    last = ok[-1]
    return float(confidence[order][last]), (last + 1) / len(order), float(hits[last])


def train(embed: Embed, folds: int = 5, features: Features | None = None) -> tuple[IntentModel, Report]:
    """Cross-validates, then trains on the whole corpus; the model carries the k-fold threshold."""
    examples = load_corpus()
    features = features or Features(gloss=True)
    x = features.design(slotted_corpus(examples), embed)
    probs = cross_validate(examples, x, folds)
    result = report(examples, probs, folds, x.dense)
    y = np.array([LABELS.index(e.label) for e in examples])
    w, b = fit(x, y, len(LABELS))
    model = IntentModel(w, b, LABELS, features, result.threshold, corpus_hash())
    return model, result


def write_weights(embed: Embed) -> tuple[IntentModel, Report]:
    model, result = train(embed)
    model.save(WEIGHTS)
    return model, result


def render(result: Report) -> str:
    lines = [f"intent model: {result.size} utterances, {result.folds}-fold cross-validation by paraphrase family",
             f"accuracy {result.accuracy:.3f}  " + "  ".join(f"{k} {v:.3f}" for k, v in result.by_language.items()),
             f"confidence threshold {result.threshold:.2f}: answers {result.covered:.1%} of utterances, "
             f"{result.covered_accuracy:.3f} of them right; below it the agent asks", "",
             f"{'label':<15}{'precision':>10}{'recall':>8}{'n':>6}  most often taken for"]
    for i, label in enumerate(LABELS):
        precision, recall, support = result.per_label[label]
        row = result.confusion[i].copy()
        row[i] = 0
        worst = ", ".join(f"{LABELS[j]} {row[j]}" for j in np.argsort(-row)[:2] if row[j])
        lines.append(f"{label:<15}{precision:>10.3f}{recall:>8.3f}{support:>6}  {worst}")
    pairs = Counter()
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            if i != j and result.confusion[i, j]:
                pairs[tuple(sorted((LABELS[i], LABELS[j])))] += int(result.confusion[i, j])
    lines += ["", "most confused pairs (both directions): " + ", ".join(f"{a}/{b} {n}" for (a, b), n in pairs.most_common(8))]
    if result.families:
        lines += ["", *family_lines(result.families)]
    return "\n".join(lines + ["", *confusion_table(result.confusion)])


def family_lines(study: FamilyStudy) -> list[str]:
    lost = sum(len(f) for f in study.lost.values())
    lines = [f"families: {study.count}; some utterance wrong in {study.some_wrong}, every one wrong in {lost}",
             f"nearest MiniLM neighbour in the other folds has the same label for {study.neighbour_agrees:.3f} of utterances",
             "families with every utterance wrong:"]
    return lines + [f"  {label}: {', '.join(sorted(study.lost[label]))}" for label in LABELS if label in study.lost]


def confusion_table(confusion: np.ndarray) -> list[str]:
    """The whole matrix, rows true and columns predicted, each column headed by its row's
    number so 23 labels fit in a terminal; a dot is a zero, the diagonal is what it got right."""
    lines = ["confusion (rows: true label, columns: predicted, numbered as the rows)",
             " " * 18 + "".join(f"{j + 1:>4}" for j in range(len(LABELS)))]
    for i, label in enumerate(LABELS):
        cells = "".join(f"{int(n) if n else '.':>4}" for n in confusion[i])
        lines.append(f"{i + 1:>2} {label:<15}{cells}")
    return lines


def main(write: bool = False) -> int:
    """`smartlib chat-eval --intents [--write-weights]`: the k-fold report, and the weights."""
    from smartlib_core.embedding import MiniLMTextEncoder

    # fp32 here: the serving path's bf16 weights agree to cosine 0.9999 and win on one short
    # query, but batches of thousands ran 30 times slower in bf16 on a CPU without bf16 units.
    encoder = MiniLMTextEncoder()

    def embed(texts: list[str]) -> np.ndarray:
        return encoder(texts)

    model, result = write_weights(embed) if write else train(embed)
    print(render(result))
    if write:
        print(f"\nwrote {WEIGHTS.name}: corpus {model.corpus_hash}, threshold {model.threshold:.2f}")
    return 0
