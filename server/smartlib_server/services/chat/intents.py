"""What the user asked for, parsed from folded text with patterns for English and Portuguese.

The parser only splits the message into an intent and raw phrases (a title, a genre, an
ordinal); the agent resolves phrases against the catalog. Patterns of both languages are
tried, because people mix them ("Compare Duna and Foundation").
"""
from __future__ import annotations

import dataclasses
import re

from smartlib_core.text import fold
from smartlib_server.services.chat import asks, constraints, lexicon
from smartlib_server.services.chat.references import ordinal_of
from smartlib_server.services.chat.request import Request


@dataclasses.dataclass(frozen=True)
class Intent:
    kind: str  # one of KINDS
    subject: str = ""  # a title, author or series phrase, folded
    other: str = ""  # the second title of a comparison
    genres: tuple[str, ...] = ()  # catalog genre names
    query: str = ""  # English topic words for a free-text search
    ordinal: int = 0  # 1-based position in the last list; -1 is the last one; 0 is none
    pairs: tuple[tuple[str, str], ...] = ()  # compare: every way to split "A and B", first split first
    exclude: tuple[str, ...] = ()  # catalog genres to leave out ("no romance")
    sort: str = ""  # "", "rating" ("best rated") or "popular" ("most popular")
    modifier: str = ""  # like_but: what should differ ("shorter", "less dark", "mas de ficcao cientifica")
    likes: tuple[str, ...] = ()  # genres the message says the reader likes
    dislikes: tuple[str, ...] = ()  # genres the message says the reader dislikes
    surprise: bool = False  # "surprise me": vary the pick instead of the top of the list


KINDS = (
    "greet", "help", "thanks", "bye", "about", "similar", "recommend", "compare", "more", "shorter",
    "pick", "why", "not_like", "like", "dislike", "unknown", "author", "author_info", "series",
    "series_next", "series_at", "like_but", "taste", "memory_show", "memory_forget", "off_topic", "refine",
)

_GREET = re.compile(
    r"^(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening)|ola|oi|e ai|bom dia|boa tarde|boa noite|hola|how are you|how s it going|"
    r"hows it going|tudo bem|como vai|como voce esta)"
    r"( there| again| everyone| de novo| novamente| tudo bem| tudo bom| como vai)?( smart library| agent| agente)?$"
)
_HELP = re.compile(r"^(help|ajuda|socorro|\?|what can you do|what do you do|how does this work|o que voce (sabe )?faz(er)?|como funciona|"
                   r"me ajuda|pode me ajudar|can you help( me)?|"
                   r"who are you|what are you|tell me about yourself|introduce yourself|quem e voce|quem voce e|o que e voce|fale sobre v"
                   r"oce|"
                   r"se apresente|what can i ask( you)?|o que posso (te )?perguntar|o que voce pode fazer)$")
_THANKS = re.compile(r"^(thanks?( you)?( so much| a lot)?|thx|cheers|great thanks|obrigad[oa]( mesmo)?|valeu|muito obrigad[oa]|"
                     r"ok|okay|ok thanks|cool|great|nice|perfect|got it|sounds good|"
                     r"beleza|legal|otimo|perfeito|show|certo|entendi|ta bom)$")
_BYE = re.compile(r"^(bye|goodbye|see you|see ya|tchau|ate logo|ate mais|adeus)$")

