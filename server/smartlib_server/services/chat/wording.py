"""The built-in generator's wording, in English and Portuguese.

Every sentence is built from catalog fields (titles, authors, genres, ratings, descriptions,
series) or from what the recommender returned; nothing here states a fact of its own.
Descriptions stay in English: the catalog has no Portuguese ones, and the Portuguese answer
says so rather than inventing a translation.
"""
from __future__ import annotations

import random
import re
from collections.abc import Sequence

from smartlib_core.genres import GENERIC_GENRES  # noqa: F401  (also read as wording.GENERIC_GENRES)
from smartlib_core.domain import Book
from smartlib_server.services.chat.lexicon import genre_label
from smartlib_core.text import split_series

_NUMBERS_PT = {1: "um", 2: "dois", 3: "três", 4: "quatro", 5: "cinco", 6: "seis", 7: "sete", 8: "oito"}
_NUMBERS_EN = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def title(book: Book) -> str:
    return split_series(book.title)[0]


def byline(book: Book, language: str) -> str:
    joiner = " e " if language == "pt" else " and "
    authors = list(book.authors)
    names = authors[0] if len(authors) == 1 else ", ".join(authors[:-1]) + joiner + authors[-1]
    return f"{title(book)} {'de' if language == 'pt' else 'by'} {names}"


def count(n: int, language: str) -> str:
    return (_NUMBERS_PT if language == "pt" else _NUMBERS_EN).get(n, str(n))


def rating(book: Book, language: str) -> str:
    if not book.avg_rating:
        return ""
    value = f"{book.avg_rating:.2f}"
    return value.replace(".", ",") if language == "pt" else value


def genres(book: Book, language: str, limit: int = 3, specific: bool = True) -> str:
    names = [g for g in book.genres if not specific or g not in GENERIC_GENRES] or list(book.genres)
    return join([genre_label(g, language) for g in names[:limit]], language)


def join(items: Sequence[str], language: str) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + (" e " if language == "pt" else " and ") + items[-1]


def series_note(book: Book, language: str) -> str:
    if not book.series_name:
        return ""
    if book.series_position:
        if language == "pt":
            return f"livro {book.series_position} da série {book.series_name}"
        article = "" if book.series_name.lower().startswith("the ") else "the "
        return f"book {book.series_position} of {article}{book.series_name} series"
    return f"parte de {book.series_name}" if language == "pt" else f"part of {book.series_name}"


# (pattern, Portuguese template, whether the captured text is a list of genres to translate)
_REASONS = [
    (re.compile(r"^same series: (.+)$"), "mesma série: {0}", False),
    (re.compile(r"^same author: (.+)$"), "mesmo autor: {0}", False),
    (re.compile(r"^shares genres: (.+)$"), "gêneros em comum: {0}", True),
    (re.compile(r"^matches (.+)$"), "combina com {0}", True),
    (re.compile(r"^close to your description \((.+)\)$"), "próximo do que você descreveu ({0})", True),
    (re.compile(r"^close to your description$"), "próximo do que você descreveu", False),
    (re.compile(r"^similar description and themes$"), "descrição e temas parecidos", False),
]


def reason(text: str, language: str) -> str:
    """The recommender explains in English; this renders its fixed phrases in Portuguese."""
    if language != "pt":
        return text
    for pattern, template, genre_list in _REASONS:
        match = pattern.match(text)
        if match:
            args = [_genre_list_pt(g) if genre_list else g for g in match.groups()]
            return template.format(*args)
    return text


def _genre_list_pt(text: str) -> str:
    return ", ".join(genre_label(part.strip(), "pt") for part in text.split(","))


def numbered(items: Sequence[tuple[Book, str]], language: str) -> str:
    lines = []
    for position, (book, why) in enumerate(items, 1):
        stars = rating(book, language)
        extra = f", {stars}★" if stars else ""
        lines.append(f"{position}. {byline(book, language)}{extra} ({reason(why, language)})")
    return "\n".join(lines)


