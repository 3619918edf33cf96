"""The 7-block embedding layout and embedder now live in smartlib_core; this name stays for the
server's existing imports (training and the handlers import smartlib_core directly)."""
from smartlib_core.embedding import (
    BLOCK_DIM,
    BLOCKS,
    DIM,
    EMBEDDER_ID,
    MODEL_NAME,
    QUERY_BLOCKS,
    QUERY_WEIGHTS,
    MiniLMTextEncoder,
    TextEncoder,
    assemble,
    book_fields,
    fields_hash,
    model_path,
    normalise,
    place_query,
    query_vectors,
    text_view,
)

__all__ = [
    "BLOCK_DIM", "BLOCKS", "DIM", "EMBEDDER_ID", "MODEL_NAME", "QUERY_BLOCKS", "QUERY_WEIGHTS", "MiniLMTextEncoder",
    "TextEncoder", "assemble", "book_fields", "fields_hash", "model_path", "normalise", "place_query", "query_vectors",
    "text_view",
]
