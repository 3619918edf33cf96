"""Model and knowledge-base versions: list, activate with validation off to the side, roll back.

Activation never touches what is serving until the candidate has passed its checks
(integrity, dimensions, counts, canary queries); then one reference is swapped. A failed
activation leaves the previous version serving.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from smartlib_core import atomic, encoder_versions as artifacts
from smartlib_core.co_reading import load_co_reading
from smartlib_core.domain import Book
from smartlib_core.embedding import DIM, EMBEDDER_ID
from smartlib_core.errors import ConfigError, FailedPrecondition, InvalidArgument, NotFound
from smartlib_core.popularity import popularity_prior
from smartlib_core.quality_gate import refusal, shortfalls
from smartlib_core.reader_ranking import ReaderRanker
from smartlib_server.config import Settings
from smartlib_server.services.recommend.serving_index import (
    FinetunedModel,
    ServingIndex,
    ServingState,
    baseline_index,
    text_view_index,
    with_index,
)
from smartlib_server.services.recommend.vector_index import VectorIndex

log = logging.getLogger(__name__)

ENCODER, KNOWLEDGE_BASE = "encoder", "knowledge_base"
CANARIES = 5
CANARY_WINDOW = 10  # neighbours fetched per canary, to tell a duplicate from a collapse


@dataclasses.dataclass(frozen=True)
class VersionInfo:
    kind: str
    version: str
    created_at: str
    active: bool
    metrics: dict[str, float]


class VersionManager:
    def __init__(self, settings: Settings, index: ServingIndex, inference):
        self.settings = settings
        self.index = index
        self.inference = inference
        self.encoder_root = Path(settings.model_store) / "encoder"
        self.kb_root = Path(settings.home) / "kb"
        self.pointer = Path(settings.home) / "active_encoder.json"
        self.active_kb = ""
        self._refused: set[str] = set()

    # -- listing ---------------------------------------------------------------------------
    def list_versions(self, kind: str | None) -> list[VersionInfo]:
        out: list[VersionInfo] = []
        if kind in (None, ENCODER):
            active = self.index.finetuned.version if self.index.finetuned else ""
            for version in reversed(artifacts.list_versions(self.settings.model_store)):
                try:
                    manifest = artifacts.read_manifest(self.encoder_root / version)
                except artifacts.ArtifactIntegrityError:
                    continue  # unreadable: listing is not the place to fail; activation will say why
                metrics = _flat_metrics(manifest.get("metrics", {}))
                out.append(VersionInfo(ENCODER, version, str(manifest.get("created_at", "")), version == active, metrics))
        if kind in (None, KNOWLEDGE_BASE):
            from smartlib_server.artifacts import knowledge_base as kb

            for info in sorted(kb.list_kbs(self.kb_root), key=lambda i: i.created_at, reverse=True):
                out.append(VersionInfo(KNOWLEDGE_BASE, info.version, info.created_at, info.version == self.active_kb, {}))
        return out

    # -- encoders --------------------------------------------------------------------------
    def load_encoder(self, version: str) -> FinetunedModel:
        """Verifies and loads an encoder version and indexes every stored book with it (not yet serving)."""
        ids, raw = self.index.store.load_vectors(EMBEDDER_ID)
        return with_index(self.verified_encoder(version), ids, raw, self.index.books, self.index.index_kind, self.index.derived)

    def verified_encoder(self, version: str) -> FinetunedModel:
        """Verifies and loads an encoder version, without indexing anything yet."""
        if not version or len(version) > 128 or Path(version).name != version or version.startswith("."):
            raise InvalidArgument.field("version", "must be a version name from ListVersions")
        directory = self.encoder_root / version
        if not directory.is_dir():
            raise NotFound(f"no encoder version {version!r} in {self.encoder_root}")
        try:
            model, manifest = artifacts.verified_weights(directory)  # numpy: torch only if something asks
        except artifacts.ArtifactIntegrityError as exc:
            raise FailedPrecondition(f"encoder {version} refused: {exc}") from None
        try:  # TorchServe serves the archive of this version; in-process runs `model` itself
            encode = self.inference.for_encoder(version, model).encode
        except ConfigError as exc:
            raise FailedPrecondition(str(exc)) from None
        ranking = manifest.get("ranking", {})
        weight = float(ranking.get("popularity_weight", 0.0))
        try:
            ranker = ReaderRanker.from_dict(ranking["reader_ranker"]) if "reader_ranker" in ranking else None
        except (ValueError, KeyError, TypeError) as exc:
            raise FailedPrecondition(f"encoder {version} refused: its reader ranker is unusable ({exc})") from None
        try:
            co_reading = load_co_reading(directory)
        except ValueError as exc:
            raise FailedPrecondition(f"encoder {version} refused: its co-reading graph is unusable ({exc})") from None
        return FinetunedModel(
            version=version, encode=encode, index=VectorIndex(256), popularity_weight=weight,
            prior=lambda book: popularity_prior(book.list_rank, book.num_ratings),
            fingerprint=f"{self.inference.backend}:{sha}" if (sha := manifest.get("manifest_sha256")) else "",
            ranker=ranker, co_reading=co_reading,
        )

    def check_gate(self, version: str, force: bool = False) -> bool:
        """Refuses (FailedPrecondition) a candidate whose quality figures fall short of the active
        version's (smartlib_core.quality_gate); with `force` lets it through and returns True when
        the gate was overridden, so the caller can count it. Rollback and replicas following an
        activation skip the gate: both restore a choice that was already made."""
        active = self.index.finetuned.version if self.index.finetuned else ""
        if not active or active == version:
            return False
        self.verified_encoder(version)  # an unknown or broken version fails here with its own reason
        try:
            candidate_manifest = artifacts.read_manifest(self.encoder_root / version)
            active_manifest = artifacts.read_manifest(self.encoder_root / active)
        except artifacts.ArtifactIntegrityError:
            return False  # the active one was removed or damaged on disk: nothing to compare with
        found = shortfalls(candidate_manifest, active_manifest)
        if found and not force:
            raise FailedPrecondition(refusal(version, active, found, "call ActivateVersion with force=true"))
        if found:
            log.warning("quality gate overridden (force=true): %s",
                        "; ".join(s.describe(version, active) for s in found))
        return bool(found)

    def activate_encoder(self, version: str, publish: bool = True) -> tuple[str, str]:
        """Loads, checks and swaps in an encoder; returns (new version, previous version).

        With `publish`, the choice is recorded in the catalog store, where other replicas that
        share it pick it up (see follow_active).
        """
        started = time.perf_counter()
        candidate = self.load_encoder(version)
        _canary(candidate.index, self.index.state.baseline, self.index.state.books)
        previous = self.index.activate_finetuned(candidate)
        history = self._history()
        if previous is not None and previous.version != version:
            history = [previous.version, *[v for v in history if v != previous.version]]
        atomic.write_pointer(self.pointer, version, history[:20])
        if publish:
            self.index.store.set_active_version(ENCODER, version)
        log.info("encoder %s active (%.1fs); previous %s", version, time.perf_counter() - started, previous and previous.version)
        return version, previous.version if previous else ""

    def follow_active(self) -> None:
        """Serves the encoder another replica activated, once it exists here and verifies."""
        wanted = self.index.store.active_versions().get(ENCODER, "")
        current = self.index.finetuned.version if self.index.finetuned else ""
        if not wanted or wanted == current or wanted in self._refused:
            return
        try:
            self.activate_encoder(wanted, publish=False)
        except (FailedPrecondition, NotFound, InvalidArgument) as exc:
            self._refused.add(wanted)  # say it once, keep serving what we have
            log.warning("not following activation of encoder %s: %s", wanted, exc.message)

    def rollback_encoder(self) -> tuple[str, str]:
        current = self.index.finetuned.version if self.index.finetuned else ""
        for version in self._history():
            if version != current and (self.encoder_root / version).is_dir():
                return self.activate_encoder(version)
        raise FailedPrecondition("no earlier encoder version to roll back to")

    def _history(self) -> list[str]:
        pointer = atomic.read_pointer(self.pointer)
        return pointer[1] if pointer else []

    def startup_encoder(self) -> FinetunedModel | None:
        """The encoder to serve at start: the configured, last activated, or newest valid version.

        A version that fails its checks is skipped with a log line, never served.
        """
        if not self.encoder_root.is_dir():
            return None  # nothing trained yet: BASELINE only
        pointer = atomic.read_pointer(self.pointer)
        wanted = [self.settings.encoder_version] if self.settings.encoder_version else []
        published = self.index.store.active_versions().get(ENCODER)
        if published:
            wanted.append(published)
        if pointer:
            wanted.append(pointer[0])
        wanted += list(reversed(artifacts.list_versions(self.settings.model_store)))
        for version in dict.fromkeys(wanted):
            try:
                return self.verified_encoder(version)
            except (FailedPrecondition, NotFound, InvalidArgument) as exc:
                log.warning("not serving encoder %s: %s", version, exc.message)
        return None

    # -- knowledge bases -------------------------------------------------------------------
    def activate_kb(self, version: str) -> tuple[str, str]:
        """Serves a knowledge-base snapshot, then replays catalog changes made after it."""
        from smartlib_server.artifacts import knowledge_base as kb

        loaded = kb.load_kb(self.kb_root, version)
        if loaded.manifest.get("embedder_id") != EMBEDDER_ID or DIM not in loaded.vectors:
            raise FailedPrecondition(f"knowledge base {version} was built with another embedder; rebuild it")
        raw = loaded.vectors[DIM]
        books = self.index.store.get_books(loaded.ids)
        ids = [i for i in loaded.ids if i in books]
        rows = [n for n, i in enumerate(loaded.ids) if i in books]
        baseline = baseline_index(ids, raw[rows], self.index.index_kind)
        finetuned = self.index.finetuned
        if finetuned is not None:
            finetuned = with_index(finetuned, ids, raw[rows], books, self.index.index_kind)
        view = text_view_index(baseline, self.index.index_kind)
        state = ServingState(dict(books), baseline, finetuned, source=f"kb:{version}", text_view=view)
        _canary(finetuned.index if finetuned else baseline, baseline, state.books)
        self.index.swap(state, seq=int(loaded.manifest.get("catalog_version", 0)))
        previous, self.active_kb = self.active_kb, version
        kb.activate(self.kb_root, version)
        return version, previous

    def rollback_kb(self) -> tuple[str, str]:
        from smartlib_core import atomic as at
        from smartlib_server.artifacts import knowledge_base as kb

        pointer = at.read_pointer(self.kb_root / kb.POINTER)
        history = pointer[1] if pointer else []
        for version in history:
            if version != self.active_kb and (self.kb_root / version).is_dir():
                return self.activate_kb(version)
        raise FailedPrecondition("no earlier knowledge base to roll back to")


def _canary(candidate: VectorIndex, baseline: VectorIndex, books: dict[str, Book]) -> None:
    """A candidate must index every served book and find each canary book as its own nearest neighbour."""
    if len(candidate) != len(baseline):
        raise FailedPrecondition(f"candidate index holds {len(candidate)} books, the catalog {len(baseline)}")
    ids = sorted(books)[:: max(1, len(books) // CANARIES)][:CANARIES]
    for book_id in ids:
        vector = candidate.vector(book_id)
        if vector is None or not np.all(np.isfinite(vector)):
            raise FailedPrecondition(f"canary {book_id}: no finite vector in the candidate index")
        hits = candidate.search(vector, CANARY_WINDOW)[0]
        top = hits[0][1] if hits else float("-inf")
        # Identity, not score: a collapsed encoder maps every book to one vector, so each canary
        # finds some book at 1.0. Exact duplicates may tie with the canary for first place, but a
        # tie that fills the whole window is a collapse.
        tied = [hit for hit, score in hits if score >= top - 1e-6]
        if top < 0.99 or book_id not in tied or (len(hits) > 1 and len(tied) == len(hits)):
            raise FailedPrecondition(
                f"canary {book_id}: nearest neighbours are {hits[:3]}, expected the book itself first"
            )


def _flat_metrics(metrics: dict) -> dict[str, float]:
    """Headline numbers for ListVersions: nested metric tables flattened to 'approach/metric'."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            flat[key] = float(value)
        elif isinstance(value, dict):
            for inner, number in value.items():
                if isinstance(number, (int, float)):
                    flat[f"{key}/{inner}"] = float(number)
    return flat