_COMPARE = [
    re.compile(r"^(?:please |can you |could you |pode |poderia )?(?:compare|comparar|compara|contrast)(?: the books?| os livros| o livro)"
               r"? (?P<x>.+)$"),
    re.compile(r"^(?:what is the |whats the |qual e a |qual a )?(?:difference|diferenca|diferencas|differences) (?:between|entre) (?P<x>."
               r"+)$"),
    re.compile(r"^(?P<x>.+? (?:vs|versus) .+?)(?: which is better| qual e melhor| qual o melhor)?$"),
]
_SEPARATOR = re.compile(r" (?:and|with|to|vs|versus|e|com|x|against|contra) ")
_SIMILAR = re.compile(
    r"^(?:(?:can you |could you |please )?(?:recommend|suggest|give me|show me|find|find me|any|i want|i would like|id like)(?: some| me)"
    r"? )?"
    r"(?:(?:me )?(?:recomende|recomenda|indique|indica|sugira|mostre|quero|queria|gostaria de|da|de|manda|traga|arruma)(?: me)? )?"
    r"(?:more |other |mais |outros )?(?:a |an |one |some |um |uma |algum |alguns |uns )?"
    r"(?:books?|novels?|something|anything|stuff|reads?|livros?|algo|alguma coisa|obras?|romances?|leituras?)? ?"
    r"(?:just |a bit |bem |um pouco )?"
    r"(?:like|similar to|in the vein of|along the lines of|parecid[oa]s? com|semelhantes? a|similar(?:es)? a|como|tipo|no estilo de|na li"
    r"nha de) "
    r"(?P<x>.+)$"
)
# "what's similar to X", "tem algum livro parecido com X mas Y": a similarity phrase anywhere, after any lead-in
_SIMILAR_LOOSE = re.compile(
    r"^(?:.* )?(?:similar to|in the vein of|along the lines of|(?:books?|novels?|something|anything|stuff|ones?|reads?) like|"
    r"parecid[oa]s? com|semelhantes? a|similar(?:es)? a|no estilo de|na linha de|(?:algo|alguma coisa|livros?|uns|umas) (?:tipo|como)) (?"
    r"P<x>.+)$")
_SIMILAR_TAIL = re.compile(r"^(?:if i liked|since i liked|i liked|i loved|se eu gostei de|ja que gostei de|gostei de|adorei|amei) (?P<x>."
                           r"+?) (?:what else(?: (?:should|could|can|would) i read)?|what next|what should i read( next)?|o que mais(?: ("
                           r"?:eu )?(?:devo|posso) ler)?|o que ler( agora| depois)?)$")
# "I loved The Name of the Wind, anything similar but shorter?", "Dune was great, got anything like it?",
# "gostei muito do nome do vento, tem algo parecido porem de ficcao cientifica?": a liked book, then an ask for more like it.
_LOVED_LEAD = re.compile(r"^(?:i (?:really |just |absolutely )?(?:loved|liked|enjoyed|adored|love|like|enjoy|devoured|finished)|"
                         r"(?:eu )?(?:gostei (?:muito |demais |bastante )?(?:de|do|da|dos|das)|adorei|amei|curti|devorei|terminei|acabei "
                         r"de ler|li)) (?P<x>.+)$")
_PRAISE = re.compile(r"^(?P<x>.+?) (?:was|is|were) (?:so |really |very |absolutely |just )?(?:great|amazing|awesome|good|incredible|fanta"
                     r"stic|brilliant|"
                     r"wonderful|excellent|perfect|fun|beautiful|my favou?rite(?: book)?)(?: (?P<rest>.+))?$|"
                     r"^(?P<y>.+?) (?:foi|e|eh|era) (?:muito |super |bem |simplesmente )?(?:bom|boa|otimo|otima|incrivel|maravilhoso|mara"
                     r"vilhosa|"
                     r"demais|sensacional|perfeito|perfeita|massa|top|lindo|linda|o meu favorito|meu favorito)(?: (?P<rest2>.+))?$")
_MORE_LIKE_IT = re.compile(
    r"(?:^| )(?:(?:anything|something|books?|others?|more|one|ones|stuff|novels?) (?:similar|like (?:it|that|this|this one|that one))|"
    r"similar (?:books?|ones?|novels?|to (?:it|that|this))|like (?:it|that one|this one)|in the same vein|along (?:the same|those) lines|"
    r"(?:algo|alguma coisa|algum|alguns|outros?|livros?|mais) (?:parecid[oa]s?|semelhantes?|similar(?:es)?|do tipo|nessa linha|na mesma l"
    r"inha|assim)|"
    r"parecid[oa]s?(?: com (?:ele|ela|esse|essa|isso))?|semelhantes?|na mesma linha|nessa linha|do mesmo estilo|no mesmo estilo)(?: |$)")


