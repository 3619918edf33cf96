"""A structured comparison of two catalog books: genres, themes, ratings, length, series.

Themes are only those whose words appear in the book's own catalog description, so the
comparison never claims a theme the catalog does not support.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from smartlib_core.domain import Book
from smartlib_server.services.chat.lexicon import genre_label
from smartlib_server.services.chat.wording import GENERIC_GENRES, Phrasebook, join, rating, title

# theme -> (English label, Portuguese label, words that reveal it in a description)
THEMES: dict[str, tuple[str, str, str]] = {
    "politics": ("politics and power", "política e poder", r"politic\w*|power|throne|noble house|senate|rule[rs]?\b|govern\w*"),
    "religion": ("religion and prophecy", "religião e profecia", r"religio\w*|prophe\w*|faith|god\b|gods\b|messiah|church"),
    "ecology": ("ecology", "ecologia", r"ecolog\w*|environment\w*|nature\b"),
    "empire": ("the rise and fall of empires", "ascensão e queda de impérios", r"empire|galactic|dynasty|civili[sz]ation"),
    "science": ("science and reason", "ciência e razão", r"scien\w*|mathemati\w*|psychohistory|physics|experiment"),
    "war": ("war", "guerra", r"\bwar\b|battle|army|soldier\w*|invasion"),
    "family": ("family", "família", r"family|father|mother|sister|brother|aunt|uncle|daughter|\bson\b"),
    "love": ("love", "amor", r"\blove|romance|marriage|heart\b"),
    "friendship": ("friendship", "amizade", r"friend\w*"),
    "coming_of_age": ("growing up", "amadurecimento", r"\bboy\b|\bgirl\b|young|school|birthday|teen\w*|orphan\w*"),
    "magic": ("magic", "magia", r"magic\w*|wizard\w*|witch\w*|spell\w*|sorcer\w*"),
    "quest": ("a quest or journey", "uma jornada", r"quest|journey|voyage|adventure"),
    "survival": ("survival", "sobrevivência", r"surviv\w*|stranded|wilderness"),
    "crime": ("crime and investigation", "crime e investigação", r"murder\w*|detective|crime\w*|killer|investigat\w*"),
    "death": ("death and loss", "morte e perda", r"\bdeath|\bdead\b|\bdies?\b|grief|loss\b"),
    "society": ("society and class", "sociedade e classes", r"society|class\b|dystop\w*|regime|totalitarian"),
    "technology": ("technology and AI", "tecnologia e IA", r"robot\w*|machine\w*|computer\w*|artificial|android\w*|cyber\w*"),
    "space": ("space and other worlds", "o espaço e outros mundos", r"planet\w*|galax\w*|spaceship|\bstars?\b|\bspace\b|alien\w*"),
    "history": ("history", "história", r"histor\w*|century|ancient|medieval"),
    "identity": ("identity", "identidade", r"identity|who (?:he|she|they) (?:really )?(?:is|are)|destiny"),
    "good_evil": ("good against evil", "o bem contra o mal", r"\bevil\b|dark lord|villain"),
    "humor": ("humour", "humor", r"comic\w*|funny|humou?r\w*|satir\w*|whimsical|lighthearted"),
}
_PATTERNS = {key: re.compile(words, re.IGNORECASE) for key, (_, _, words) in THEMES.items()}


@dataclasses.dataclass(frozen=True)
class Comparison:
    a: Book
    b: Book
    shared_genres: tuple[str, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    themes_a: tuple[str, ...]  # theme keys
    themes_b: tuple[str, ...]
    similarity: float | None  # cosine of the two books' vectors, when both have one


def themes(book: Book) -> tuple[str, ...]:
    return tuple(key for key, pattern in _PATTERNS.items() if pattern.search(book.description))


def compare(a: Book, b: Book, vector_a: np.ndarray | None, vector_b: np.ndarray | None) -> Comparison:
    genres_a = [g for g in a.genres if g not in GENERIC_GENRES] or list(a.genres)
    genres_b = [g for g in b.genres if g not in GENERIC_GENRES] or list(b.genres)
    shared = tuple(g for g in a.genres if g in set(b.genres))
    similarity = None
    if vector_a is not None and vector_b is not None:
        similarity = float(np.dot(vector_a, vector_b) / (np.linalg.norm(vector_a) * np.linalg.norm(vector_b) or 1.0))
    return Comparison(
        a, b, shared,
        tuple(g for g in genres_a if g not in set(b.genres)),
        tuple(g for g in genres_b if g not in set(a.genres)),
        themes(a), themes(b), similarity,
    )


def render(p: Phrasebook, c: Comparison) -> str:
    lang = p.language
    ta, tb = title(c.a), title(c.b)
    none = "nenhum" if lang == "pt" else "none"

    def genre_names(names) -> str:
        return join([genre_label(g, lang) for g in names], lang) or none

    def theme_names(keys) -> str:
        return join([THEMES[k][1 if lang == "pt" else 0] for k in keys[:5]], lang) or none

    common_themes = [k for k in c.themes_a if k in c.themes_b]
    lines = [p.say(f"{ta} vs {tb}, side by side:", f"{ta} x {tb}, lado a lado:")]
    lines.append(p.say(f"- Authors: {join(c.a.authors, 'en')} / {join(c.b.authors, 'en')}",
                       f"- Autores: {join(c.a.authors, 'pt')} / {join(c.b.authors, 'pt')}"))
    lines.append(p.say(
        f"- Genres in common: {genre_names(c.shared_genres)}. Only {ta}: {genre_names(c.only_a)}. Only {tb}: {genre_names(c.only_b)}.",
        f"- Gêneros em comum: {genre_names(c.shared_genres)}. Só {ta}: {genre_names(c.only_a)}. Só {tb}: {genre_names(c.only_b)}.",
    ))
    lines.append(p.say(
        f"- Themes (from the catalog descriptions): {ta}: {theme_names(c.themes_a)}; {tb}: {theme_names(c.themes_b)}."
        + (f" Both touch on {theme_names(common_themes)}." if common_themes else ""),
        f"- Temas (pelas descrições do catálogo): {ta}: {theme_names(c.themes_a)}; {tb}: {theme_names(c.themes_b)}."
        + (f" Os dois tratam de {theme_names(common_themes)}." if common_themes else ""),
    ))
    lines.append(_ratings(p, c))
    lines.append(p.say("- Length: the catalog has no page counts for these books, so I can't compare length.",
                       "- Tamanho: o catálogo não tem o número de páginas destes livros, então não dá para comparar."))
    series = [s for s in (_series(p, c.a), _series(p, c.b)) if s]
    if series:
        lines.append(p.say("- Series: ", "- Série: ") + "; ".join(series) + ".")
    if c.similarity is not None:
        closeness = _closeness(c.similarity, lang)
        value = f"{c.similarity:.2f}"
        lines.append(p.say(f"- How close: {closeness} (similarity {value} in the recommender's embedding).",
                           f"- Proximidade: {closeness} (similaridade {value.replace('.', ',')} no embedding do recomendador)."))
    return "\n".join(lines)


def _ratings(p: Phrasebook, c: Comparison) -> str:
    ra, rb = rating(c.a, p.language), rating(c.b, p.language)
    if not (ra and rb):
        return p.say("- Ratings: not known for both books.", "- Notas: não conhecidas para os dois livros.")
    diff = c.a.avg_rating - c.b.avg_rating
    if abs(diff) < 0.05:
        verdict = p.say("about the same", "praticamente iguais")
    else:
        higher = title(c.a) if diff > 0 else title(c.b)
        verdict = p.say(f"{higher} is rated a little higher", f"{higher} tem nota um pouco maior")
    return p.say(f"- Ratings: {ra} vs {rb} on average; {verdict}.", f"- Notas: {ra} x {rb} em média; {verdict}.")


def _series(p: Phrasebook, book: Book) -> str:
    if not book.series_name:
        return ""
    where = f" #{book.series_position}" if book.series_position else ""
    return p.say(f"{title(book)} is{where} in {book.series_name}", f"{title(book)} é o{where} de {book.series_name}")


def _closeness(similarity: float, language: str) -> str:
    if similarity >= 0.7:
        return "muito parecidos" if language == "pt" else "very similar"
    if similarity >= 0.45:
        return "bastante parecidos" if language == "pt" else "fairly similar"
    if similarity >= 0.25:
        return "com algo em comum" if language == "pt" else "somewhat related"
    return "bem diferentes" if language == "pt" else "quite different"
