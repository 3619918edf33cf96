"""gRPC surface of personalisation: InteractionService, RecommendForUser and AdminService's
experiment methods. Thin: unpack, run the plain service on the worker pool, pack."""
from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import Executor

from google.protobuf import timestamp_pb2

from smartlib.v1 import admin_service_pb2, interaction_service_pb2, interaction_service_pb2_grpc
from smartlib_core.errors import InvalidArgument
from smartlib_server.api import wire
from smartlib_server.api.blocking import Blocking
from smartlib_server.api.conversion import approach_from_pb, approach_to_pb, filter_from_pb
from smartlib_server.domain.personalization import (
    Arm,
    Experiment,
    ExperimentResults,
    InteractionInput,
    InteractionKind,
    RateEstimate,
)
from smartlib_server.services.personalization.blend import PersonalRecommender
from smartlib_server.services.personalization.erasure import UserEraser
from smartlib_server.services.personalization.experiments import ExperimentService
from smartlib_server.services.personalization.interactions import InteractionService
from smartlib_server.services.recommend import WouldBlock

_KINDS = {
    interaction_service_pb2.INTERACTION_KIND_VIEW: InteractionKind.VIEW,
    interaction_service_pb2.INTERACTION_KIND_CLICK: InteractionKind.CLICK,
    interaction_service_pb2.INTERACTION_KIND_LIKE: InteractionKind.LIKE,
    interaction_service_pb2.INTERACTION_KIND_DISLIKE: InteractionKind.DISLIKE,
    interaction_service_pb2.INTERACTION_KIND_RATE: InteractionKind.RATE,
    interaction_service_pb2.INTERACTION_KIND_READ: InteractionKind.READ,
    interaction_service_pb2.INTERACTION_KIND_DISMISS: InteractionKind.DISMISS,
}


class InteractionServicer(interaction_service_pb2_grpc.InteractionServiceServicer, Blocking):
    def __init__(self, interactions: InteractionService, executor: Executor, eraser: UserEraser | None = None):
        Blocking.__init__(self, executor)
        self.interactions = interactions
        self.eraser = eraser

    async def ForgetUser(self, request, context):
        # The admin token (or, without one, a loopback caller) is checked by the auth interceptor.
        if self.eraser is None:
            raise NotImplementedError  # UNIMPLEMENTED: this server was built without memory
        report = await self.run(self.eraser.forget_user, request.user_id)
        return interaction_service_pb2.ForgetUserResponse(**dataclasses.asdict(report))

    async def RecordInteractions(self, request, context):
        outcome = await self.run(self.interactions.record, [interaction_from_pb(pb) for pb in request.interactions])
        response = interaction_service_pb2.RecordInteractionsResponse(accepted=outcome.accepted)
        for r in outcome.rejected:
            response.rejected.add(index=r.index, field=r.field, description=r.description)
        return response


class PersonalizationHandlers(Blocking):
    """RecommendForUser and the experiment RPCs, for RecommendServicer and AdminServicer to delegate to."""

    def __init__(self, recommender: PersonalRecommender, experiments: ExperimentService, executor: Executor):
        Blocking.__init__(self, executor)
        self.recommender = recommender
        self.experiments = experiments

    async def RecommendForUser(self, request, context):
        """The encoded RecommendResponse (api/wire.py: each Book's bytes are built once, as for SimilarBooks).

        Answered on the event loop when the user's history and kept ordering answer (no SQL, no
        ranking from scratch): a hand-off to the pool costs more than such an answer. The reply
        still waits for its exposure's commit (a future the group commit resolves)."""
        filt = filter_from_pb(request.filter)
        try:
            result, committed = self.recommender.recommend_now(request.user_id, request.k, filt)
        except WouldBlock:
            return await self.run(self._recommend_for_user, request.user_id, request.k, filt)
        await asyncio.wrap_future(committed)
        return wire.recommend_response(result, arm=result.arm, recommendation_id=result.recommendation_id)

    def _recommend_for_user(self, user_id: str, k: int, filt) -> bytes:
        result = self.recommender.recommend_for_user(user_id, k, filt)
        return wire.recommend_response(result, arm=result.arm, recommendation_id=result.recommendation_id)

    async def CreateExperiment(self, request, context):
        return experiment_to_pb(await self.run(self.experiments.create, experiment_from_pb(request.experiment)))

    async def StopExperiment(self, request, context):
        return experiment_to_pb(await self.run(self.experiments.stop, request.name))

    async def ListExperiments(self, request, context):
        experiments = await self.run(self.experiments.list)
        return admin_service_pb2.ListExperimentsResponse(experiments=[experiment_to_pb(e) for e in experiments])

    async def GetExperimentResults(self, request, context):
        return results_to_pb(await self.run(self.experiments.results, request.name))