def _liked_then_similar(folded: str) -> tuple[str, str] | None:
    """(liked title, what should differ) from "I loved X, anything similar but Y?", or None."""
    praise = _PRAISE.match(folded)
    if praise:
        subject, rest = praise.group("x") or praise.group("y"), praise.group("rest") or praise.group("rest2") or ""
        ask = _MORE_LIKE_IT.search(f" {rest} ")
        if not ask:
            return None
        parts = _MODIFIER.split(f" {rest[ask.end() - 1:]} ", maxsplit=1)
        return subject, (parts[1].strip() if len(parts) == 2 else "")
    match = _LOVED_LEAD.match(folded)
    if not match:
        return None
    words = match.group("x").split()
    # the title ends where the ask for more begins: the earliest cut whose rest asks for similar books
    for cut in range(1, len(words)):
        rest = " ".join(words[cut:])
        ask = _MORE_LIKE_IT.search(f" {rest} ")
        if ask and _ASK_START.match(rest):
            tail = rest[ask.end() - 1:] if ask.end() <= len(rest) + 1 else ""
            parts = _MODIFIER.split(f" {tail} ", maxsplit=1)
            modifier = parts[1].strip() if len(parts) == 2 else ""
            return " ".join(words[:cut]), modifier
    return None


_ASK_START = re.compile(r"^(?:(?:so |and |now |then |e |entao |agora )?(?:any|anything|something|some|got|do you have|have you got|can yo"
                        r"u|could you|"
                        r"recommend|suggest|what|whats|is there|are there|more|other|others|similar|books?|give me|show me|find me|"
                        r"tem|teria|voce tem|voces tem|algo|alguma|algum|alguns|me indica|indica|recomenda|sugere|quero|queria|o que|mais"
                        r"|outros?|"
                        r"livros?|parecid|semelhante))")

_ABOUT = [
    re.compile(r"^(?:(?:can|could) you )?(?:please )?(?:tell me|tell us|talk|say something|teach me) (?:more )?(?:about|on) (?P<x>.+)$"),
    re.compile(r"^(?:what is|whats|what s) (?P<x>.+?)(?: about)?$"),
    re.compile(r"^(?:who (?:wrote|is the author of|is author of)|who s the author of) (?P<x>.+)$"),
    re.compile(r"^(?:info|information|details|more) (?:about|on) (?P<x>.+)$"),
    re.compile(r"^(?:describe|explain|summari[sz]e|about) (?P<x>.+)$"),
    re.compile(r"^(?:me )?(?:fale|fala|conte|conta|diga|explique|explica|descreva|resuma)(?: me)?(?: mais)? (?:sobre|de|do|da) (?P<x>.+)$"),
    re.compile(r"^(?:o que (?:e|sao)|que livro e|sobre o que (?:e|fala)|do que (?:se )?trata) (?P<x>.+)$"),
    re.compile(r"^(?:quem (?:escreveu|e o autor de|e a autora de|e o autor do|e o autor da)) (?P<x>.+)$"),
    re.compile(r"^(?:informacoes|detalhes|mais) (?:sobre|de) (?P<x>.+)$"),
    re.compile(r"^(?:and|what about|how about|e|e quanto a|e sobre|e o|e a) (?P<x>.+)$"),
]
_LIKE = re.compile(r"^(?:i (?:really )?(?:liked|loved|enjoyed|like|love|adored)|(?:eu )?(?:gostei (?:muito )?(?:de|do|da)|adorei|amei|cur"
                   r"ti)) (?P<x>.+?)(?: a lot| so much| muito)?$")