class Phrasebook:
    """Picks among equivalent phrasings so a conversation does not repeat itself word for word."""

    def __init__(self, language: str, seed: str):
        self.language = language
        self._rng = random.Random(seed)

    def pick(self, en: Sequence[str], pt: Sequence[str]) -> str:
        options = pt if self.language == "pt" else en
        return options[self._rng.randrange(len(options))]

    def say(self, en: str, pt: str) -> str:
        return pt if self.language == "pt" else en


# -- whole answers -------------------------------------------------------------------------------

def greeting(p: Phrasebook, liked: Sequence[Book], genres_seen: Sequence[str]) -> str:
    if liked:
        names = join([title(b) for b in liked[:2]], p.language)
        return p.pick(
            [f"Welcome back! Last time you liked {names}. Want more in that vein, or something different today?",
             f"Good to see you again. Last time you liked {names}; shall I find more like it, or try something new?"],
            [f"Que bom te ver de novo! Da última vez você gostou de {names}. Quer mais nessa linha ou algo diferente hoje?",
             f"Bem-vindo de volta! Da última vez você gostou de {names}; procuro mais parecidos ou tentamos algo novo?"],
        )
    if genres_seen:
        names = join([genre_label(g, p.language) for g in genres_seen[:2]], p.language)
        return p.say(
            f"Welcome back! Last time we talked about {names}. What are you in the mood for today?",
            f"Bem-vindo de volta! Da última vez falamos de {names}. O que você quer ler hoje?",
        )
    return p.pick(
        ["Hi! I'm the Smart Library agent. Ask me about a book or an author, for books like one you loved, "
         "for recommendations by genre or mood, or to compare two books.",
         "Hello! I can tell you about books in the catalog, find books like one you enjoyed, recommend by "
         "genre or mood, and compare two titles. What are you looking for?"],
        ["Olá! Sou o agente da Smart Library. Posso falar sobre um livro ou autor, achar livros parecidos com um "
         "que você adorou, recomendar por gênero ou clima, ou comparar dois livros.",
         "Oi! Posso contar sobre livros do catálogo, encontrar livros parecidos com um que você curtiu, recomendar "
         "por gênero ou clima e comparar dois títulos. O que você procura?"],
    )


def help_text(p: Phrasebook) -> str:
    return p.say(
        "Here is what I can do:\n"
        "- Tell me about Dune (a book, a series or an author)\n"
        "- Books like The Hobbit\n"
        "- Recommend fantasy books (or a mood: \"something dark and funny\")\n"
        "- Compare Dune and Foundation\n"
        "- Books by Stephen King · Harry Potter in order · what comes after #2?\n"
        "- Something like Dune but shorter · fantasy but no romance · best rated science fiction\n"
        "- Tell me what you love and hate (\"I love fantasy, I hate romance\"); ask \"what do you know about me?\" or \"forget what I like\"\n"
        "After a list you can say \"more\", \"something shorter\", \"the second one\", \"why?\" or \"not like that\".",
        "Veja o que eu sei fazer:\n"
        "- Me fale sobre Duna (um livro, uma série ou um autor)\n"
        "- Livros parecidos com O Hobbit\n"
        "- Recomende livros de fantasia (ou um clima: \"algo sombrio e divertido\")\n"
        "- Compare Duna e Fundação\n"
        "- Livros do Stephen King · Harry Potter em ordem · qual vem depois do 2?\n"
        "- Algo parecido com Duna, mas mais curto · fantasia sem romance · ficção científica mais bem avaliada\n"
        "- Conte do que gosta e do que não gosta (\"adoro fantasia, odeio romance\"); pergunte \"o que você sabe de mim?\" ou diga \"esqueça o que eu gosto\"\n"
        "Depois de uma lista, diga \"mais\", \"algo mais curto\", \"o segundo\", \"por quê?\" ou \"não assim\".",
    )