# -- conversion ----------------------------------------------------------------------------
def interaction_from_pb(pb: interaction_service_pb2.Interaction) -> InteractionInput:
    timestamp = None
    if pb.HasField("timestamp"):
        timestamp = pb.timestamp.seconds * 1000 + pb.timestamp.nanos // 1_000_000
    return InteractionInput(
        user_id=pb.user_id, book_id=pb.book_id, kind=_KINDS.get(pb.kind, pb.kind), rating=pb.rating,
        timestamp_ms=timestamp, recommendation_id=pb.recommendation_id,
    )


_RANKINGS = {  # proto PersonalRanking -> Arm.ranking
    admin_service_pb2.PERSONAL_RANKING_UNSPECIFIED: "",
    admin_service_pb2.PERSONAL_RANKING_READERS: "readers",
    admin_service_pb2.PERSONAL_RANKING_BLEND: "blend",
}


def experiment_from_pb(pb: admin_service_pb2.Experiment, field: str = "experiment") -> Experiment:
    arms = []
    for i, arm in enumerate(pb.arms):
        approach = approach_from_pb(arm.approach, f"{field}.arms[{i}].approach")
        ranking = _RANKINGS.get(arm.ranking)
        if ranking is None:
            raise InvalidArgument.field(f"{field}.arms[{i}].ranking", f"unknown ranking {arm.ranking}")
        arms.append(Arm(arm.name, arm.weight, approach, arm.cf_weight, arm.content_weight, ranking))
    if not pb.name.strip():
        raise InvalidArgument.field(f"{field}.name", "must not be empty")
    return Experiment(pb.name, tuple(arms))


def experiment_to_pb(experiment: Experiment) -> admin_service_pb2.Experiment:
    pb = admin_service_pb2.Experiment(name=experiment.name, running=experiment.running)
    for arm in experiment.arms:
        pb.arms.add(
            name=arm.name, weight=arm.weight, approach=approach_to_pb(arm.approach) if arm.approach else 0,
            cf_weight=arm.cf_weight, content_weight=arm.content_weight,
            ranking=next(n for n, r in _RANKINGS.items() if r == arm.ranking),
        )
    pb.created_at.CopyFrom(_timestamp(experiment.created_at_ms))
    if experiment.stopped_at_ms is not None:
        pb.stopped_at.CopyFrom(_timestamp(experiment.stopped_at_ms))
    return pb


def results_to_pb(results: ExperimentResults) -> admin_service_pb2.ExperimentResults:
    pb = admin_service_pb2.ExperimentResults(
        experiment=experiment_to_pb(results.experiment),
        ctr_p_value=results.ctr_p_value, like_rate_p_value=results.like_rate_p_value,
    )
    for arm in results.arms:
        pb.arms.add(
            name=arm.name, exposures=arm.exposures, clicks=arm.clicks, likes=arm.likes, reads=arm.reads,
            ctr=_rate(arm.ctr), like_rate=_rate(arm.like_rate),
        )
    return pb


def _rate(rate: RateEstimate) -> admin_service_pb2.RateEstimate:
    return admin_service_pb2.RateEstimate(rate=rate.rate, low=rate.low, high=rate.high)


def _timestamp(ms: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)
