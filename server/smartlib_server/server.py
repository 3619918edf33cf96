"""The gRPC server: build it (tests bind port 0) separately from running it until SIGTERM."""
from __future__ import annotations

import asyncio
import gc
import logging
import signal

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from smartlib.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    catalog_service_pb2,
    catalog_service_pb2_grpc,
    chat_service_pb2,
    chat_service_pb2_grpc,
    interaction_service_pb2,
    interaction_service_pb2_grpc,
    recommend_service_pb2,
)
from smartlib_server import tracing
from smartlib_server.api import stored_books, tls
from smartlib_server.api.admin_servicer import AdminServicer
from smartlib_server.api.admission import AdmissionInterceptor
from smartlib_server.api.auth_interceptor import auth_interceptor, check_exposure
from smartlib_server.api.chat_servicer import ChatServicer
from smartlib_server.api.errors_interceptor import ErrorInterceptor
from smartlib_server.api.interaction_servicer import InteractionServicer, PersonalizationHandlers
from smartlib_server.api.metrics_interceptor import MetricsInterceptor
from smartlib_server.api.pipeline import CallPipeline, Step
from smartlib_server.api.servicers import CatalogServicer, RecommendServicer, add_recommend_servicer
from smartlib_server.api.tracing_step import TracingStep
from smartlib_server.app import Services, build_services, starter_catalog_path
from smartlib_server.config import Settings
from smartlib_server.metrics import start_metrics_endpoint

log = logging.getLogger(__name__)