def about_book(p: Phrasebook, book: Book, siblings: Sequence[Book]) -> str:
    parts = [p.say(f"{byline(book, 'en')}.", f"{byline(book, 'pt')}.")]
    facts = []
    note = series_note(book, p.language)
    if note:
        facts.append(note[0].upper() + note[1:])
    if book.genres:
        facts.append(p.say(f"Genres: {genres(book, 'en', 4, specific=False)}", f"Gêneros: {genres(book, 'pt', 4, specific=False)}"))
    stars = rating(book, p.language)
    if stars:
        votes = f" ({book.num_ratings:,} ratings)" if book.num_ratings and p.language == "en" else (
            f" ({book.num_ratings:,} avaliações)".replace(",", ".") if book.num_ratings else "")
        facts.append(p.say(f"Average rating {stars} out of 5{votes}", f"Nota média {stars} de 5{votes}"))
    if facts:
        parts.append(". ".join(facts) + ".")
    if book.description:
        parts.append(p.say(book.description, f"Da descrição do catálogo (em inglês): {book.description}"))
    others = [b for b in siblings if b.id != book.id]
    if others:
        names = join([title(b) for b in others[:4]], p.language)
        parts.append(p.say(f"The catalog also has {names} from the same series.",
                           f"O catálogo também tem {names}, da mesma série."))
    parts.append(p.pick(
        ["Want books like it, or a comparison with another title?", "Shall I find similar books?"],
        ["Quer livros parecidos ou uma comparação com outro título?", "Procuro livros parecidos?"],
    ))
    return "\n\n".join(parts)


def about_series(p: Phrasebook, name: str, books: Sequence[Book]) -> str:
    authors = join(list(dict.fromkeys(a for b in books for a in b.authors[:1])), p.language)
    listed = "\n".join(f"{i}. {title(b)}" + (f" (#{b.series_position})" if b.series_position else "") +
                       (f", {rating(b, p.language)}★" if b.avg_rating else "") for i, b in enumerate(books, 1))
    head = p.say(
        f"{name} is a series by {authors}; the catalog has {count(len(books), 'en')} of its books:",
        f"{name} é uma série de {authors}; o catálogo tem {count(len(books), 'pt')} livros dela:",
    )
    first = books[0]
    lead = p.say(f"It starts with {title(first)}: {first.description}",
                 f"Ela começa com {title(first)}. Da descrição do catálogo (em inglês): {first.description}") if first.description else ""
    ask = p.say("Which one would you like to hear about? You can say \"the second one\".",
                "Sobre qual deles você quer saber mais? Pode dizer \"o segundo\", por exemplo.")
    return "\n\n".join(x for x in (f"{head}\n{listed}", lead, ask) if x)


def about_author(p: Phrasebook, name: str, books: Sequence[Book]) -> str:
    top = books[:6]
    genre_names = common_genres(top, p.language)
    listed = "\n".join(f"{i}. {title(b)}" + (f", {rating(b, p.language)}★" if b.avg_rating else "") for i, b in enumerate(top, 1))
    head = p.say(
        f"The catalog has {count(len(books), 'en')} book{'s' if len(books) != 1 else ''} by {name}"
        + (f", mostly {genre_names}" if genre_names else "") + ":",
        f"O catálogo tem {count(len(books), 'pt')} livro{'s' if len(books) != 1 else ''} de {name}"
        + (f", principalmente {genre_names}" if genre_names else "") + ":",
    )
    ask = p.say("Want to hear about one of them, or books like them?", "Quer saber mais sobre algum deles ou ver livros parecidos?")
    return f"{head}\n{listed}\n\n{ask}"


def ambiguous(p: Phrasebook, phrase: str, books: Sequence[Book]) -> str:
    listed = "\n".join(f"{i}. {byline(b, p.language)}{_standing(b, p.language)}" for i, b in enumerate(books, 1))
    return p.pick(
        [f"\"{phrase}\" could be more than one book. Which did you mean?\n{listed}\nSay \"the first one\", \"the second one\" or the full title."],
        [f"\"{phrase}\" pode ser mais de um livro. Qual você quis dizer?\n{listed}\nDiga \"o primeiro\", \"o segundo\" ou o título completo."],
    )


