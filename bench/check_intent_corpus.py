"""Check the chat intent corpus and print its counts per label and language.

Usage: python3 bench/check_intent_corpus.py [--markdown]

Checks: ids unique and shaped <lang>-<intent>-<nnn>, labels in the set, 3 to 6 utterances
per family, placeholders only from the list, no utterance repeated within a language
(exactly, or after folding case, punctuation and spacing), and the family minimums.
Exits 1 on any error.
"""

import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import yaml

CORPUS = Path(__file__).resolve().parents[1] / "server/smartlib_server/services/chat/data/corpus"
LANGS = ("en", "pt")
LABELS = (
    "greet thanks_bye help about_book who_wrote author similar recommend best_rated series_order "
    "series_next compare more pick why reject refine taste_like taste_dislike memory_show "
    "memory_forget off_topic nonsense"
).split()
BIG = {"about_book", "author", "similar", "recommend", "taste_like", "taste_dislike"}
SLOTS = {"TITLE", "AUTHOR", "SERIES", "GENRE", "MOOD", "NUM"}


def fold(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces squeezed: near-exact duplicates meet."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    folded = " ".join(re.sub(r"[^\w{}]+", " ", text).split())
    return folded or text.strip()  # punctuation-only lines ("?!") compare as written


def check(lang: str, errors: list[str]) -> Counter:
    doc = yaml.safe_load((CORPUS / f"intents_{lang}.yaml").read_text(encoding="utf-8"))
    if doc.get("language") != lang:
        errors.append(f"{lang}: language field is {doc.get('language')!r}")
    counts: Counter = Counter()
    seen_ids: set[str] = set()
    seen_text: dict[str, str] = {}
    for fam in doc["families"]:
        fid, intent, utts = fam.get("id"), fam.get("intent"), fam.get("utterances") or []
        if intent not in LABELS:
            errors.append(f"{fid}: unknown intent {intent!r}")
        if fid in seen_ids:
            errors.append(f"{fid}: id repeated")
        seen_ids.add(fid)
        if not re.fullmatch(rf"{lang}-{intent}-\d{{3}}", str(fid)):
            errors.append(f"{fid}: id should be {lang}-{intent}-<nnn>")
        if not 3 <= len(utts) <= 6:
            errors.append(f"{fid}: {len(utts)} utterances, want 3 to 6")
        for u in utts:
            if not isinstance(u, str) or not u.strip():
                errors.append(f"{fid}: empty or non-string utterance {u!r}")
                continue
            for slot in re.findall(r"\{([^}]*)\}", u):
                if slot not in SLOTS:
                    errors.append(f"{fid}: unknown placeholder {{{slot}}} in {u!r}")
            if re.search(r"[{}]", re.sub(r"\{[A-Z]+\}", "", u)):
                errors.append(f"{fid}: stray brace in {u!r}")
            key = fold(u)
            if key in seen_text:
                errors.append(f"{fid}: {u!r} repeats {seen_text[key]}")
            seen_text[key] = fid
        counts[(intent, "families")] += 1
        counts[(intent, "utterances")] += len(utts)
    for label in LABELS:
        need = 35 if label in BIG else 15
        if counts[(label, "families")] < need:
            errors.append(f"{lang}: {label} has {counts[(label, 'families')]} families, want {need}")
    return counts


def main() -> int:
    errors: list[str] = []
    counts: dict[str, Counter] = {}
    for lang in LANGS:
        if (CORPUS / f"intents_{lang}.yaml").exists():
            counts[lang] = check(lang, errors)
        else:
            errors.append(f"{lang}: intents_{lang}.yaml is missing")
            counts[lang] = Counter()
    md = "--markdown" in sys.argv
    if md:
        print("| label | en families | en utterances | pt families | pt utterances |")
        print("|---|---:|---:|---:|---:|")
    else:
        print(f"{'label':<15}{'en fam':>8}{'en utt':>8}{'pt fam':>8}{'pt utt':>8}")
    tot = defaultdict(int)
    for label in LABELS:
        row = []
        for lang in LANGS:
            for kind in ("families", "utterances"):
                n = counts[lang][(label, kind)]
                tot[(lang, kind)] += n
                row.append(n)
        if md:
            print(f"| {label} | " + " | ".join(map(str, row)) + " |")
        else:
            print(f"{label:<15}" + "".join(f"{n:>8}" for n in row))
    row = [tot[(lang, kind)] for lang in LANGS for kind in ("families", "utterances")]
    if md:
        print("| **total** | " + " | ".join(f"**{n}**" for n in row) + " |")
    else:
        print(f"{'total':<15}" + "".join(f"{n:>8}" for n in row))
    for e in errors:
        print("ERROR", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