CATALOG = catalog_service_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
RECOMMEND = recommend_service_pb2.DESCRIPTOR.services_by_name["RecommendService"].full_name
ADMIN = admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
CHAT = chat_service_pb2.DESCRIPTOR.services_by_name["ChatService"].full_name
INTERACTION = interaction_service_pb2.DESCRIPTOR.services_by_name["InteractionService"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class SmartLibServer:
    """A started-or-not grpc.aio server plus the health servicer that reports per service.

    The same health servicer also answers on `health_server` (port `health_port`), a server
    with nothing else on it and no concurrency cap, so a probe answers however busy the main
    port is: the main server's `maximum_concurrent_rpcs` counts health checks too.
    """

    def __init__(self, server: grpc.aio.Server, port: int, health_servicer: health.aio.HealthServicer, services: Services,
                 health_server: grpc.aio.Server | None = None, health_port: int = 0):
        self.server = server
        self.port = port
        self.health = health_servicer
        self.services = services
        self.health_server = health_server
        self.health_port = health_port

    async def start(self) -> None:
        if self.health_server is not None:
            await self.health_server.start()
        await self.server.start()
        # grpc's default for "" is SERVING; the server as a whole, and what needs the index, is not ready yet.
        for service in ("", RECOMMEND, CHAT, INTERACTION):
            await self.health.set(service, NOT_SERVING)
        await self.health.set(CATALOG, SERVING)
        await self.health.set(ADMIN, SERVING)

    async def mark_ready(self) -> None:
        """Called once the indexes are loaded: Recommend (and the server as a whole) is SERVING."""
        await self.health.set(RECOMMEND, SERVING)
        await self.health.set(CHAT, SERVING)  # the agent answers from the recommendation index
        await self.health.set(INTERACTION, SERVING)  # validation needs the loaded books
        await self.health.set("", SERVING)

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()  # every service reports NOT_SERVING first
        await self.server.stop(grace)
        if self.health_server is not None:
            await self.health_server.stop(0)


def build_server(settings: Settings, services: Services, interceptors: list | None = None) -> SmartLibServer:
    message_limit = settings.max_message_bytes
    check_exposure(settings, services.metrics)  # before binding anything
    # One pipeline runs every call through these steps, outermost first: the span and metrics see what the
    # others decided; extra steps (tests) sit inside admission; other interceptors run inside all.
    extra = interceptors or []
    steps = [TracingStep(), MetricsInterceptor(services.metrics), auth_interceptor(settings),
             AdmissionInterceptor(settings.max_concurrent_rpcs, settings.max_streams,
                                  on_shed=lambda kind: services.metrics.admission_rejected.labels(kind=kind).inc()),
             *[i for i in extra if isinstance(i, Step)], ErrorInterceptor()]
    server = grpc.aio.server(
        interceptors=[CallPipeline(steps), *[i for i in extra if not isinstance(i, Step)]],
        options=[
            ("grpc.max_receive_message_length", message_limit),
            ("grpc.max_send_message_length", message_limit),
            ("grpc.so_reuseport", 0),
        ],
        # A backstop against floods far above what admission control lets through.
        maximum_concurrent_rpcs=8 * settings.max_concurrent_rpcs + settings.max_streams,
    )
    catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(
        CatalogServicer(services.catalog, services.executor, services.caching, services.index), server
    )
    personal = PersonalizationHandlers(
        services.personalization.recommender, services.personalization.experiments, services.executor
    )
    add_recommend_servicer(RecommendServicer(services.recommend, services.executor, services.caching, personal), server)
    admin_service_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(services.admin, services.executor, personal), server)
    interaction_service_pb2_grpc.add_InteractionServiceServicer_to_server(
        InteractionServicer(services.personalization.interactions, services.executor, services.personalization.eraser), server
    )
    chat_service_pb2_grpc.add_ChatServiceServicer_to_server(ChatServicer(services.chat, services.metrics), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [CATALOG, RECOMMEND, ADMIN, CHAT, INTERACTION, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    port = tls.add_port(server, f"{settings.grpc_host}:{settings.grpc_port}", settings)
    if port == 0:
        raise OSError(f"cannot bind {settings.grpc_host}:{settings.grpc_port}")
    # Health alone, with no interceptors and no cap: the probe port. Same TLS as the main port.
    health_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, health_server)
    health_port = tls.add_port(health_server, f"{settings.grpc_host}:{settings.health_port}", settings)
    if health_port == 0:
        raise OSError(f"cannot bind the health port {settings.grpc_host}:{settings.health_port}")
    return SmartLibServer(server, port, health_servicer, services, health_server, health_port)


async def _prepare(app: SmartLibServer, seed_starter: bool, freeze: bool = False) -> None:
    """Seeds the starter catalog into an empty store, then loads the indexes, off the event loop;
    with `freeze`, hands what the start loaded to gc.freeze() before SERVING (see below).

    A failure here leaves RecommendService NOT_SERVING (and logged) instead of killing the server,
    so CatalogService keeps answering and operators can see why.
    """
    services = app.services
    loop = asyncio.get_running_loop()
    try:
        if seed_starter and await loop.run_in_executor(services.executor, services.store.count_books) == 0:
            from smartlib_server.services.ingest import ingest_csv

            log.info("empty catalog: loading the bundled starter catalog")
            report = await loop.run_in_executor(
                services.executor, ingest_csv, services.catalog, starter_catalog_path(), False, services.metrics
            )
            log.info("starter catalog: %s", report.summary())
        # Not SERVING until the indexes are loaded and the embedder is loaded and warm (or
        # TorchServe answered a real inference). The two share nothing, so they run at once: the
        # load is mostly SQLite, numpy and FAISS and the embedder mostly torch's import and its
        # first passes, and one no longer waits for the other (README, Operations).
        await asyncio.gather(loop.run_in_executor(services.executor, services.load), _warm(services))
        books = stored_books.served(services.index)  # read now: no write is applied before SERVING
    except Exception:
        log.exception("preparing the indexes failed; RecommendService stays NOT_SERVING")
        return
    finally:
        if freeze:
            _settle_collector()
    await app.mark_ready()
    if books:  # each book's reply bytes as the last start stored them, read on a worker (api/stored_books.py)
        loop.run_in_executor(services.executor, stored_books.restore_after_start, *books)
    services.follow_changes()


def _settle_collector() -> None:
    """Ends the start's pause of the cyclic garbage collector (cmd_serve and serve() pause it),
    with everything loaded so far frozen first (gc.freeze), whether the load succeeded or not.

    The catalog, indexes and models loaded live as long as the process. Frozen, the collector's
    full passes no longer walk them: at 10k books such a pass cost 73-81 ms of CPU while holding
    the GIL (every request in flight waits) about once every 700 SearchByText calls at c8, and
    1.5-2.5 ms frozen (README, "Performance"); right after the load, SimilarBooks answers in one
    thread cost 160/268/104 us a call in their first three 1000-call batches, 129/89/82 us
    frozen. Paused, the start itself no longer spends 0.1-0.2 s of CPU collecting while it
    allocates them. Reference counting still frees frozen objects; only a cycle among them would
    never be collected, so only serve() freezes, once (tests' in-process servers do not)."""
    gc.freeze()
    gc.enable()


async def _warm(services: Services) -> None:
    loop = asyncio.get_running_loop()
    while not await loop.run_in_executor(services.executor, services.warm_up):
        log.warning("inference is not ready (TorchServe without fallback); RecommendService stays NOT_SERVING")
        await asyncio.sleep(2.0)


async def serve(settings: Settings, seed_starter: bool = False) -> None:
    gc.disable()  # until the load is done: _settle_collector
    tracer_provider = tracing.configure(settings.otlp_endpoint)  # None unless SMARTLIB_OTLP_ENDPOINT is set
    services = build_services(settings)  # on the loop's thread: sets its FAISS threads too (SearchByText scans here)
    app = build_server(settings, services)
    await app.start()
    endpoint = start_metrics_endpoint(settings, services.metrics)  # None when SMARTLIB_METRICS_PORT=0
    log.info("smartlib serving on %s:%d (health alone on port %d)", settings.grpc_host, app.port, app.health_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    prepare = asyncio.create_task(_prepare(app, seed_starter, freeze=True))
    await stop.wait()
    log.info("shutting down (grace %.1fs)", settings.shutdown_grace_s)
    prepare.cancel()
    await app.stop(settings.shutdown_grace_s)
    if endpoint is not None:
        endpoint.close()
    if tracer_provider is not None:
        tracer_provider.shutdown()  # flushes the spans still batched
    services.close()
