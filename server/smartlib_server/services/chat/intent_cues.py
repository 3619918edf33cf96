"""Cue features for the intent model: what word n-grams and the sentence embedding miss.

MiniLM puts "I love {GENRE}" and "I never get into {GENRE}" close together (same topic, same
shape), and a bag of words sees "get" and "into" in both. These cues name the structure
instead: the polarity of each clause after negation is applied ("can't stand" is a liked
word negated, "don't hate" a disliked one), which slot kinds the message holds and in which
clause, whether a slot follows a "but", list positions, and the sentence's form (question,
first and last word). They are strings, hashed into their own block like the n-grams.

The word lists (data/lexicon/cue_words.yaml, inside the weights' hash) are ours, written for
these cues from how readers talk; they are not the old parser's lists and do not decide
anything alone: the model weighs them.
"""
from __future__ import annotations

import re

from smartlib_core.text import fold
from smartlib_server.services.chat.lexicon import LEXICON_DIR, load_yaml

_CUE_WORDS = load_yaml((LEXICON_DIR / "cue_words.yaml").read_text(encoding="utf-8"))


def _words(meaning: str) -> frozenset[str]:
    """Every language's words for one meaning of data/lexicon/cue_words.yaml."""
    return frozenset(word for words in _CUE_WORDS[meaning].values() for word in words.split())


NEGATORS = _words("negators")  # turn what follows around: "not", "never", "não"
POSITIVE = _words("positive")  # liking words; negated, they dislike ("can't stand")
NEGATIVE = _words("negative")  # disliking words; negated, they like ("don't hate")
CONTRAST = _words("contrast")  # open a clause meant to differ from the one before
ORDINALS = _words("ordinals")
_SLOT = re.compile(r"\{([A-Z]+)\}")
_CLAUSE_BREAK = re.compile(r"[,;.!?:]|\s-\s")
REACH = 3  # a negator governs this many words after it: "don't really like", "não curto muito"


def cues(slotted: str) -> list[str]:
    """The cue strings of one slotted message."""
    raw = slotted.strip()
    out = ["s:q" if raw.endswith("?") or raw.startswith("¿") else "s:nq"]
    clauses = [_words(c) for c in _CLAUSE_BREAK.split(raw)]
    clauses = [c for c in clauses if c]
    words = [w for c in clauses for w in c]
    if words:
        out += [f"s:first:{words[0]}", f"s:last:{words[-1]}", f"s:len:{min(len(words), 8)}"]
    kinds = sorted({w[4:] for w in words if w.startswith("slot")})
    out += [f"k:{k}" for k in kinds] + [f"k:set:{'+'.join(kinds) or 'none'}"]
    out += [f"k:two:{k}" for k in kinds if sum(w == f"slot{k}" for w in words) > 1]
    total = 0
    for clause in _split_contrast(clauses):
        sign = clause_polarity(clause)
        total += sign
        if sign:
            out.append(f"p:clause:{sign:+d}")
            out += [f"p:{sign:+d}:{w[4:]}" for w in clause if w.startswith("slot")]
    out.append(f"p:net:{(total > 0) - (total < 0):+d}")
    contrast = next((i for i, w in enumerate(words) if w in CONTRAST and i > 0), None)
    if contrast is not None:
        out.append("b:contrast")
        out += [f"b:after:{w[4:]}" for w in words[contrast:] if w.startswith("slot")]
    positions = sum(w in ORDINALS for w in words)
    if positions:
        out.append(f"o:{min(positions, 2)}")
    return out


def clause_polarity(words: list[str]) -> int:
    """+1 if the clause likes, -1 if it dislikes, 0 if it says neither or both equally."""
    score = 0
    for i, word in enumerate(words):
        base = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if not base:
            continue
        negated = any(w in NEGATORS for w in words[max(0, i - REACH):i])
        score += -base if negated else base
    return (score > 0) - (score < 0)


def _words(text: str) -> list[str]:
    return fold(_SLOT.sub(lambda m: f" slot{m.group(1).lower()} ", text)).split()


def _split_contrast(clauses: list[list[str]]) -> list[list[str]]:
    """Clauses split again at "but"/"mas", so "I love {GENRE} but hate {GENRE}" is two."""
    out = []
    for clause in clauses:
        part: list[str] = []
        for word in clause:
            if word in CONTRAST and part:
                out.append(part)
                part = []
            part.append(word)
        out.append(part)
    return out