_DISLIKE = re.compile(r"^(?:i (?:didnt|did not|don t|dont|do not) (?:like|enjoy)|i (?:really )?(?:hated|disliked|hate|dislike|detest|cant"
                      r" stand|can t stand)|"
                      r"(?:eu )?(?:nao gostei (?:de|do|da)|nao gosto (?:de|do|da)|odiei|detestei|odeio|detesto)) (?P<x>.+)$")

_MORE = re.compile(r"^(?:(?:(?:show|give|send|get|find)(?: me)? |any |some |i want |id like |(?:do you )?(?:have|got) (?:any )?)?(?:a few"
                   r" |a couple |a couple of |some |any )?(?:more|others|another|another one|other ones|more please|more options|more boo"
                   r"ks|more suggestions|more of (?:those|these|them)|more like (?:that|those|these)|anything else|what else|else)( pleas"
                   r"e)?|(?:a few |some )more(?: please)?|(?:me )?(?:mostre |mostra |de |da |quero |manda |tem |teria |(?:voce |voces )?("
                   r"?:tem|teria|teriam) )?(?:mais|outros|outras|outro|outra|mais opcoes|mais livros|mais sugestoes|mais desses|mais dess"
                   r"as|mais um|mais uma|mais alguns|mais algumas|mais uns|mais umas|mais outros|outras opcoes|outras sugestoes|mais algu"
                   r"ma coisa|algo mais|mais coisa|mais coisas)(?: ai)?( por favor)?)$")
_SHORTER = re.compile(r"(?:^| )(?:shorter|short one|short ones|quicker read|less long|something short|mais curt[oa]s?|menor(?:es)?|mais r"
                      r"apido de ler|algo curto|curtinho)(?: |$)")
_WHY = re.compile(
    r"^(?:(?:and|but|so|ok|e|mas|entao|ta|tá) )?(?:why|how come|por que|porque|por qual motivo|por qual razao|pq)"
    r"(?: (?:did|do|would|have) you| (?:voce|voces))?"
    r"(?: (?:pick|picked|choose|chose|chosen|recommend|recommended|suggest|suggested|include|included|list|listed|show|showed|put|"
    r"escolheu|indicou|indica|recomendou|recomenda|sugeriu|colocou|mostrou|incluiu))?"
    r"(?: (?P<x>.+?))?(?: (?:for me|pra mim|para mim|then|entao|ai|here|aqui|on the list|na lista))?$")
# "why?" alone, or with a word for the whole list, explains every book shown
_WHY_LIST = frozenset({
    "that", "those", "these", "them", "they", "all", "all of them", "these ones", "those ones", "this list", "that list",
    "is that", "are those", "are these", "isso", "esses", "essas", "estes", "estas", "eles", "elas", "todos", "todas",
    "esses livros", "essas opcoes", "essa lista", "esses ai"})
# "why this one?", "por que esse?": the book the conversation is on
_WHY_FOCUS = frozenset({"this", "this one", "that one", "it", "this book", "that book", "the one", "esse", "essa", "este", "esta",
                        "esse livro", "essa obra", "este livro", "esse ai", "essa ai", "ele", "ela", "esse aqui", "este aqui"})
_NOT_LIKE = re.compile(
    r"^(?:no|nope|nah|nao|not like that|not that|not those|not these|not quite|something (?:else|different)|"
    r"different ones?|i don t like (?:those|these|that|them)|i dont like (?:those|these|that|them)|none of (?:those|these|them)|"
    r"nao (?:assim|isso|esses|essas|gostei (?:desses|dessas|disso)|e isso)|nada disso|algo diferente|outra coisa|outro tipo|"
    r"nenhum desses|nenhuma dessas|diferente)(?: please| por favor)?$"
)
_RECOMMEND_WORDS = re.compile(
    r"(?:^| )(?:recommend|recommendation|recommendations|suggest|suggestion|suggestions|looking for|i want|i would like|id like|"
    r"in the mood for|give me|show me|any good|what should i read|books|novels|recomende|recomenda|recomendacao|recomendacoes|"
    r"indique|indica|sugira|sugestao|sugestoes|procuro|quero|queria|gostaria|livros|me da|o que (?:eu )?(?:devo |posso |vou |deveria |pod"
    r"eria )?(?:ler|leio)|what (?:should|can|could|do|shall) i read|what to read|"
    r"got (?:something|anything|any)|(?:something|anything) (?:good )?(?:for me )?to read|pick (?:something|anything|one|a book)|choose ("
    r"?:something|a book)|"
    r"(?:need|want) (?:something|a book)|sugere|sugerir|manda|me manda|me indica|indicacao|indicacoes|dica|dicas|"
    r"(?:algo|alguma coisa|um livro) (?:bom )?(?:pra|para) (?:eu )?ler|tem (?:algo|alguma coisa|algum livro)|escolhe|escolha)(?: |$)"
)


