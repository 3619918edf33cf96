"""Co-reading: which books the same readers liked, learned from readers' "also enjoyed" lists.

Each list of the behaviour file (a query book and the books its readers also enjoyed) stands for
a reader who liked all of them. Two books that share lists are read together, so every book gets
a co-reading row: its co-members, weighted by how many lists they share, as a distribution. A
user's liked books mix their rows the way the reader rows are mixed (smartlib_core.personal_ranking),
and RecommendForUser blends the mix in by how many of the user's books the graph knows.

This is evidence the reader rows lack: a row holds what one book's readers paired it with, the
graph what several pages put side by side (measured in README, "Personalisation"). Training
builds it from the whole file as a versioned artifact beside the encoder (co_reading.json);
the evaluation builds it from the training folds only, so a held-out reader's own list never
reaches its graph.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

CO_READING_FILE = "co_reading.json"
FORMAT = 1


@dataclasses.dataclass(frozen=True)
class CoReading:
    """book id -> (co-member ids, their share of the book's co-reading), best first."""

    rows: Mapping[str, tuple[tuple[str, ...], tuple[float, ...]]]
    lists: int = 0  # how many lists it was built from
    provenance: str = ""

    @classmethod
    def from_lists(cls, lists: Iterable[Sequence[str]], provenance: str = "") -> CoReading:
        """One reader per list (duplicates within a list count once); a list of one book adds nothing."""
        counts: dict[str, dict[str, int]] = {}
        n = 0
        for members in lists:
            n += 1
            for a, b in itertools.permutations(dict.fromkeys(members), 2):
                row = counts.setdefault(a, {})
                row[b] = row.get(b, 0) + 1
        return cls({book: _distribution(row) for book, row in counts.items()}, n, provenance)

    def __len__(self) -> int:
        return len(self.rows)

    def evidence(self, liked: Mapping[str, float]) -> tuple[dict[str, float], dict[str, str], int]:
        """(candidate -> the weighted mean of its share over the liked books the graph knows,
        candidate -> the liked book that contributes most, how many liked books it knows)."""
        known = [(book, weight) for book, weight in liked.items() if weight > 0 and book in self.rows]
        total = sum(weight for _, weight in known)
        scores: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}
        for book, weight in known:
            ids, shares = self.rows[book]
            for candidate, share in zip(ids, shares, strict=True):
                part = weight / total * share
                scores[candidate] = scores.get(candidate, 0.0) + part
                if part > best.get(candidate, (0.0, ""))[0]:
                    best[candidate] = (part, book)
        return scores, {c: b for c, (_, b) in best.items()}, len(known)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "lists": self.lists, "provenance": self.provenance,
                "rows": {book: [list(ids), [round(s, 6) for s in shares]] for book, (ids, shares) in self.rows.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> CoReading:
        """Raises:
            ValueError: not a co-reading graph of this format (says what is wrong).
        """
        if data.get("format") != FORMAT:
            raise ValueError(f"co-reading format {data.get('format')!r}, expected {FORMAT}")
        rows = {}
        for book, (ids, shares) in dict(data["rows"]).items():
            if len(ids) != len(shares):
                raise ValueError(f"co-reading row of {book!r}: {len(ids)} ids, {len(shares)} shares")
            rows[str(book)] = (tuple(map(str, ids)), tuple(map(float, shares)))
        return cls(rows, int(data.get("lists", 0)), str(data.get("provenance", "")))

    def save(self, directory: Path) -> Path:
        path = Path(directory) / CO_READING_FILE
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        return path


def load_co_reading(directory: Path) -> CoReading | None:
    """The graph an encoder version carries, None when it has none (trained without lists).

    Raises:
        ValueError: the file is there but unusable.
    """
    path = Path(directory) / CO_READING_FILE
    if not path.is_file():
        return None
    try:
        return CoReading.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name}: {exc}") from None


def _distribution(counts: Mapping[str, int]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(b for b, _ in ordered), tuple(c / total for _, c in ordered)
