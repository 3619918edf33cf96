"""The Python client against the real in-process server, plus tiny servers for the connection
features the real one cannot provoke on demand (UNAVAILABLE for retries, TLS, chat turns).
The asyncio client is in test_async_client.py, RESOURCE_EXHAUSTED retries in test_client_retries.py."""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import grpc
import pandas as pd
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2,
    catalog_service_pb2_grpc,
    chat_service_pb2,
    chat_service_pb2_grpc,
    interaction_service_pb2,
    interaction_service_pb2_grpc,
    recommend_service_pb2,
    recommend_service_pb2_grpc,
)
from smartlib_client import (
    TLS,
    InvalidArgument,
    NotFound,
    SmartLibError,
    SmartLibrary,
    Unauthenticated,
    Unavailable,
)
from smartlib_client.aio import AsyncSmartLibrary
from smartlib_client.frames import RECOMMEND_COLUMNS

REPO = Path(__file__).resolve().parents[2]


# --- the real server (tests/conftest.py: `server`, `make_server`) ---


@pytest.fixture
def lib(server):
    with SmartLibrary(server.address, timeout=30) as client:
        yield client


def test_find_tolerates_typos_and_case(lib):
    found = lib.find("the hobit", limit=3)
    assert "The Hobbit" in found.iloc[0]["title"]
    assert found.iloc[0]["id"].startswith(("gr-", "sl-"))
    assert isinstance(found.iloc[0]["authors"], list)


def test_similar_by_title_equals_similar_by_id(lib):
    hobbit = lib.find("The Hobbit", limit=1).iloc[0]
    by_title = lib.similar("The Hobbit", k=5)
    by_id = lib.similar(hobbit["id"], k=5)
    assert list(by_title.columns) == RECOMMEND_COLUMNS
    assert list(by_title["id"]) == list(by_id["id"])
    assert len(by_title) == 5 and hobbit["id"] not in set(by_title["id"])
    assert list(by_title["rank"]) == [1, 2, 3, 4, 5]
    assert by_title["score"].is_monotonic_decreasing
    assert by_title.attrs["approach"] == "baseline" and by_title.attrs["model_version"]
    assert (by_title["reason"].str.len() > 0).all()


def test_similar_applies_filters(lib):
    unfiltered = lib.similar("The Hobbit", k=10)
    top = unfiltered.iloc[0]
    filtered = lib.similar("The Hobbit", k=10, exclude_ids=[top["id"]], min_avg_rating=4.0)
    assert top["id"] not in set(filtered["id"])
    assert (filtered["avg_rating"] >= 4.0).all()
    fantasy_free = lib.similar("The Hobbit", k=10, exclude_genres=["Fantasy"])
    assert not any("fantasy" in [g.lower() for g in genres] for genres in fantasy_free["genres"])


def test_search_by_text_returns_a_ranked_frame(lib):
    found = lib.search("space opera about galactic empires", k=5)
    assert len(found) == 5 and found["score"].is_monotonic_decreasing
    assert any("Science Fiction" in genres for genres in found["genres"])


def test_book_and_not_found(lib):
    hobbit_id = lib.resolve("The Hobbit")
    book = lib.book(hobbit_id)
    assert book["id"] == hobbit_id and "Tolkien" in " ".join(book["authors"])
    with pytest.raises(NotFound) as err:
        lib.book("gr-999999999999")
    assert err.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(NotFound):
        lib.similar("gr-999999999999", k=3)


def test_invalid_argument_carries_field_violations(lib):
    with pytest.raises(InvalidArgument) as err:
        lib.search("dragons", k=0)
    assert err.value.violations, "the server should name the bad field"
    assert any(field.endswith("k") for field in err.value.violations)
    assert isinstance(err.value, SmartLibError)


