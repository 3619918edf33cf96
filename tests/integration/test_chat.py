"""ChatService.Converse over real gRPC on the starter catalog: scripted conversations in English
and Portuguese, follow-ups, cancellation, memory across sessions, bad input, limits and load."""
from __future__ import annotations

import asyncio
import dataclasses
import queue
import shutil
import socket
import threading
import time
import uuid

import grpc
import pytest

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2,
    catalog_service_pb2_grpc,
    chat_service_pb2 as pb,
    chat_service_pb2_grpc,
    recommend_service_pb2,
    recommend_service_pb2_grpc,
)
from smartlib_core.text import split_series
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.app import build_services
from smartlib_server.background import BackgroundServer
from smartlib_server.services.chat.agent import ChatAgent
from smartlib_server.services.chat.llm import LLMConfig, LLMPhraser
from smartlib_server.services.chat.turns import ChatLimits, ChatService


@pytest.fixture
def make_chat_server(inference, starter_settings, tmp_path):
    started: list[BackgroundServer] = []

    def make(limits: ChatLimits = ChatLimits(), memory=None, workers: int | None = None, phraser=None) -> BackgroundServer:
        settings = starter_settings
        if started or workers:  # every server gets its own copy of the catalog
            home = tmp_path / f"home{len(started)}"
            home.mkdir()
            shutil.copy(starter_settings.sqlite_path, home / "catalog.sqlite3")
            settings = dataclasses.replace(starter_settings, home=home, workers=workers or starter_settings.workers)
        services = build_services(settings, inference=inference)
        services.chat.close()  # replaced by one with this test's limits, memory and phraser
        services.chat = ChatService(
            ChatAgent(services.recommend, memory or InProcessConversationMemory()), services.executor, limits, phraser
        )
        server = BackgroundServer(settings, services)
        server.chat = services.chat
        started.append(server)
        server.load()
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def chat_server(make_chat_server) -> BackgroundServer:
    return make_chat_server()


@pytest.fixture
def chat_channel(chat_server):
    with chat_server.channel() as channel:
        yield channel


@dataclasses.dataclass
class Turn:
    events: list[pb.ConverseEvent]

    @property
    def kinds(self) -> list[str]:
        return [e.WhichOneof("kind") for e in self.events]

    @property
    def text(self) -> str:
        return "".join(e.delta.text for e in self.events if e.HasField("delta"))

    @property
    def cards(self) -> list[pb.BookCard]:
        return [e.card for e in self.events if e.HasField("card")]

    @property
    def titles(self) -> list[str]:
        return [c.book.title for c in self.cards]

    @property
    def done(self) -> pb.TurnDone:
        return self.events[-1].done

    @property
    def error(self) -> pb.TurnError:
        return self.events[-1].error


class Conversation:
    """A blocking client for one Converse stream: say() sends a turn and reads until it ends."""

    def __init__(self, channel, session_id: str | None = None, user_id: str = ""):
        self.session_id = session_id or uuid.uuid4().hex
        self.user_id = user_id
        self._requests: queue.Queue = queue.Queue()
        self._events = chat_service_pb2_grpc.ChatServiceStub(channel).Converse(iter(self._requests.get, None))

    def send(self, text: str, language: str = "", session_id: str | None = None) -> None:
        sid = self.session_id if session_id is None else session_id
        self._requests.put(pb.ConverseRequest(turn=pb.UserTurn(session_id=sid, user_id=self.user_id, text=text, language=language)))

    def cancel(self, turn_id: str = "") -> None:
        self._requests.put(pb.ConverseRequest(cancel=pb.CancelTurn(turn_id=turn_id)))

    def raw(self, request: pb.ConverseRequest) -> None:
        self._requests.put(request)

    def next(self) -> pb.ConverseEvent:
        return next(self._events)

    def read_turn(self) -> Turn:
        events = []
        while True:
            event = self.next()
            events.append(event)
            if event.WhichOneof("kind") in ("done", "error"):
                return Turn(events)

    def say(self, text: str, language: str = "") -> Turn:
        self.send(text, language)
        turn = self.read_turn()
        assert turn.kinds[0] == "typing" and turn.kinds[-1] == "done", turn.events[-1]
        return turn

    def close(self) -> None:
        self._requests.put(None)


