"""The learned intent classifier: what a reader's message asks for, as one of LABELS.

A message reaches it after entity linking, with every linked span replaced by its slot
("got any {AUTHOR} lying around?"). Features are the sentence's MiniLM embedding (the query
encoder the server already holds; a Portuguese message is embedded as its English gloss,
intent_gloss.py) next to hashed word and character n-grams and hashed cues
(clause polarity after negation, slot kinds, a slot after "but", list positions, sentence
form: intent_cues.py), each block unit length and scaled; a multinomial logistic regression
turns them into label probabilities. The weights ship in data/intent_model.npz with the hash of the corpus they were trained on
(intent_training.py trains them; `smartlib chat-eval --intents --write-weights` retrains).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from smartlib_core.text import fold
from smartlib_server.services.chat.intent_cues import cues
from smartlib_server.services.chat.intent_gloss import for_encoder
from smartlib_server.services.chat.link_tables import load_yaml

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "corpus"
WEIGHTS = DATA / "intent_model.npz"
LABELS = (
    "greet", "thanks_bye", "help", "about_book", "who_wrote", "author", "similar", "recommend", "best_rated",
    "series_order", "series_next", "compare", "more", "pick", "why", "reject", "refine", "taste_like",
    "taste_dislike", "memory_show", "memory_forget", "off_topic", "nonsense",
)
# Asks about a list on screen: unlikely when no list was shown (see `context_prior`).
LIST_ASKS = frozenset({"more", "pick", "why", "reject", "refine"})
_SLOT = re.compile(r"\{([A-Z]+)\}")
# How a slot reads to MiniLM: a placeholder word of the right kind, so "is {TITLE} good?"
# embeds like a question about a book rather than about braces.
SLOT_WORDS = {"TITLE": "this book", "AUTHOR": "this author", "SERIES": "this series", "GENRE": "this genre",
              "MOOD": "this mood", "NUM": "3"}

Embed = Callable[[list[str]], np.ndarray]  # texts -> (n, 384) unit vectors


@dataclasses.dataclass(frozen=True)
class Example:
    text: str  # with slots
    label: str
    family: str
    language: str


@dataclasses.dataclass(frozen=True)
class Features:
    """How texts become feature vectors; saved with the weights so both sides agree."""

    hash_dim: int = 4096  # buckets for word and character n-grams, each
    embed_scale: float = 1.0
    word_scale: float = 1.0
    char_scale: float = 1.0
    cue_dim: int = 1024  # buckets for the cues (a message has about fifteen)
    cue_scale: float = 1.0
    gloss: bool = False  # Portuguese reaches MiniLM as an English gloss (intent_gloss.py); older weights: off

    @property
    def dim(self) -> int:
        return 384 + 2 * self.hash_dim + self.cue_dim

    def design(self, slotted: Sequence[str], embed: Embed) -> Design:
        texts = list(slotted)
        dense = np.zeros((len(texts), 384), dtype=np.float32)
        if texts:
            seen = [for_encoder(t) for t in texts] if self.gloss else texts
            dense[:] = self.embed_scale * _unit(np.asarray(embed([embed_text(t) for t in seen]), dtype=np.float32))
        rows, cols, vals = [], [], []
        for row, text in enumerate(texts):
            words, chars = lexical_grams(text)
            blocks = ((words, 384, self.hash_dim, self.word_scale), (chars, 384 + self.hash_dim, self.hash_dim, self.char_scale),
                      (cues(text), 384 + 2 * self.hash_dim, self.cue_dim, self.cue_scale))
            for grams, offset, dim, scale in blocks:
                if not dim:
                    continue
                c, v = _hashed(grams, dim, scale)
                rows.extend([row] * len(c))
                cols.extend(c + offset)
                vals.extend(v)
        return Design(dense, np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64),
                      np.array(vals, dtype=np.float32), self.dim)


@dataclasses.dataclass(frozen=True, eq=False)
class Design:
    """Feature rows: the embedding dense, the hashed n-grams sparse (a message lights up a
    hundred of 9,000 buckets), so training multiplies only what is there."""

    dense: np.ndarray  # (n, 384)
    rows: np.ndarray  # the hashed part as coordinates: row, column (offset past the embedding), value
    cols: np.ndarray
    vals: np.ndarray
    dim: int

    def __len__(self) -> int:
        return len(self.dense)

    def dot(self, weights: np.ndarray) -> np.ndarray:
        out = self.dense @ weights[:384]
        if len(self.rows):  # rows are in order and none is empty (see lexical_grams), so sums run per row
            out += np.add.reduceat(self.vals[:, None] * weights[self.cols], self._row_starts, axis=0)
        return out

    def tdot(self, grad: np.ndarray) -> np.ndarray:
        out = np.zeros((self.dim, grad.shape[1]), dtype=np.float32)
        out[:384] = self.dense.T @ grad
        if len(self.rows):
            order, columns, starts = self._by_column
            picked = (self.vals[:, None] * grad[self.rows])[order]
            out[columns] += np.add.reduceat(picked, starts, axis=0)
        return out

    @functools.cached_property
    def _row_starts(self) -> np.ndarray:
        return np.searchsorted(self.rows, np.arange(len(self.dense)))

    @functools.cached_property
    def _by_column(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.argsort(self.cols, kind="stable")
        columns, starts = np.unique(self.cols[order], return_index=True)
        return order, columns, starts

    def subset(self, mask: np.ndarray) -> Design:
        keep = mask[self.rows]
        renumber = np.cumsum(mask) - 1
        return Design(self.dense[mask], renumber[self.rows[keep]], self.cols[keep], self.vals[keep], self.dim)


def embed_text(slotted: str) -> str:
    return _SLOT.sub(lambda m: SLOT_WORDS.get(m.group(1), m.group(1).lower()), slotted)


def lexical_grams(slotted: str) -> tuple[list[str], list[str]]:
    """Word unigrams and bigrams, and character 3-4-grams inside words, of the folded text;
    a slot stays one word ("TITLE"), so "{TITLE} e bom" and "{AUTHOR} e bom" differ."""
    words = fold(_SLOT.sub(lambda m: f" slot{m.group(1).lower()} ", slotted)).split()
    grams = [f"w:{w}" for w in words] + [f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    if not words:
        grams.append("w:<empty>")
    chars = []
    for word in words:
        if word.startswith("slot"):
            continue
        padded = f"<{word}>"
        for n in (3, 4):
            chars.extend(f"c{n}:{padded[i:i + n]}" for i in range(len(padded) - n + 1))
    return grams, chars


def _hashed(grams: list[str], dim: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Bucket indices and values: square-rooted counts, the block scaled to length `scale`."""
    if not grams:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    counts = np.bincount([zlib.crc32(g.encode()) % dim for g in grams])
    cols = np.nonzero(counts)[0]
    vals = np.sqrt(counts[cols]).astype(np.float32)
    return cols, vals * (scale / float(np.linalg.norm(vals)))


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