def test_upsert_dicts_then_dataframe_is_idempotent(lib):
    books = [
        {"title": "The Lighthouse Cartographer", "authors": ["Ines Varela"], "genres": ["Fantasy", "Adventure"],
         "description": "A mapmaker charts islands that move with the tides.", "avg_rating": 4.1},
        {"title": "Quiet Orbit", "author": "Tomas Reyes", "genres": ["Science Fiction"],
         "description": "A lone engineer keeps a derelict station alive."},
    ]
    first = lib.upsert(books)
    assert list(first["title"]) == ["The Lighthouse Cartographer", "Quiet Orbit"]
    assert first.attrs["created"] == 2
    stored = lib.book(first.iloc[1]["id"])
    assert stored["authors"] == ["Tomas Reyes"] and stored["genres"] == ["Science Fiction"]
    again = lib.upsert(pd.DataFrame(books))
    assert list(again["id"]) == list(first["id"])
    assert again.attrs["unchanged"] == 2 and again.attrs["created"] == 0


class _RecordMetadata(grpc.aio.ServerInterceptor):
    def __init__(self):
        self.seen: list[dict[str, str]] = []

    async def intercept_service(self, continuation, details):
        self.seen.append(dict(details.invocation_metadata or ()))
        return await continuation(details)


def test_token_is_sent_as_bearer_metadata(make_server, starter_settings):
    recorder = _RecordMetadata()
    running = make_server(starter_settings, interceptors=[recorder])
    with SmartLibrary(running.address, token="s3cret") as client:
        client.find("Dune", limit=1)
    assert recorder.seen[-1]["authorization"] == "Bearer s3cret"


def test_chat_against_the_real_server(lib):
    with lib.chat() as chat:
        try:
            reply = chat.ask("Books like The Hobbit")
        except SmartLibError as exc:
            if exc.code == grpc.StatusCode.UNIMPLEMENTED:
                pytest.skip("this server has no ChatService yet")
            raise
    assert reply.text and reply.turn_id
    assert len(reply.cards) > 0


# --- tiny servers for retries, rich errors, TLS and chat semantics ---


class _Flaky(catalog_service_pb2_grpc.CatalogServiceServicer):
    """GetBook and DeleteBook fail UNAVAILABLE (with RetryInfo) `failures` times, then succeed."""

    def __init__(self, failures: int):
        self.failures = failures
        self.attempts = {"GetBook": 0, "DeleteBook": 0}

    async def _maybe_fail(self, method, context):
        self.attempts[method] += 1
        if self.attempts[method] <= self.failures:
            status = status_pb2.Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message="warming up")
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=250_000_000)))
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "warming up",
                trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
            )

    async def GetBook(self, request, context):
        await self._maybe_fail("GetBook", context)
        return books_pb2.Book(id=request.id, title="Dune", authors=["Frank Herbert"])

    async def DeleteBook(self, request, context):
        await self._maybe_fail("DeleteBook", context)
        return catalog_service_pb2.DeleteBookResponse(id=request.id)


class _ScriptedChat(chat_service_pb2_grpc.ChatServiceServicer):
    """Answers every turn with typing, two deltas and a card; "fail" gets a TurnError."""

    async def Converse(self, request_iterator, context):
        n = 0
        async for request in request_iterator:
            if request.WhichOneof("kind") != "turn":
                continue
            n += 1
            turn_id = f"t{n}"
            if request.turn.text == "fail":
                yield chat_service_pb2.ConverseEvent(
                    error=chat_service_pb2.TurnError(code="INVALID_ARGUMENT", message="say more", turn_id=turn_id)
                )
                continue
            yield chat_service_pb2.ConverseEvent(typing=chat_service_pb2.Typing(turn_id=turn_id))
            for part in ("You might like ", "Dune."):
                yield chat_service_pb2.ConverseEvent(delta=chat_service_pb2.TextDelta(text=part, turn_id=turn_id))
            card = chat_service_pb2.BookCard(book=books_pb2.Book(id="gr-1", title="Dune"), reason="classic", turn_id=turn_id)
            yield chat_service_pb2.ConverseEvent(card=card)
            yield chat_service_pb2.ConverseEvent(done=chat_service_pb2.TurnDone(turn_id=turn_id, language="en"))