@pytest.fixture
def converse(chat_channel):
    opened: list[Conversation] = []

    def open_(session_id: str | None = None, user_id: str = "") -> Conversation:
        conversation = Conversation(chat_channel, session_id, user_id)
        opened.append(conversation)
        return conversation

    yield open_
    for conversation in opened:
        conversation.close()


def bare(title: str) -> str:
    return split_series(title)[0]


def _search(channel, title: str) -> books_pb2.Book:
    stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
    return stub.SearchBooks(catalog_service_pb2.SearchBooksRequest(query=title, limit=1)).books[0]


def _assert_grounded(channel, turn: Turn) -> None:
    """Every card is a catalog book exactly as stored, and the text names it."""
    stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
    for card in turn.cards:
        assert stub.GetBook(catalog_service_pb2.GetBookRequest(id=card.book.id)) == card.book
        assert card.reason and card.turn_id == turn.done.turn_id


# -- the four examples, in both languages -----------------------------------------------------

@pytest.mark.parametrize("text, language", [("Tell me about Harry Potter", "en"), ("Me fale sobre Harry Potter", "pt")])
def test_tell_me_about_harry_potter(converse, chat_channel, text, language):
    chat = converse()
    turn = chat.say(text)
    assert turn.done.language == language
    assert turn.titles[:2] == ["Harry Potter and the Philosopher's Stone (Harry Potter, #1)",
                               "Harry Potter and the Chamber of Secrets (Harry Potter, #2)"]
    assert len(turn.cards) == 4 and "J.K. Rowling" in turn.text
    assert ("Which one" in turn.text) if language == "en" else ("Sobre qual" in turn.text)
    _assert_grounded(chat_channel, turn)
    second = chat.say("the second one" if language == "en" else "o segundo")
    assert second.titles == ["Harry Potter and the Chamber of Secrets (Harry Potter, #2)"]
    assert "Hogwarts" in second.text  # the catalog description, quoted
    if language == "pt":
        assert "Da descrição do catálogo (em inglês)" in second.text and "Gêneros:" in second.text


@pytest.mark.parametrize("text, language", [("Books like The Hobbit", "en"), ("Livros parecidos com O Hobbit", "pt")])
def test_books_like_the_hobbit_come_from_the_recommender(converse, chat_channel, text, language):
    turn = converse().say(text)
    assert turn.done.language == language
    hobbit = _search(chat_channel, "The Hobbit")
    stub = recommend_service_pb2_grpc.RecommendServiceStub(chat_channel)
    expected = stub.SimilarBooks(recommend_service_pb2.SimilarBooksRequest(book_id=hobbit.id, k=5))
    assert [c.book.id for c in turn.cards] == [i.book.id for i in expected.items]
    assert hobbit.id not in [c.book.id for c in turn.cards]
    first = turn.cards[0]
    assert first.reason == ("same series: The Lord of the Rings" if language == "en" else "mesma série: The Lord of the Rings")
    for card in turn.cards:
        assert bare(card.book.title) in turn.text
    _assert_grounded(chat_channel, turn)


@pytest.mark.parametrize("text, language", [("Recommend fantasy books", "en"), ("Recomende livros de fantasia", "pt")])
def test_recommend_fantasy_uses_the_same_filter(converse, chat_channel, text, language):
    turn = converse().say(text)
    assert turn.done.language == language
    stub = recommend_service_pb2_grpc.RecommendServiceStub(chat_channel)
    expected = stub.SearchByText(recommend_service_pb2.SearchByTextRequest(
        query="Fantasy", k=5, filter=books_pb2.BookFilter(include_genres=["fantasy"])))
    assert [c.book.id for c in turn.cards] == [i.book.id for i in expected.items]
    assert all("Fantasy" in c.book.genres for c in turn.cards)
    assert ("fantasy" in turn.text) if language == "en" else ("fantasia" in turn.text)
    _assert_grounded(chat_channel, turn)


