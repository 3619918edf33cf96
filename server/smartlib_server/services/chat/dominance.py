"""When one of several catalog names that share the reader's words is what the reader means.

A librarian answers at once when one book or author is what nearly everybody means by the words
("the hobbit", "tolkien") and asks when another is a real alternative ("collins": Suzanne or
Wilkie?). Two counts decide: how much more the most-read candidate is read than the next (a
ratio), and whether the next is itself widely read (an absolute count). A classic read by a
quarter of a million people is somebody a reader may mean, however many more read the
bestseller beside it. The linker (surnames alone) and the resolver (same-titled books, authors)
share this rule.
"""
from __future__ import annotations

# Ratings a name needs before the reader's own lowercase words are taken for it ("pratchett").
WELL_READ = 10_000
# The most-read candidate must have this many times the ratings of the next...
DOMINANCE = 10.0
# ...and the next must have fewer ratings than this: a second candidate this widely read is one a
# reader may well mean ("Wilkie Collins", 238k; "Richard Adams", 468k), while "Into the Wild"'s
# Warriors namesake (96k beside Krakauer's 1.04M) or Ryū Murakami (66k) are not.
WIDELY_READ = 150_000


def stands_out(first: int, second: int) -> bool:
    """Whether a candidate read `first` times is what a reader means over one read `second` times."""
    return first >= DOMINANCE * max(second, 1) and second < WIDELY_READ