@dataclasses.dataclass(frozen=True)
class IntentModel:
    weights: np.ndarray  # (dim, len(labels))
    bias: np.ndarray  # (len(labels),)
    labels: tuple[str, ...]
    features: Features
    threshold: float  # below this top probability the agent asks instead of guessing
    corpus_hash: str

    def probabilities(self, slotted: Sequence[str], embed: Embed) -> np.ndarray:
        return softmax(self.features.design(slotted, embed).dot(self.weights) + self.bias)

    def save(self, path: Path = WEIGHTS) -> None:
        meta = {"labels": list(self.labels), "features": dataclasses.asdict(self.features),
                "threshold": self.threshold, "corpus_hash": self.corpus_hash}
        with open(path, "wb") as handle:
            np.savez_compressed(handle, weights=self.weights.astype(np.float16), bias=self.bias.astype(np.float32),
                                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> IntentModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            return cls(data["weights"].astype(np.float32), data["bias"], tuple(meta["labels"]),
                       Features(**meta["features"]), float(meta["threshold"]), meta["corpus_hash"])


@functools.cache
def shipped() -> IntentModel:
    """The model in the repo, loaded once per process."""
    return IntentModel.load(WEIGHTS)


def context_prior(labels: Sequence[str], list_shown: bool) -> np.ndarray:
    """Multipliers on label probabilities from what the session knows: with no list on screen,
    "more", "pick", "why", "reject" and "refine" have nothing to act on."""
    return np.array([0.05 if (label in LIST_ASKS and not list_shown) else 1.0 for label in labels], dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("intents_*.yaml"))


def trained_on() -> list[Path]:
    """Every file the weights depend on: the corpus, and the linker's and lexicon's data, which
    decide what the corpus's words become slots ("eu curto" stays words, "fantasia" a {GENRE})
    and which words count as everyday ones."""
    data = CORPUS.parent
    linking = sorted(p for folder in ("linker", "lexicon") for p in (data / folder).iterdir() if p.is_file())
    return corpus_files() + linking


def corpus_hash() -> str:
    digest = hashlib.sha256()
    for path in trained_on():
        digest.update(f"{path.parent.name}/{path.name}".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def load_corpus() -> list[Example]:
    examples = []
    for path in corpus_files():
        data = load_yaml(path.read_text(encoding="utf-8"))
        for family in data["families"]:
            if family["intent"] not in LABELS:
                raise ValueError(f"{path.name}: family {family['id']} has unknown intent {family['intent']!r}")
            examples.extend(Example(u, family["intent"], family["id"], data["language"]) for u in family["utterances"])
    return examples