class _TinyServer:
    """A grpc.aio server on its own event-loop thread, like the conftest's RunningServer."""

    def __init__(self, catalog=None, chat=None, credentials=None, personal=None):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server, self.port = self._run(self._start(catalog, chat, credentials, personal))

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def _start(self, catalog, chat, credentials, personal):
        server = grpc.aio.server()
        if personal:
            interaction_service_pb2_grpc.add_InteractionServiceServicer_to_server(personal, server)
            recommend_service_pb2_grpc.add_RecommendServiceServicer_to_server(personal, server)
        if catalog:
            catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(catalog, server)
        if chat:
            chat_service_pb2_grpc.add_ChatServiceServicer_to_server(chat, server)
        address = "127.0.0.1:0"
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        await server.start()
        return server, port

    def stop(self):
        self._run(self.server.stop(None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def tiny_server():
    started = []

    def start(**kwargs) -> _TinyServer:
        started.append(_TinyServer(**kwargs))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def test_idempotent_calls_are_retried_after_the_retry_info_delay(tiny_server):
    flaky = _Flaky(failures=2)
    server = tiny_server(catalog=flaky)
    with SmartLibrary(f"127.0.0.1:{server.port}", timeout=10) as client:
        assert client.book("gr-1")["title"] == "Dune"
    assert flaky.attempts["GetBook"] == 3  # two UNAVAILABLEs absorbed by the client's retries


def test_round_robin_takes_a_dns_target_in_both_clients(tiny_server):
    # The Kubernetes form, dns:///<headless service>:<port>; here the name resolves to 127.0.0.1.
    # Spreading over several addresses is tests/integration/test_round_robin.py's job.
    server = tiny_server(catalog=_Flaky(failures=0))
    target = f"dns:///localhost:{server.port}"
    with SmartLibrary(target, timeout=10, load_balancing="round_robin") as client:
        assert client.book("gr-1")["title"] == "Dune"

    async def fetch() -> dict:
        async with AsyncSmartLibrary(target, timeout=10, load_balancing="round_robin") as aclient:
            return await aclient.book("gr-1")

    assert asyncio.run(fetch())["title"] == "Dune"
    with pytest.raises(ValueError, match="round_robin"):
        SmartLibrary(target, load_balancing="least_request")


def test_non_idempotent_calls_are_not_retried(tiny_server):
    flaky = _Flaky(failures=1)
    server = tiny_server(catalog=flaky)
    with SmartLibrary(f"127.0.0.1:{server.port}") as client, pytest.raises(Unavailable) as err:
        client.delete("gr-1")
    assert flaky.attempts["DeleteBook"] == 1
    assert err.value.retry_after == pytest.approx(0.25)


def test_retries_stop_at_max_attempts(tiny_server):
    flaky = _Flaky(failures=10)
    server = tiny_server(catalog=flaky)
    with SmartLibrary(f"127.0.0.1:{server.port}", max_attempts=2) as client, pytest.raises(Unavailable):
        client.book("gr-1")
    assert flaky.attempts["GetBook"] == 2


def test_default_deadline_applies(tiny_server):
    class Slow(catalog_service_pb2_grpc.CatalogServiceServicer):
        async def GetBook(self, request, context):
            await asyncio.sleep(5)
            return books_pb2.Book()

    server = tiny_server(catalog=Slow())
    with SmartLibrary(f"127.0.0.1:{server.port}", timeout=0.2) as client, pytest.raises(SmartLibError) as err:
        client.book("gr-1")
    assert err.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_chat_streams_events_and_types_turn_errors(tiny_server):
    server = tiny_server(chat=_ScriptedChat())
    with SmartLibrary(f"127.0.0.1:{server.port}") as client, client.chat(user_id="u1") as chat:
        kinds = [event.kind for event in chat.say("books like dune")]
        assert kinds == ["typing", "delta", "delta", "card", "done"]
        reply = chat.ask("more")
        assert reply.text == "You might like Dune." and reply.turn_id == "t2" and reply.language == "en"
        assert list(reply.cards["title"]) == ["Dune"] and list(reply.cards["reason"]) == ["classic"]
        with pytest.raises(InvalidArgument, match="say more"):
            chat.ask("fail")
        # The stream survives a failed turn.
        assert chat.ask("again").turn_id == "t4"


class _Personal(interaction_service_pb2_grpc.InteractionServiceServicer, recommend_service_pb2_grpc.RecommendServiceServicer):
    """Keeps what it receives; rejects interactions whose book id is "unknown"."""

    def __init__(self):
        self.received: list = []

    async def RecordInteractions(self, request, context):
        self.received.extend(request.interactions)
        rejected = [
            interaction_service_pb2.RejectedInteraction(index=i, field=f"interactions[{i}].book_id", description="unknown book")
            for i, item in enumerate(request.interactions) if item.book_id == "unknown"
        ]
        return interaction_service_pb2.RecordInteractionsResponse(accepted=len(request.interactions) - len(rejected), rejected=rejected)

    async def RecommendForUser(self, request, context):
        self.received.append(request)
        item = books_pb2.RecommendedItem(book=books_pb2.Book(id="gr-7", title="Emma"), score=0.9, reason="because you liked Persuasion")
        return recommend_service_pb2.RecommendResponse(
            items=[item], approach=books_pb2.APPROACH_FINETUNED, model_version="m1", arm="treatment", recommendation_id="rec-1"
        )


def test_for_user_and_record_round_trip(tiny_server):
    personal = _Personal()
    server = tiny_server(personal=personal)
    with SmartLibrary(f"127.0.0.1:{server.port}") as client:
        recs = client.for_user("reader-1", k=3, include_genres=["Classics"])
        assert list(recs["title"]) == ["Emma"]
        assert recs.attrs == {"approach": "finetuned", "model_version": "m1", "arm": "treatment", "recommendation_id": "rec-1"}
        rejected = client.record(pd.DataFrame([
            {"user_id": "reader-1", "book_id": "gr-7", "kind": "click", "recommendation_id": recs.attrs["recommendation_id"]},
            {"user_id": "reader-1", "book_id": "gr-7", "kind": "rate", "rating": 5, "timestamp": 1_700_000_000},
            {"user_id": "reader-1", "book_id": "unknown", "kind": "INTERACTION_KIND_LIKE"},
        ]))
        with pytest.raises(ValueError, match="unknown interaction kind"):
            client.record({"user_id": "u", "book_id": "gr-7", "kind": "adore"})
    request, click, rate, like = personal.received
    assert request.user_id == "reader-1" and request.k == 3 and list(request.filter.include_genres) == ["Classics"]
    assert click.kind == interaction_service_pb2.INTERACTION_KIND_CLICK and click.recommendation_id == "rec-1"
    assert rate.rating == 5 and rate.timestamp.seconds == 1_700_000_000
    assert like.kind == interaction_service_pb2.INTERACTION_KIND_LIKE and not like.HasField("timestamp")
    assert rejected.attrs["accepted"] == 2
    assert rejected.to_dict("records") == [{"index": 2, "field": "interactions[2].book_id", "description": "unknown book"}]


def _make_cert(folder: Path) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a test certificate")
def test_tls_with_a_private_ca(tiny_server, tmp_path):
    key, cert = _make_cert(tmp_path)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    server = tiny_server(catalog=_Flaky(failures=0), credentials=credentials)
    with SmartLibrary(f"localhost:{server.port}", tls=TLS(root_certificates=cert), token="t") as client:
        assert client.book("gr-1")["title"] == "Dune"
    # A plaintext client cannot talk to the TLS port.
    with SmartLibrary(f"localhost:{server.port}", timeout=2, max_attempts=1) as client, pytest.raises(SmartLibError):
        client.book("gr-1")


def test_typed_errors_for_unauthenticated(tiny_server):
    class Locked(catalog_service_pb2_grpc.CatalogServiceServicer):
        async def GetBook(self, request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing bearer token")

    server = tiny_server(catalog=Locked())
    with SmartLibrary(f"127.0.0.1:{server.port}") as client, pytest.raises(Unauthenticated, match="bearer"):
        client.book("gr-1")


# --- packaging ---


def test_client_package_builds_alone_with_three_dependencies(tmp_path):
    """`pip install ./clients` works: build its wheel from a clean copy and read the metadata."""
    source = tmp_path / "clients"
    shutil.copytree(REPO / "clients", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "notebooks"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("smartlib_client-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = Parser().parsestr(zf.read(next(n for n in names if n.endswith("METADATA"))).decode())
    def names_of(requirements):
        return sorted(r.split(">")[0].split("=")[0].strip() for r in requirements)

    required = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert names_of(required) == ["grpcio", "pandas", "protobuf"]
    optional = [r.split(";")[0] for r in metadata.get_all("Requires-Dist") if 'extra == "tracing"' in r]
    assert names_of(optional) == ["opentelemetry-api"]  # tracing is opt-in: `pip install './clients[tracing]'`
    assert {"smartlib_client/client.py", "smartlib_client/aio.py", "smartlib/v1/books_pb2.py", "smartlib/v1/books_pb2.pyi"} <= names
    assert {"smartlib_client/py.typed", "smartlib/py.typed"} <= names  # PEP 561: type checkers read the hints
    declared = tomllib.loads((REPO / "clients" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert len(declared) == 3
    # Built is not enough: the wheel must import with nothing but its requirements. This venv holds
    # the server's packages too (smartlib_core, googleapis-common-protos, opentelemetry), so a
    # child process is allowed only the standard library and what the requirements pull in.
    allowed = _modules_of(required)
    child = subprocess.run([sys.executable, "-c", _ONLY_REQUIREMENTS, str(wheel), json.dumps(sorted(allowed))],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0 and child.stdout.strip() == "imported from the wheel", child.stdout + child.stderr


# Imports smartlib_client (and its asyncio client and stubs) from the wheel with every module
# outside the standard library and the allowed list refused as if not installed.
_ONLY_REQUIREMENTS = """
import importlib.abc, importlib.machinery, json, sys, sysconfig
wheel, allowed = sys.argv[1], set(json.loads(sys.argv[2])) | {"smartlib", "smartlib_client"}
stdlib = tuple({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")})
class Only(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        key = ".".join(parts[:2]) if parts[0] == "google" and len(parts) > 1 else parts[0]
        if parts[0] in sys.stdlib_module_names or name == "google" or key in allowed:
            return None
        found = importlib.machinery.PathFinder.find_spec(name, path)
        if found is not None and found.origin and found.origin.startswith(stdlib) and "-packages" not in found.origin:
            return None  # the standard library's own data modules (_sysconfigdata_*)
        raise ModuleNotFoundError(f"No module named {name!r} (not a requirement of the client)", name=name)
sys.meta_path.insert(0, Only())
sys.path.insert(0, wheel)
import smartlib_client, smartlib_client.aio
from smartlib.v1 import books_pb2, recommend_service_pb2_grpc
assert smartlib_client.__file__.startswith(wheel), smartlib_client.__file__
smartlib_client.SmartLibrary("127.0.0.1:1").close()
print("imported from the wheel")
"""


def _modules_of(requirements: list[str]) -> set[str]:
    """Top-level modules (google.* by subpackage, a namespace many distributions share) of the
    installed distributions `requirements` name, and of theirs in turn."""
    from importlib import metadata

    from packaging.requirements import Requirement

    modules, seen, todo = set(), set(), list(requirements)
    while todo:
        requirement = Requirement(todo.pop())
        name = requirement.name.lower()
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo += metadata.requires(name) or []
        for file in metadata.files(name) or []:
            parts = file.parts
            if parts[0] == ".." or parts[0].endswith((".dist-info", ".libs", ".pth")) or len(parts) > 1 and parts[0] == "bin":
                continue
            top = parts[0].split(".")[0]
            modules.add(f"google.{parts[1].split('.')[0]}" if top == "google" and len(parts) > 1 else top)
    return modules
