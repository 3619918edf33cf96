"""Plain data types shared by services and adapters; no gRPC here."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from enum import Enum

from smartlib_core.text import fold


@dataclasses.dataclass(frozen=True)
class Book:
    id: str
    title: str
    authors: tuple[str, ...]
    description: str = ""
    genres: tuple[str, ...] = ()
    characters: tuple[str, ...] = ()
    avg_rating: float = 0.0
    num_ratings: int = 0
    url: str = ""
    series_name: str = ""
    series_position: str = ""
    list_rank: int = -1

    @property
    def main_genre(self) -> str:
        return self.genres[0] if self.genres else ""

    @functools.cached_property
    def series_key(self) -> str:
        """The series name folded for comparison ("" without a series), computed once per book."""
        return fold(self.series_name) if self.series_name else ""

    @functools.cached_property
    def genre_keys(self) -> frozenset[str]:
        """Lower-cased genres, computed once per book: filters and reasons ask on every request."""
        return frozenset(self.genres_lower)

    @functools.cached_property
    def genres_lower(self) -> tuple[str, ...]:
        """`genres` lower-cased, in their order."""
        return tuple(g.lower() for g in self.genres)

    @functools.cached_property
    def genres_folded(self) -> tuple[str, ...]:
        """`genres` folded (text.fold), in their order: text asks match reader words against them."""
        return tuple(fold(g) for g in self.genres)

    def content_hash(self) -> str:
        """Hash of every stored field: equal hashes mean an upsert changes nothing."""
        payload = json.dumps(dataclasses.astuple(self), ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


class Approach(Enum):
    BASELINE = "baseline"
    FINETUNED = "finetuned"


@dataclasses.dataclass(frozen=True)
class BookFilter:
    include_genres: frozenset[str] = frozenset()  # lower-cased
    exclude_genres: frozenset[str] = frozenset()
    min_avg_rating: float = 0.0
    exclude_ids: frozenset[str] = frozenset()

    def accepts(self, book: Book) -> bool:
        if book.id in self.exclude_ids:
            return False
        if self.min_avg_rating and book.avg_rating < self.min_avg_rating:
            return False
        if self.include_genres or self.exclude_genres:
            genres = book.genre_keys
            if self.include_genres and not genres & self.include_genres:
                return False
            if genres & self.exclude_genres:
                return False
        return True

    @property
    def narrows(self) -> bool:
        """Whether it drops books by genre or rating, beyond the excluded ids."""
        return bool(self.include_genres or self.exclude_genres or self.min_avg_rating)

    @property
    def is_empty(self) -> bool:
        return not (self.narrows or self.exclude_ids)


@dataclasses.dataclass(frozen=True, slots=True)  # many live at once: services/recommend/similar_rows.py
class Recommendation:
    book: Book
    score: float
    reason: str


@dataclasses.dataclass(frozen=True)
class RecommendResult:
    items: tuple[Recommendation, ...]
    approach: Approach
    model_version: str