def parse(text: str, language: str) -> Intent:
    """Parses one message. `language` only breaks ties between the two tables of genre words."""
    folded = asks.normalise(fold(text), language)
    if not folded:
        return Intent("help")
    for kind, pattern in (("greet", _GREET), ("help", _HELP), ("thanks", _THANKS), ("bye", _BYE)):
        if pattern.match(folded):
            return Intent(kind)
    folded = asks.strip_polite(folded)
    polite = asks.strip_polite(folded)
    if asks.MEMORY_FORGET.match(polite):
        return Intent("memory_forget")
    if asks.MEMORY_SHOW.match(polite):
        return Intent("memory_show")
    if asks.is_off_topic(folded, text):
        return Intent("off_topic")
    if _MORE.match(folded):
        return Intent("more")
    if _NOT_LIKE.match(folded):
        return Intent("not_like")
    why = _WHY.match(folded)
    if why:
        said = _clean_subject(why.group("x") or "")
        said = re.sub(r"^(?:is |was |are |is there |esta |e )", "", said)  # "why is the second one"
        said = re.sub(r" (?:there|in there|included|on it|is on|here|aqui|ai)$", "", said).strip()
        if not said or said in _WHY_LIST:
            return Intent("why")
        if said in _WHY_FOCUS:
            return Intent("why", subject="it")
        return Intent("why", ordinal=ordinal_of(said), subject="" if ordinal_of(said) else said)
    ordinal = ordinal_of(folded)
    if ordinal:
        return Intent("pick", ordinal=ordinal)
    surprise = bool(asks.SURPRISE.search(folded))
    taste = asks.tastes(polite, language)
    if taste:
        asked = _RECOMMEND_WORDS.search(f" {taste.rest} ") or surprise or taste.asked
        kind = "recommend" if asked else "taste"
        return Intent(kind, genres=(*taste.asked, *taste.likes), exclude=taste.dislikes, likes=taste.likes,
                      dislikes=taste.dislikes, surprise=surprise)
    c = constraints.extract(polite, language)
    body = asks.strip_polite(c.rest)
    if (c.exclude or c.sort) and not _LIST_NOUN.search(f" {body} ") and not [
            w for w in body.split() if w not in lexicon.FILLER and w not in _VAGUE]:
        # "no romance" or "best rated ones" alone: narrows the list on screen, if any
        return Intent("refine", exclude=c.exclude, sort=c.sort)
    found = _reader_ask(body, c, language)
    if found is not None:
        return found
    liked = _liked_then_similar(polite)
    if liked and liked[0] and not _looks_like_genre_request(liked[0], language):
        subject, modifier = liked
        kind = "like_but" if modifier else "similar"
        return _with_reference(Intent(kind, subject=_clean_subject(subject), modifier=modifier, exclude=c.exclude, sort=c.sort))
    match = _SIMILAR_TAIL.match(c.plain) or _SIMILAR.match(c.plain) or _SIMILAR_LOOSE.match(polite)
    if match and not _looks_like_genre_request(match.group("x"), language):
        subject, modifier = _split_modifier(match.group("x"))
        kind = "like_but" if modifier else "similar"
        return _with_reference(Intent(kind, subject=_clean_subject(subject), modifier=modifier, exclude=c.exclude, sort=c.sort))
    if _SHORTER.search(f" {folded} "):
        return Intent("shorter", query=lexicon.english_query(_drop_phrase(folded, _SHORTER), language))
    for pattern in _COMPARE:
        match = pattern.match(folded)
        pairs = split_pair(match.group("x")) if match else ()
        if pairs:
            return Intent("compare", subject=pairs[0][0], other=pairs[0][1], pairs=pairs)
    match = _DISLIKE.match(folded)
    if match:
        return _with_reference(Intent("dislike", subject=_clean_subject(match.group("x"))))
    match = _LIKE.match(folded)
    if match and not _looks_like_genre_request(match.group("x"), language):
        return _with_reference(Intent("like", subject=_clean_subject(match.group("x"))))
    for pattern in _ABOUT:
        match = pattern.match(folded)
        if match and _clean_subject(match.group("x")) and not _looks_like_genre_request(match.group("x"), language):
            return _with_reference(Intent("about", subject=_clean_subject(match.group("x"))))
    genres = tuple(dict.fromkeys(genre for _, genre in lexicon.genre_phrases(c.rest, language)))
    if genres or _RECOMMEND_WORDS.search(f" {c.rest} ") or surprise or c.sort or c.exclude:
        rest = c.rest
        for phrase, _ in lexicon.genre_phrases(c.rest, language):
            rest = f" {rest} ".replace(f" {phrase} ", " ").strip()
        rest = " ".join(w for w in rest.split() if w not in _VAGUE)
        return Intent("recommend", genres=genres, query=lexicon.english_query(rest, language),
                      exclude=c.exclude, sort=c.sort, surprise=surprise)
    # A bare phrase: maybe a title ("Dune", "o hobbit"), maybe a description; the agent decides.
    return Intent("unknown", subject=_clean_subject(folded), query=lexicon.english_query(folded, language))