@pytest.mark.parametrize("text, language", [("Compare Dune and Foundation", "en"), ("Compare Duna e Fundação", "pt")])
def test_compare_dune_and_foundation(converse, chat_channel, text, language):
    turn = converse().say(text)
    assert turn.done.language == language
    assert [bare(t) for t in turn.titles] == ["Dune", "Foundation"]
    lines = turn.text.splitlines()
    if language == "en":
        expected = ["- Authors: Frank Herbert / Isaac Asimov", "- Genres in common:", "- Themes", "- Ratings: 4.28 vs 4.17",
                    "- Length: the catalog has no page counts"]
        assert "Only Dune: fantasy" in turn.text
        assert "religion and prophecy" in turn.text  # "prophecy" is in Dune's description
    else:
        expected = ["- Autores: Frank Herbert / Isaac Asimov", "- Gêneros em comum:", "- Temas", "- Notas: 4,28 x 4,17",
                    "- Tamanho: o catálogo não tem"]
        assert "Só Dune: fantasia" in turn.text
    for prefix in expected:
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)
    _assert_grounded(chat_channel, turn)


# -- follow-ups ---------------------------------------------------------------------------------

def test_follow_ups_in_english(converse, chat_channel):
    chat = converse()
    first = chat.say("Recommend fantasy books")
    shown = [c.book.id for c in first.cards]
    more = chat.say("more")
    assert len(more.cards) == 5 and not set(shown) & {c.book.id for c in more.cards}
    why = chat.say("why?")
    assert not why.cards
    for card in more.cards:
        assert f"{bare(card.book.title)}: {card.reason}" in why.text
    assert "baseline recommender" in why.text  # no fine-tuned encoder in the test catalog
    second = chat.say("the second one")
    assert [c.book.id for c in second.cards] == [more.cards[1].book.id]
    shorter = chat.say("something shorter")
    assert "no page counts" in shorter.text and shorter.cards
    picked = more.cards[1].book
    assert all(len(c.book.description) < len(picked.description) or c.book.genres for c in shorter.cards)
    different = chat.say("not like that")
    seen = {c.book.id for t in (first, more, shorter) for c in t.cards}
    assert different.cards and not seen & {c.book.id for c in different.cards}
    _assert_grounded(chat_channel, different)


def test_follow_ups_in_portuguese(converse):
    chat = converse()
    first = chat.say("Livros parecidos com Duna")
    assert first.done.language == "pt" and "Dune" in first.text
    more = chat.say("mais")
    assert more.done.language == "pt" and not {c.book.id for c in first.cards} & {c.book.id for c in more.cards}
    why = chat.say("por quê?")
    opening, _, reasons = why.text.partition("Veja por que escolhi:")
    assert "Dune" in opening and reasons.strip()  # the ask that made the list, then each book's reason
    different = chat.say("não assim")
    assert different.text.startswith("Entendi, algo diferente.")
    shorter = chat.say("algo mais curto")
    assert "não tem número de páginas" in shorter.text


def test_ambiguous_title_asks_then_the_answer_completes_the_comparison(converse):
    chat = converse()
    question = chat.say("Compare The Girl and Dune")
    assert "could be more than one book" in question.text
    assert {c.book.title for c in question.cards} == {"The Girl with the Dragon Tattoo (Millennium, #1)", "The Girl on the Train"}
    answer = chat.say("the second one")
    assert answer.text.startswith(f"{bare(question.cards[1].book.title)} vs Dune")


def test_typos_and_portuguese_titles_resolve(converse):
    chat = converse()
    assert chat.say("tell me about the hobit").titles == ["The Hobbit (The Lord of the Rings, #0)"]
    assert chat.say("me fale sobre a guerra dos tronos").titles == ["A Game of Thrones (A Song of Ice and Fire, #1)"]
    missing = chat.say("tell me about Zorblax the Unwritten")
    assert "couldn't find" in missing.text and not missing.cards


def test_greeting_and_help(converse):
    chat = converse()
    assert "compare" in chat.say("hello").text.lower()
    assert chat.say("ajuda").text.startswith("Veja o que eu sei fazer")


# -- memory ---------------------------------------------------------------------------------------

def test_returning_user_is_remembered_across_sessions(converse):
    user = f"reader-{uuid.uuid4().hex[:6]}"
    first = converse(user_id=user)
    first.say("Books like Dune")
    first.close()
    later = converse(user_id=user)
    assert "Last time you liked Dune" in later.say("Hi").text
    assert "Da última vez você gostou de Dune" in later.say("Olá").text
    stranger = converse(user_id="someone-else")
    assert "Last time" not in stranger.say("Hi").text


def test_session_context_survives_a_new_stream(converse):
    first = converse()
    listed = first.say("Recommend science fiction books")
    first.close()
    again = converse(session_id=first.session_id)
    assert again.say("the first one").cards[0].book.id == listed.cards[0].book.id