def _standing(book: Book, language: str) -> str:
    """' (4.28★, 3,662,325 ratings)': what tells two same-titled books apart (no years in the catalog)."""
    stars = rating(book, language)
    if not stars:
        return ""
    if not book.num_ratings:
        return f" ({stars}★)"
    votes = f"{book.num_ratings:,}".replace(",", "." if language == "pt" else ",")
    return f" ({stars}★, {votes} {'avaliações' if language == 'pt' else 'ratings'})"


def not_found(p: Phrasebook, phrase: str) -> str:
    return p.say(
        f"I couldn't find \"{phrase}\" in the catalog, and I only talk about books it holds. "
        "Could you check the spelling, or give me the author?",
        f"Não encontrei \"{phrase}\" no catálogo, e só falo de livros que estão nele. "
        "Pode conferir a grafia ou me dizer o autor?",
    )


def recommendations(p: Phrasebook, items: Sequence[tuple[Book, str]], intro: str, note: str = "") -> str:
    if not items:
        return p.say("I couldn't find anything in the catalog that fits. Try another genre or describe the mood you want.",
                     "Não encontrei nada no catálogo que combine. Tente outro gênero ou descreva o clima que você quer.")
    closing = p.pick(
        ["Want more, something shorter, or details on one of them?", "Say \"more\", \"why?\" or \"the second one\" to dig in."],
        ["Quer mais, algo mais curto ou detalhes de algum deles?", "Diga \"mais\", \"por quê?\" ou \"o segundo\" para continuar."],
    )
    body = numbered(items, p.language)
    return "\n\n".join(x for x in (intro, body, note, closing) if x)


def intro_similar(p: Phrasebook, book: Book, n: int) -> str:
    return p.pick(
        [f"If you liked {title(book)}, here are {count(n, 'en')} from the catalog to try:",
         f"Books like {title(book)}, closest first:"],
        [f"Se você gostou de {title(book)}, aqui vão {count(n, 'pt')} do catálogo para experimentar:",
         f"Livros parecidos com {title(book)}, do mais próximo ao menos:"],
    )


def intro_genre(p: Phrasebook, genre_names: Sequence[str], topic: str, n: int, sort: str = "",
                exclude: Sequence[str] = ()) -> str:
    label = join([genre_label(g, p.language) for g in genre_names], p.language)
    without = ""
    if exclude:
        without = p.say(f", without {join([genre_label(g, 'en') for g in exclude], 'en')}",
                        f", sem {join([genre_label(g, 'pt') for g in exclude], 'pt')}")
    if sort:
        what = p.say(f"{label} books" if label else "books", f"livros de {label}" if label else "livros")
        about = p.say(f" about \"{topic}\"" if topic else "", f" sobre \"{topic}\"" if topic else "")
        return p.say(f"The best rated {what}{about} in the catalog{without}:" if sort == "rating" else f"The most read {what}{about} in the catalog{without}:",
                     f"Os {what}{about} mais bem avaliados do catálogo{without}:" if sort == "rating" else f"Os {what}{about} mais lidos do catálogo{without}:")
    if without:
        return p.say(f"Here are {count(n, 'en')} {label or topic} picks{without}:", f"Aqui vão {count(n, 'pt')} sugestões de {label or topic}{without}:")
    if label and topic:
        return p.say(f"Here are {count(n, 'en')} {label} picks that fit \"{topic}\":",
                     f"Aqui vão {count(n, 'pt')} sugestões de {label} que combinam com \"{topic}\":")
    if label:
        return p.pick(
            [f"Here are {count(n, 'en')} {label} books from the catalog you might enjoy:", f"Some {label} worth reading:"],
            [f"Aqui vão {count(n, 'pt')} livros de {label} do catálogo que você pode gostar:", f"Algumas leituras de {label} que valem a pena:"],
        )
    return p.say(f"Here is what the catalog has for \"{topic}\":", f"Veja o que o catálogo tem para \"{topic}\":")


def common_genres(books: Sequence[Book], language: str) -> str:
    counts: dict[str, int] = {}
    for book in books:
        for genre in book.genres:
            if genre not in GENERIC_GENRES:
                counts[genre] = counts.get(genre, 0) + 1
    top = sorted(counts, key=lambda g: -counts[g])[:2]
    return join([genre_label(g, language) for g in top], language)
