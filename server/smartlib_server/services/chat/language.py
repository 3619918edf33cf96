"""English or Portuguese? Counts function words and Portuguese spelling; no model needed.

Book titles are mostly English whatever the user's language, so short function words ("de",
"e", "sobre", "the", "and") carry the signal, and Portuguese diacritics count extra.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence

from smartlib_core.errors import InvalidArgument
from smartlib_core.text import fold
from smartlib_server.services.chat import lexicon, link_tables

LANGUAGES = ("en", "pt")

_PT = frozenset(
    "e de do da dos das em no na nos nas um uma uns umas que nao sim eu voce voces me te se sobre para pra por "
    "com sem mais menos muito muita livro livros parecido parecidos parecida parecidas semelhantes similares "
    "recomende recomenda recomendar recomendacao recomendacoes indique indica indicar sugira sugerir fale fala "
    "conte conta quero queria gostaria gostei gosto adorei amei odiei detestei ola oi obrigado obrigada valeu "
    "ajuda ajudar tchau ate logo qual quais quem porque outro outros outra outras esse essa este esta isso isto "
    "primeiro segundo terceiro ultimo mostre mostra compare comparar compara entre diferenca algo alguma algum "
    "curto curtos mesmo tambem agora bom boa dia tarde noite tudo bem como vai pode poderia escreveu autor "
    "autora serie saga escrito ler leitura historia historias genero adoro amo curto sou fa surpreenda surpreende "
    "esqueca esquece apague apaga lembra sabe mim gosta gostar vem depois proximo ordem melhores avaliados populares "
    "obras escreveu quais ja agora tem voces nada sem mas porem so ainda odeio detesto vc vcs pfv tbm sugere tira "
    "manda acabei terminei quanto custa meu minha hoje afim sequencia continuacao escritor escritora leio curti "
    "nenhum nenhuma pelo pela ao aos sao foi era estou isso seria queria melhor pior algum alguns lido lidos "
    "vale pena vi li trata dps depois entao pois tipo mesmo aqui ali tava estava sugestao sugestoes alguem "
    "comigo contigo dela dele deles delas pro pros pras qualquer quero vou vai fazer faz tenho preciso".split()
)
_EN = frozenset(
    "the and of to about tell me books book like similar recommend recommendation recommendations suggest "
    "give show more something shorter short why what who wrote written is are was it that this these those "
    "one ones first second third last please thanks thank you hello hi hey help compare with versus between "
    "difference want would love liked loved hated read reading any some good great other others another "
    "not no yes how can could do does did author series by from for in on kind sort has have got anything much "
    "my your which where when there else fix nearby just need looking into fan keep coming going get let see "
    "think know maybe really still next new old tonight today weekend recs rec pick picks should worth "
    "bother any stuff kinda gonna wanna lol lmao lmfao rofl thing things".split()
)
# Words spelled the same in both languages are no evidence either way.
_SHARED = frozenset("a o as compare romance terror drama horror humor suspense thriller".split())
_PT_MARKS = re.compile(r"[ãõçâêôáéíóúà]", re.IGNORECASE)
# Laughter typed the Brazilian way ("kkkkk", "rsrs") is a Portuguese word however it is spelt out;
# English laughter ("lol", "lmao") is in _EN, and "haha" is both.
_PT_LAUGH = re.compile(r"^(?:k{3,}|(?:rs){2,}r?)$")
_FOREIGN = frozenset(
    "le la les des du et je tu il est une pour avec sur qui bonjour merci livre "
    "el los las del y es por favor hola gracias libro libros quiero sobre una "
    "der die das und ist ich nicht ein eine buch bucher hallo danke mit".split()
)


def is_function_word(word: str) -> bool:
    """A folded word that carries grammar, not topic, in English or Portuguese."""
    return word in _EN or word in _PT


# Genre and title words of one language only ("fantasia", "terror" is shared and left out).
_EN_GENRE_WORDS = frozenset(w for p in lexicon.EN_GENRES for w in p.split()) - frozenset(w for p in lexicon.PT_GENRES for w in p.split())
_PT_GENRE_WORDS = frozenset(w for p in lexicon.PT_GENRES for w in p.split()) - frozenset(w for p in lexicon.EN_GENRES for w in p.split())
_PT_ONLY_TITLES = tuple(t for t, en in lexicon.PT_TITLES.items() if t != en and t not in ("o hobbit", "hobbit"))


# A word alone between two names joins them in the reader's language: "The Road do Cormac
# McCarthy", "Dune by Frank Herbert", "Duna e Fundação" ("do" is an English word elsewhere).
_JOINING = {"by": "en", "and": "en", "de": "pt", "do": "pt", "da": "pt", "dos": "pt", "das": "pt", "e": "pt"}


@functools.cache
def _corpus_only() -> dict[str, frozenset[str]]:
    """Words readers used in one language's part of the intent corpus and never in the other's
    ("presta", "curti"; "bother", "worth"): evidence beyond the function words above."""
    words = link_tables.corpus_words()
    en, pt = words.get("en", {}), words.get("pt", {})
    return {"en": frozenset(w for w in en if w not in pt and w not in _PT and w not in _SHARED),
            "pt": frozenset(w for w in pt if w not in en and w not in _EN and w not in _SHARED)}


def _pt_titles(folded: str) -> float:
    padded = f" {folded} "
    return float(sum(1 for t in _PT_ONLY_TITLES if f" {t} " in padded))


@dataclasses.dataclass(frozen=True)
class Detection:
    language: str | None  # "en", "pt", or None when the text gives no clear signal
    en: float
    pt: float
    foreign: int  # words that look like French, Spanish or German, and like neither of ours

    @property
    def looks_foreign(self) -> bool:
        return self.language is None and self.foreign >= 2


def detect(text: str, names: Sequence[tuple[int, int]] = ()) -> Detection:
    """Scores English and Portuguese evidence; a margin of one word or more decides. `names` are
    the character spans of the titles and authors the message names: their words are the book's
    language, not the reader's ("do que se trata the god of small things?"), so they count only
    when nothing else is left ("Dune")."""
    said = _outside(text, names)
    if not fold(said).split():
        said = text
    words = fold(said).split()
    corpus = _corpus_only()
    # a word capitalised after the first may be a name the catalog lacks ("The Girl"): no corpus evidence
    first = text.split()[:1]
    plain = set(fold(" ".join(w for w in said.split() if not w[:1].isupper() or [w] == first)).split())
    en = sum(1.0 for w in words if (w in _EN or w in _EN_GENRE_WORDS or (w in corpus["en"] and w in plain)) and w not in _SHARED)
    pt = sum(1.0 for w in words if (w in _PT or w in _PT_GENRE_WORDS or (w in corpus["pt"] and w in plain) or _PT_LAUGH.match(w))
             and w not in _SHARED)
    for word in _joining(text, names):  # counted above for both languages when it is both ("do")
        en -= word in _EN and _JOINING[word] == "pt"
        pt -= word in _PT and _JOINING[word] == "en"
    pt += _pt_titles(fold(text))  # "Duna", "O Hobbit": a Portuguese edition's title is Portuguese
    pt += 1.5 * min(len(_PT_MARKS.findall(said)), 2)
    foreign = sum(1 for w in words if w in _FOREIGN and w not in _EN and w not in _PT)
    if pt - en >= 1:
        language = "pt"
    elif en - pt >= 1:
        language = "en"
    else:
        language = None
    if language and foreign > max(en, pt):
        language = None  # "je cherche des livres" shares "des"/"livres" with nobody we speak
    return Detection(language, en, pt, foreign)


def _joining(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    """The joining words that stand alone between two names."""
    ordered = sorted(spans)
    gaps = (fold(text[a[1]:b[0]]).split() for a, b in zip(ordered, ordered[1:], strict=False))
    return [gap[0] for gap in gaps if len(gap) == 1 and gap[0] in _JOINING]


def _outside(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out, at = [], 0
    for start, end in sorted(spans):
        out.append(text[at:start])
        at = max(at, end)
    out.append(text[at:])
    return " ".join(out)


def normalise_hint(hint: str) -> str:
    """'' -> '', 'pt-BR' -> 'pt', 'EN_us' -> 'en'.

    Raises:
        InvalidArgument: a language other than English or Portuguese.
    """
    code = hint.strip().lower().replace("_", "-").split("-")[0]
    if not code:
        return ""
    if code in ("en", "eng", "english"):
        return "en"
    if code in ("pt", "por", "portuguese", "portugues"):
        return "pt"
    raise InvalidArgument.field("turn.language", f"must be empty, 'en' or 'pt' (got {hint[:20]!r}); I speak English and Portuguese")


def choose(text: str, hint: str, previous: str | None, names: Sequence[tuple[int, int]] = ()) -> tuple[str, Detection]:
    """The answer language: clear evidence in the text outside the names it holds, else the
    client's hint, else the session's last language, else English."""
    detection = detect(text, names)
    language = detection.language or hint or previous or "en"
    return language, detection