# -- cancellation ---------------------------------------------------------------------------------

def test_cancel_stops_the_running_turn_and_the_stream_goes_on(make_chat_server):
    server = make_chat_server(ChatLimits(chunk_delay_s=0.1))  # paced: a turn takes about a second
    with server.channel() as channel:
        chat = Conversation(channel)
        chat.send("Recommend fantasy books")
        typing = chat.next()
        assert typing.HasField("typing")
        first_delta = chat.next()
        assert first_delta.HasField("delta")
        chat.cancel()
        turn = chat.read_turn()
        assert turn.kinds[-1] == "done" and turn.done.cancelled and turn.done.turn_id == typing.typing.turn_id
        assert "card" not in turn.kinds
        # the cancelled turn left nothing behind, and the stream still works
        chat.cancel()  # nothing running: ignored
        why = chat.say("why?")
        assert not why.done.cancelled and "haven't suggested anything" in why.text
        chat.close()


def test_cancel_for_another_turn_id_is_ignored(make_chat_server):
    server = make_chat_server(ChatLimits(chunk_delay_s=0.01))
    with server.channel() as channel:
        chat = Conversation(channel)
        chat.send("Recommend fantasy books")
        chat.cancel(turn_id="not-this-one")
        turn = chat.read_turn()
        assert not turn.done.cancelled and len(turn.cards) == 5
        chat.close()


# -- bad input and limits -------------------------------------------------------------------------

def test_bad_input_never_kills_the_stream(converse):
    chat = converse()
    for text, language, field in [("", "", "turn.text"), ("   ", "", "turn.text"), ("x" * 2001, "", "turn.text"),
                                  ("y" * 200_000, "", "turn.text"), ("Recommend fantasy books", "fr", "turn.language")]:
        chat.send(text, language)
        turn = chat.read_turn()
        assert turn.kinds == ["error"] and turn.error.code == "INVALID_ARGUMENT", (field, turn.events)
        assert turn.error.message.startswith(field) and turn.error.turn_id == ""
    chat.send("hello", session_id="")
    assert chat.read_turn().error.message.startswith("turn.session_id")
    chat.raw(pb.ConverseRequest())
    assert chat.read_turn().error.code == "INVALID_ARGUMENT"
    chat.cancel()  # no turn running
    french = chat.say("Bonjour, je cherche des livres pour mon fils")
    assert "only speak English and Portuguese" in french.text
    assert chat.say("Books like Dune").cards


def test_a_second_turn_while_one_runs_is_refused(make_chat_server):
    server = make_chat_server(ChatLimits(chunk_delay_s=0.02))
    with server.channel() as channel:
        chat = Conversation(channel)
        chat.send("Recommend fantasy books")
        chat.send("Books like Dune")
        events = []
        while len([e for e in events if e.WhichOneof("kind") in ("done", "error")]) < 2:
            events.append(chat.next())
        errors = [e.error for e in events if e.HasField("error")]
        assert len(errors) == 1 and errors[0].code == "FAILED_PRECONDITION"
        assert [e for e in events if e.HasField("done")][0].done.cancelled is False
        chat.close()


def test_turn_cap_and_idle_timeout(make_chat_server):
    server = make_chat_server(ChatLimits(max_turns_per_stream=2, idle_timeout_s=1.0))
    with server.channel() as channel:
        chat = Conversation(channel)
        chat.say("hi")
        chat.say("help")
        chat.send("hi")
        capped = chat.read_turn()
        assert capped.error.code == "RESOURCE_EXHAUSTED"
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            chat.next()
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert 0.5 < time.monotonic() - started < 5
        chat.close()


def test_open_stream_cap(make_chat_server):
    server = make_chat_server(ChatLimits(max_streams=2))
    with server.channel() as channel:
        first, second = Conversation(channel), Conversation(channel)
        first.say("hi")
        second.say("hi")
        third = Conversation(channel)
        third.send("hi")
        with pytest.raises(grpc.RpcError) as raised:
            third.next()
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        first.close()
        second.close()
        third.close()


# -- load -----------------------------------------------------------------------------------------

