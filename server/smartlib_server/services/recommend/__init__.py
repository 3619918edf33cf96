"""The recommendation engine: SimilarBooks and SearchByText over the in-memory serving index.

- service.py: RecommendService, the use cases the servicers, the chat and personalisation call.
- serving_index.py: the books and FAISS indexes held in memory, kept current by the change log;
  derived_index.py stores what a load derives (text view, neighbour table) beside the model.
- vector_index.py: a FAISS index keyed by book id; neighbour_table.py keeps its exact top-100.
- similar_rows.py, reader_rows.py, row_warmer.py: SimilarBooks rows kept per book, ranked by the
  encoder's reader ranker, and built ahead of requests.
"""
from smartlib_server.services.recommend.service import RecommendService, TextAsk, WouldBlock

__all__ = ["RecommendService", "TextAsk", "WouldBlock"]
