"""What a handler is asked to do: an intent label from `LABELS` and the slots it needs.

`interpret.to_request` fills a Request from what `understand()` read (the intent model's
label, the linked entities and their roles); the handler registered for its label in
`handlers.HANDLERS` answers it. Slots hold phrases (a title, an author) as the linker found
them, which handlers resolve against the catalog themselves.
"""
from __future__ import annotations

import dataclasses

# Every label the understanding step may produce; handlers.HANDLERS has one handler for each.
LABELS = (
    "greet", "thanks_bye", "help", "about_book", "who_wrote", "author", "similar", "recommend", "best_rated",
    "series_order", "series_next", "compare", "more", "pick", "why", "reject", "refine", "taste_like",
    "taste_dislike", "memory_show", "memory_forget", "off_topic", "nonsense",
)


@dataclasses.dataclass(frozen=True)
class Request:
    kind: str  # one of LABELS
    subject: str = ""  # a title, author or series phrase, folded
    by: str = ""  # the author the message names beside the subject's title ("X by Y"): that author's book is meant
    genres: tuple[str, ...] = ()  # catalog genre names the ask names
    query: str = ""  # English topic words for a free-text search
    ordinal: int = 0  # a position: in the last list (pick, why) or in a series; -1 is the last; 0 is none
    pairs: tuple[tuple[str, str], ...] = ()  # compare: every way to split "A and B", first split first
    exclude: tuple[str, ...] = ()  # catalog genres to leave out ("no romance")
    sort: str = ""  # "", "rating" ("best rated") or "popular" ("most popular")
    modifier: str = ""  # similar: what should differ ("shorter", "less dark"); refine: "shorter"
    likes: tuple[str, ...] = ()  # genres the message says the reader likes
    dislikes: tuple[str, ...] = ()  # genres the message says the reader dislikes
    shunned: tuple[str, ...] = ()  # authors whose books the ask leaves out ("nothing by Stephen King"), catalog spelling
    read: tuple[str, ...] = ()  # books the reader says they have read ("loved <title>, any other <author>?"): left out
    surprise: bool = False  # "surprise me": vary the pick instead of the top of the list
    confidence: float = 1.0  # how sure the understanding step is of `kind`
