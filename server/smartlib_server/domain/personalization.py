"""Plain data types of personalisation: interactions, experiments and their results. No gRPC here."""
from __future__ import annotations

import dataclasses
from enum import Enum

from smartlib_core.domain import Approach, Recommendation


class InteractionKind(Enum):
    VIEW = "view"
    CLICK = "click"
    LIKE = "like"
    DISLIKE = "dislike"
    RATE = "rate"
    READ = "read"
    DISMISS = "dismiss"


@dataclasses.dataclass(frozen=True)
class InteractionInput:
    """One interaction as a caller sent it; `kind` is an int when it matched no known kind."""

    user_id: str
    book_id: str
    kind: InteractionKind | int
    rating: int = 0
    timestamp_ms: int | None = None  # None: the server's clock
    recommendation_id: str = ""


@dataclasses.dataclass(frozen=True)
class Interaction:
    """A validated interaction: `book_id` is canonical (aliases of merged editions resolved)."""

    user_id: str
    book_id: str
    kind: InteractionKind
    rating: int
    timestamp_ms: int
    recommendation_id: str = ""


@dataclasses.dataclass(frozen=True)
class Rejection:
    index: int
    field: str  # e.g. "interactions[3].book_id"
    description: str


@dataclasses.dataclass(frozen=True)
class RecordOutcome:
    accepted: int
    rejected: tuple[Rejection, ...]


@dataclasses.dataclass(frozen=True)
class BlendWeights:
    """How much each source counts. Popularity fills what the user's history cannot yet support."""

    # Defaults chosen on a tuning seed of the simulation (docs/personalization.md), not the reported one.
    content: float = 0.5
    cf: float = 1.0
    popularity: float = 1.0
    prior: float = 1.0  # how strongly popularity scales the content and CF scores (0: not at all)
    popularity_half_history: float = 3.0  # positive books at which popularity's weight has halved


RANKINGS = ("readers", "blend")  # RecommendForUser's rankings an arm can ask for


@dataclasses.dataclass(frozen=True)
class Arm:
    name: str
    weight: float  # relative traffic share, > 0
    approach: Approach | None = None  # None: the server default (FINETUNED when active)
    cf_weight: float = 1.0
    content_weight: float = 0.5
    ranking: str = ""  # RANKINGS: "" the server default (readers when a ranker is active), else one of them

    @property
    def blend(self) -> BlendWeights:
        return BlendWeights(content=self.content_weight, cf=self.cf_weight)


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    arms: tuple[Arm, ...]
    running: bool = True
    created_at_ms: int = 0
    stopped_at_ms: int | None = None

    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)


@dataclasses.dataclass(frozen=True)
class Assignment:
    """Which experiment arm (if any) serves a user. An empty experiment means no test is running."""

    experiment: str
    arm: Arm


@dataclasses.dataclass(frozen=True)
class RateEstimate:
    rate: float
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class ArmResults:
    name: str
    exposures: int
    clicks: int  # exposures with at least one linked click
    likes: int
    reads: int
    ctr: RateEstimate
    like_rate: RateEstimate


@dataclasses.dataclass(frozen=True)
class ExperimentResults:
    experiment: Experiment
    arms: tuple[ArmResults, ...]
    ctr_p_value: float  # two-sided, first two arms
    like_rate_p_value: float


@dataclasses.dataclass(frozen=True)
class PersonalResult:
    """RecommendForUser's answer: the items plus what is needed to attribute outcomes to it."""

    items: tuple[Recommendation, ...]
    approach: Approach
    model_version: str
    arm: str
    recommendation_id: str
    experiment: str = ""