# Words of a vague ask that carry no topic: "recommend me something good to read".
_VAGUE = frozenset(
    "something anything surprise random whatever next now today else should could would do read recommend suggest "
    "algo alguma coisa qualquer surpreenda surpreende surpresa aleatorio tanto faz devo posso agora hoje ler me "
    "what o que i eu mim which quais qual are there have has tem ha voces sao ones one those these them "
    "esses essas eles elas deles delas recommendations recommendation suggestions suggestion ideas idea tips "
    "sugestao sugestoes ideia ideias dica dicas indicacao indicacoes got get give gimme any some good "
    "tens tem voce recomenda recomendacao recomendacoes leio deveria poderia shall to "
    "only really just very pretty quite also need needs looking for pick choose escolhe escolha sugere manda indica "
    "voces please por favor pra para mim for me my meu minha ai tambem muito bem".split()
)
_LIST_NOUN = re.compile(r" (?:books?|novels?|titles?|reads|livros?|obras?|titulos?|romances|leituras?) ")
_MODIFIER = re.compile(r" (?:but|only|though|except|just|yet|mas|porem|so que|contudo|entretanto|todavia) ")


def _split_modifier(phrase: str) -> tuple[str, str]:
    """Splits 'dune but shorter' into the title and what should differ; titles rarely hold these words."""
    parts = _MODIFIER.split(phrase, maxsplit=1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return parts[0].strip(), parts[1].strip()
    return phrase, ""


def _reader_ask(body: str, c: constraints.Constraints, language: str) -> Intent | None:
    """Author, author facts and series asks; None when the message is none of them."""
    at = asks.series_at(body)
    if at is not None and (ordinal_of(at[0]) or asks.position_of(at[0])):
        position = ordinal_of(at[0]) or asks.position_of(at[0])  # -1: the last one
        return Intent("series_at", subject=_clean_subject(at[1]), ordinal=position)
    after = asks.next_phrase(body)
    if after is not None:
        return Intent("series_next", subject=_clean_subject(after), ordinal=asks.position_of(after) or ordinal_of(after))
    series = asks.series_phrase(body)
    if series and not _looks_like_genre_request(series, language):
        return Intent("series", subject=_clean_subject(series))
    who = asks.author_info_phrase(body)
    if who and not _looks_like_genre_request(who, language):
        return Intent("author_info", subject=_clean_subject(who))
    author = asks.author_phrase(body)
    # Author names hold no genre words: "livros de ficcao cientifica sobre robos" asks for a genre.
    if author and not lexicon.genre_phrases(author, language) and not _SIMILAR.match(body):
        return Intent("author", subject=_clean_subject(author), exclude=c.exclude, sort=c.sort)
    return None



def split_pair(phrase: str) -> tuple[tuple[str, str], ...]:
    """'harry potter and the philosophers stone and dune' -> every (A, B) split at a separator;
    titles may contain 'and' themselves, so the agent keeps the split whose sides both resolve."""
    pairs = []
    for match in _SEPARATOR.finditer(phrase):
        a, b = _clean_subject(phrase[: match.start()]), _clean_subject(phrase[match.end():])
        if a and b:
            pairs.append((a, b))
    return tuple(pairs)


_TRAILING = re.compile(r"(?: please| por favor| then| entao| again| de novo| for me| pra mim| para mim)+$")
_LEADING = re.compile(r"^(?:the book |the novel |the series |the author |o livro |a obra |a serie |a saga |o autor |a autora |os livros ("
                      r"?:de|do|da) |books by |livros (?:de|do|da) |book |novel |livro |obra |romance (?=\S+ \S))")


def _clean_subject(phrase: str) -> str:
    phrase = _TRAILING.sub("", phrase.strip())
    return _LEADING.sub("", phrase).strip()


def _with_reference(intent: Intent) -> Intent:
    """'books like the second one' points into the last list instead of naming a title."""
    position = ordinal_of(intent.subject)
    return dataclasses.replace(intent, ordinal=position) if position else intent


def _looks_like_genre_request(phrase: str, language: str) -> bool:
    """'I like fantasy' or 'tell me about sci-fi books' ask for a genre, not a title."""
    phrase = _clean_subject(phrase)
    found = lexicon.genre_phrases(phrase, language)
    if not found:
        return False
    rest = f" {phrase} "
    for p, _ in found:
        rest = rest.replace(f" {p} ", " ")
    return not [w for w in rest.split() if w not in lexicon.FILLER]


def _drop_phrase(folded: str, pattern: re.Pattern) -> str:
    return pattern.sub(" ", f" {folded} ").strip()


# The parser's kinds as the handler table's labels (request.LABELS).
_LABELS = {
    "greet": "greet", "help": "help", "thanks": "thanks_bye", "bye": "thanks_bye", "about": "about_book",
    "author_info": "who_wrote", "author": "author", "similar": "similar", "like_but": "similar", "recommend": "recommend",
    "series": "series_order", "series_at": "series_order", "series_next": "series_next", "compare": "compare",
    "more": "more", "pick": "pick", "why": "why", "not_like": "reject", "refine": "refine", "shorter": "refine",
    "like": "taste_like", "dislike": "taste_dislike", "memory_show": "memory_show", "memory_forget": "memory_forget",
    "off_topic": "off_topic", "unknown": "nonsense",
}


def to_request(intent: Intent) -> Request:
    """The parser's output under the table's labels, with the same slots."""
    kind = _LABELS.get(intent.kind, "")
    if intent.kind == "taste":
        kind = "taste_like" if intent.likes else "taste_dislike"
    elif intent.kind == "recommend" and intent.sort == "rating" and not intent.likes:
        kind = "best_rated"
    fields = {f.name: getattr(intent, f.name) for f in dataclasses.fields(Request) if hasattr(intent, f.name)}
    fields["kind"] = kind
    if intent.kind == "shorter":
        fields["modifier"] = "shorter"
    return Request(**fields)
