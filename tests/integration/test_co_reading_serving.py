"""The co-reading graph end to end: `smartlib train` ships it beside the encoder, the server loads it
with the version, and RecommendForUser over gRPC brings what readers' lists pair with a liked book."""
from __future__ import annotations

import dataclasses
import json

import grpc
import pytest

from smartlib.v1 import (
    interaction_service_pb2 as ints,
    interaction_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)
from smartlib_server.services.personalization.reasons import title
from tests.conftest import _starter_books_and_vectors

pytestmark = pytest.mark.timeout(900)  # trains an encoder on the starter catalog


def _ref(book) -> dict:
    return {"row": book.list_rank, "title": book.title, "author": book.authors[0]}


@pytest.fixture(scope="module")
def co_read_store(tmp_path_factory, starter_sqlite):
    """(model store, version, the liked book, the books readers' lists pair with it): 30 lists, the
    first pairing a book with three books of other genres and authors."""
    from smartlib_training.pipeline import run_train
    from smartlib_training.train import TrainParams

    books, vectors = _starter_books_and_vectors(starter_sqlite)
    listed = [b for b in books if b.list_rank >= 0 and b.authors]
    liked = listed[0]
    mates = [b for b in listed if b.authors != liked.authors and not set(b.genres[:2]) & set(liked.genres[:2])][-3:]
    folder = tmp_path_factory.mktemp("co_reading")
    lines = [{"query": _ref(liked), "similar": [_ref(b) for b in mates]}]
    lines += [{"query": _ref(listed[i]), "similar": [_ref(listed[i + 1]), _ref(listed[i + 2])]} for i in range(40, 69)]
    path = folder / "similar.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    root = tmp_path_factory.mktemp("model_store")
    version = run_train(books, vectors, root, TrainParams(epochs=2, threads=1, batch_size=64), progress=False,
                        behaviour_path=path).name
    return root, version, liked, mates


def test_the_served_graph_brings_the_books_readers_pair_and_names_why(make_server, starter_settings, co_read_store):
    root, version, liked, mates = co_read_store
    server = make_server(dataclasses.replace(starter_settings, model_store=root, encoder_version=version))
    finetuned = server.services.index.state.finetuned
    assert finetuned.ranker is not None and finetuned.co_reading is not None and finetuned.co_reading.lists == 30
    with grpc.insecure_channel(server.address) as channel:
        record = interaction_service_pb2_grpc.InteractionServiceStub(channel).RecordInteractions
        record(ints.RecordInteractionsRequest(interactions=[
            ints.Interaction(user_id="co-reader", book_id=liked.id, kind=ints.INTERACTION_KIND_LIKE)]))
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel).RecommendForUser
        reply = recommend(rs.RecommendForUserRequest(user_id="co-reader", k=50))
        server.services.index.activate_finetuned(dataclasses.replace(finetuned, co_reading=None))
        without = recommend(rs.RecommendForUserRequest(user_id="co-reader", k=50))
    assert reply.model_version.endswith("+readers")
    reasons = {item.book.id: item.reason for item in reply.items}
    ranks = [[item.book.id for item in r.items] for r in (reply, without)]
    assert liked.id not in ranks[0]

    def place(order, book_id):
        return order.index(book_id) if book_id in order else len(order)
    # The graph the server holds is the lists' (each list one reader), and what it pairs with the
    # liked book rises: none falls, one at least rises and says why. (How far depends on how flat
    # the liked book's reader row is; a 2-epoch encoder on 300 books gives a flat one.)
    assert finetuned.co_reading.rows[liked.id][0] == tuple(sorted(m.id for m in mates))
    moves = [(place(ranks[0], m.id), place(ranks[1], m.id)) for m in mates]
    assert all(now <= before for now, before in moves) and any(now < before for now, before in moves), moves
    risen = next(m for m, (now, before) in zip(mates, moves, strict=True) if now < before)
    # Its reason names the liked book: the co-reading wording when the graph carries most of its
    # score (tests/unit/personalization/test_reader_blend.py), else the row's.
    assert reasons[risen.id] in (f"readers who liked {title(liked)} also liked {title(risen)}",
                                 f"because you liked {title(liked)}"), reasons
