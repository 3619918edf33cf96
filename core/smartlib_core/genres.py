"""Genre shelves too broad to say anything about a book: nearly every book of the catalog carries
one of them. Chat leaves them out when it names a book's genres; personalisation leaves them out
when it learns which genres a reader favours, except the ones that still tell a taste apart."""
from __future__ import annotations

GENERIC_GENRES = frozenset({
    "Fiction", "Nonfiction", "Classics", "Literature", "Novels", "Adult", "Adult Fiction", "Audiobook",
})
# Lower-cased genre keys for taste profiles: a reader of classics or literature differs from one of
# thrillers, so those two stay signals there (the simulated evaluation in docs/personalization.md
# was measured so).
TASTE_GENERIC_KEYS = frozenset(g.lower() for g in GENERIC_GENRES) - {"classics", "literature"}