async def _conversation(address: str, n: int, ttfe: list[float]) -> list[str]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        call = stub.Converse()
        kinds = []
        # Most turns skip the query encoder (similar books); every tenth stream encodes a query.
        opening = "Recommend fantasy books" if n % 10 == 0 else ("Books like Dune" if n % 2 else "Livros parecidos com O Hobbit")
        for text in (opening, "more"):
            started = time.perf_counter()
            await call.write(pb.ConverseRequest(turn=pb.UserTurn(session_id=f"load-{n}", text=text)))
            first = True
            while True:
                event = await call.read()
                if first:
                    ttfe.append(time.perf_counter() - started)
                    first = False
                kinds.append(event.WhichOneof("kind"))
                if kinds[-1] in ("done", "error"):
                    break
        await call.done_writing()
        return kinds


def test_hundred_concurrent_streams(chat_server):
    ttfe: list[float] = []

    async def main():
        return await asyncio.gather(*(_conversation(chat_server.address, n, ttfe) for n in range(100)))

    started = time.perf_counter()
    results = asyncio.run(main())
    whole = time.perf_counter() - started
    assert len(results) == 100
    for kinds in results:
        assert kinds.count("done") == 2 and "error" not in kinds and kinds.count("card") == 10
        turns = " ".join(kinds).split("done")[:2]
        assert all(turn.split()[0] == "typing" for turn in turns), kinds
    # Typing comes before any blocking work: had it waited behind the other streams' turns, the
    # slowest first event would take most of the run. A share of the run, not seconds, so a
    # loaded host does not fail it (one did at 5.24 s against a fixed 5 s).
    assert max(ttfe) < 0.5 * whole, (max(ttfe), whole)


def test_idle_chat_streams_do_not_starve_unary_rpcs(make_chat_server):
    workers = 2
    server = make_chat_server(ChatLimits(), workers=workers)
    idle_streams = workers * 4
    ready = threading.Barrier(idle_streams + 1)
    release = threading.Event()
    failures: list[BaseException] = []

    def hold_stream(n: int) -> None:
        try:
            with server.channel() as channel:
                chat = Conversation(channel, session_id=f"idle-{n}")
                if n % 2:
                    chat.say("hi")  # half have finished a turn, half never sent anything
                ready.wait(timeout=60)
                release.wait(timeout=60)
                chat.close()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=hold_stream, args=(n,)) for n in range(idle_streams)]
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=60)
        with server.channel() as channel:
            stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
            recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
            for _ in range(10):
                found = stub.SearchBooks(catalog_service_pb2.SearchBooksRequest(query="dune", limit=1), timeout=2)
                recommend.SimilarBooks(recommend_service_pb2.SimilarBooksRequest(book_id=found.books[0].id, k=3), timeout=2)
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures



class SilentModel:
    """An LLM endpoint that accepts connections and never answers; counts the calls waiting on it."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self._held.append(self._socket.accept()[0])
            except OSError:  # closed
                return

    def wait_for_calls(self, count: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self._held) < count:
            assert time.monotonic() < deadline, f"{len(self._held)} of {count} turns reached the model"
            time.sleep(0.01)

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()


def test_a_hung_llm_falls_back_and_never_blocks_unary_rpcs(make_chat_server):
    model = SilentModel()
    phraser = LLMPhraser(LLMConfig(model.url, first_token_timeout_s=8, stall_timeout_s=8))
    server = make_chat_server(ChatLimits(), workers=2, phraser=phraser)
    try:
        with server.channel() as channel:
            chats = [Conversation(channel, session_id=f"llm-{n}") for n in range(6)]
            for chat in chats:
                chat.send("Books like Dune")
            assert all(chat.next().HasField("typing") for chat in chats)
            # Once all six turns wait on the model (before that, their catalog work rightly
            # shares the two workers with any RPC), unary RPCs must complete while the turns
            # still wait: an RPC queued behind them would return only after they gave up on the
            # model, so the order of events is checked, not a wall-clock bound.
            model.wait_for_calls(6)
            stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
            for _ in range(5):
                stub.SearchBooks(catalog_service_pb2.SearchBooksRequest(query="dune", limit=1), timeout=8)
            assert server.chat.llm_fallbacks == 0  # every turn was still waiting on the model meanwhile
            for chat in chats:
                turn = chat.read_turn()
                assert turn.kinds[-1] == "done" and len(turn.cards) == 5
                assert turn.text.startswith("If you liked Dune") or turn.text.startswith("Books like Dune")
                chat.close()
        assert server.chat.llm_fallbacks == 6
    finally:
        phraser.close()
        model.close()
