"""Patterns for what readers ask beyond a title or a genre: authors, series order, tastes,
their memory, and asks that are not about books at all. English and Portuguese, on folded text.

Each function returns the raw phrases it found (an author name, a series name, genres); the
agent resolves them against the catalog and falls back when they do not resolve.
"""
from __future__ import annotations

import dataclasses
import re

from smartlib_server.services.chat import lexicon

_PT_OF = r"(?:de|do|da|dos|das)"
_POLITE = re.compile(r"^(?:(?:hey|hi|ola|oi|please|por favor|so|then|entao|ok|okay|well|bom|tudo bem|honestly|actually|hmm+|um|uh|"
                     r"olha|sinceramente|na verdade|cara|mano|gente|i was wondering|(?:can|could|would|will) you(?: please)?|kindly|"
                     r"(?:voce )?(?:pode|poderia|podia|consegue|conseguiria)(?: por favor)?)\b ?)+")
# Chat shorthand, expanded so the patterns see whole words: "vc tem livros da jk pfv".
_SHORTHAND = {
    "vc": "voce", "vcs": "voces", "pfv": "por favor", "pf": "por favor", "pfvr": "por favor",
    "porfa": "por favor", "pls": "please", "plz": "please", "plis": "please", "q": "que", "oq": "o que",
    "pq": "por que", "tb": "tambem", "tbm": "tambem", "tmb": "tambem", "mto": "muito", "mt": "muito",
    "mta": "muita", "td": "tudo", "tds": "todos", "msm": "mesmo", "hj": "hoje", "cmg": "comigo", "qro": "quero",
    "qria": "queria", "u": "you", "ur": "your",
}
_SHORTHAND_RE = re.compile(r"(?<!\S)(?:" + "|".join(sorted(map(re.escape, _SHORTHAND), key=len, reverse=True)) + r")(?!\S)")
# Padding at the end that changes nothing: "... please", "... pfv", "... ai" (Portuguese "aí").
_TRAILING_POLITE = re.compile(r"(?: (?:please|por favor|thanks|thank you|obrigad[oa]|valeu|for me|pra mim|para mim|ai|then|entao))+$")


def normalise(folded: str, language: str = "") -> str:
    """Expands chat shorthand and drops padding at the end; 'ai' only in Portuguese (in English
    it may be AI, a topic)."""
    text = _SHORTHAND_RE.sub(lambda m: _SHORTHAND[m.group(0)], folded)
    trailing = _TRAILING_POLITE if language == "pt" else _TRAILING_EN
    stripped = trailing.sub("", text).strip()
    return stripped or text


_TRAILING_EN = re.compile(r"(?: (?:please|por favor|thanks|thank you|obrigad[oa]|valeu))+$")

# -- authors ------------------------------------------------------------------------------------
_AUTHOR = [
    re.compile(r"^(?:(?:can you |could you )?(?:show|give|recommend|suggest|find|list|get|tell)(?: me)? )?(?:i want |i d like |id like )?"
               r"(?:(?:some|any|all|the|other|more|a few|few|every|his|her|their) )*"
               r"(?:books?|novels?|works?|titles?|stuff|things?|something|anything|everything|stories|reads)?(?: else| other| more)? ?"
               r"(?:written |published )?(?:by|from) (?P<x>.+)$"),
    re.compile(r"^what (?:else )?(?:books |novels )?(?:has|did|have|does) (?P<x>.+?) (?:write|written|wrote|published|publish)(?: else)?$"),
    # "did agatha christie write anything besides poirot", "has stephen king written other books"
    re.compile(r"^(?:did|has|have|does) (?P<x>.+?) (?:write|written|wrote|publish|published) (?:anything|something|any|other|more|else|bo"
               r"oks?|novels?)\b.*$"),
    # "stephen king books": a short name and nothing else, so "tell me about sci fi books" stays a genre ask
    re.compile(r"^(?:(?:show me|list|give me|recommend|any|some) )?"
               r"(?!.*\b(?:about|on|like|for|with|to|me|i|recommend|suggest|want|need|good|new|now|more|some|any|best|top|other)\b)"
               r"(?P<x>\S+(?: \S+){0,3}?)(?: s)? (?:books|novels|bibliography|works|other books)$"),
    re.compile(r"^(?:(?:me )?(?:mostre|mostra|recomende|recomenda|indique|indica|sugira|liste|lista|quero|queria|tem|voce tem|ha|existe|e"
               r"xistem|quais sao)(?: me)? )?"
               r"(?:(?:os|as|uns|umas|alguns|algumas|algum|alguma|outros|outras|mais|todos os|todas as|quais) )*"
               r"(?:(?:livros?|obras?|romances|titulos|historias|coisas?|algo)(?: mais| escrit[oa]s?| publicad[oa]s?)?|mais) "
               rf"(?:{_PT_OF}|por|pelo|pela|escritos por|escritas por) (?:autor |autora |escritor |escritora )?(?P<x>.+?)"
               r"(?: (?:voce|voces|a biblioteca|o catalogo))?(?: (?:tem|tem ai|possui|possuem|existem|ha))?$"),
    re.compile(r"^(?:e )?o que (?:mais )?(?:o |a )?(?P<x>.+?) (?:escreveu|escreve|publicou|tem)(?: mais| de bom)?$"),
    # "can you list some jane austen novels": a name of two to four words before the list noun
    re.compile(r"^(?:(?:can|could|would) you )?(?:please )?(?:list|show|give|name|recommend|suggest|find)(?: me)?"
               r"(?: (?:some|any|a few|all|all the|the|more|other|of))* "
               r"(?!(?:some|any|good|great|best|new|old|short|long|funny|sad|dark|classic|popular|famous|other|more|few)\b)"
               r"(?P<x>\S+(?: \S+){1,3}?)(?: s)? (?:books|novels|works|titles|stories)$"),
    # "do you have any rick riordan": a name of two to four words after the ask
    re.compile(r"^(?:do you have|have you got|you got|got|is there|are there) (?:any|anything|something|some)(?: (?:by|from))? "
               r"(?!(?:good|great|new|other|more|books?|novels?|for|to|that|i|you|else|interesting|fun|like|similar|in|about|on|with|shor"
               r"t|long|light|dark)\b)(?P<x>\S+(?: \S+){1,3})$"),
    # "quais livros a agatha christie escreveu", "que obras o machado de assis publicou"
    re.compile(r"^(?:quais|que|quantos) (?:livros|obras|romances|titulos)(?: que)? (?:o |a )?(?P<x>.+?) (?:escreveu|escreve|publicou|lanc"
               r"ou)$"),
    # Anywhere in a longer ask: "do you have books from X", "i want to read something by X", "quero ler algo da X".
    re.compile(r"^(?:.* )?(?:books?|novels?|works?|anything|something|stuff|titles?|stories|reads?|more|else|written|wrote|published)"
               r"(?: else)? (?:by|from) (?P<x>.+)$"),
    re.compile(r"^(?:.* )?(?:livros?|obras?|algo|alguma coisa|titulos?|historias?|romances|coisas?|escritos?|escritas?)"
               rf"(?: mais)? (?:{_PT_OF}|por|pelo|pela) (?:autor |autora |escritor |escritora )?(?P<x>.+?)"
               r"(?: (?:voce|voces|a biblioteca|o catalogo))?(?: (?:tem|tem ai|possui|possuem|existem|ha))?$"),
]
_AUTHOR_INFO = [
    re.compile(r"^(?:who (?:is|was|s)|whos) (?!the author of|the writer of)(?:the (?:author|writer) )?(?P<x>.+)$"),
    re.compile(r"^(?:tell me|talk|what do you know|can you tell me) (?:more )?about (?:the )?(?:author|writer) (?P<x>.+)$"),
    re.compile(r"^quem (?:e|foi|era) (?!o autor d|a autora d|o escritor d|a escritora d)(?:o |a )?(?:autor |autora |escritor |escritora )"
               r"?(?P<x>.+)$"),
    re.compile(rf"^(?:me )?(?:fale|fala|conte|conta)(?: me)?(?: mais)? (?:sobre|{_PT_OF}) (?:o |a )?(?:autor|autora|escritor|escritora) ("
               rf"?P<x>.+)$"),
]

# -- series -------------------------------------------------------------------------------------
_SERIES = [
    re.compile(r"^(?:(?:what is|whats|what s) )?(?:the )?(?:reading order|right order|correct order|order) (?:of|for|to read) (?:the )?(?"
               r"P<x>.+?)(?: books| series| novels| saga)?$"),
    re.compile(r"^(?:in )?(?:what|which) order (?:should|do|can|would|must) (?:i|you|we) read (?:the )?(?P<x>.+?)(?: books| series| novel"
               r"s)?(?: in)?$"),
    re.compile(r"^(?:(?:list|show me|give me|show) )?(?:all )?(?:the )?(?P<x>.+?) (?:books |novels |series |saga )?in (?:reading |the rig"
               r"ht |the correct |publication |series )?order$"),
    re.compile(r"^(?:the )?(?P<x>.+?) (?:series |saga |books )?(?:reading )?order$"),
    re.compile(r"^(?:how many books are in|what books are in|which books are in|what are the books (?:in|of)|list the books (?:in|of)) (?"
               r":the )?(?P<x>.+?)(?: series| saga)?$"),
    re.compile(rf"^(?:qual (?:e )?)?(?:a )?(?:ordem|sequencia) (?:de leitura |certa |correta |cronologica )?(?:{_PT_OF}|para ler|pra ler|"
               rf"pra eu ler|para eu ler) (?:a serie |a saga |serie |saga |livros (?:{_PT_OF}) )?(?P<x>.+)$"),
    re.compile(rf"^(?:em )?(?:que|qual) (?:ordem|sequencia) (?:eu )?(?:devo |posso |tenho que |preciso |deveria |vou )?(?:ler|leio|leia) "
               rf"(?:a serie |a saga |os livros {_PT_OF} )?(?P<x>.+)$"),
    re.compile(r"^(?:(?:me )?(?:mostre|mostra|liste|lista) )?(?:a |os livros d[ae] )?(?:serie |saga )?(?P<x>.+?) (?:em|na) ordem(?: de le"
               r"itura| certa| correta)?$"),
    re.compile(r"^(?:quais sao |quais )?(?:os )?livros da (?:serie|saga) (?P<x>.+)$"),
    re.compile(r"^(?:which|what) (?P<x>.+?) (?:book|novel|one) (?:should|do|must|would) (?:i|you|we) (?:read|start with) first$"),
    re.compile(r"^(?:where|how) (?:should|do|can) (?:i|we) (?:start|begin)(?: with| reading)? (?:the )?(?P<x>.+?)(?: books| series)?$"),
    re.compile(rf"^(?:por onde|por qual livro|com qual livro|como) (?:eu )?(?:devo |posso )?(?:comeco|comecar|inicio|iniciar)(?: a ler| l"
               rf"er)? (?:a serie |a saga |os livros )?(?:{_PT_OF} |com )?(?P<x>.+)$"),
]
_NEXT = [
    re.compile(r"^(?:and )?(?:what|which(?: book| one)?|whats|what s) (?:comes |is |s |book comes )?(?:next |right )?(?:after|following) "
               r"(?P<x>.+?)(?: in the series| in order)?$"),
    re.compile(r"^(?:and )?(?:what s|whats|what is|which is) (?:the )?next(?: book| one)?"
               r"(?: (?:after|in the series after|in) (?P<x>.+?))?$"),
    re.compile(r"^(?:what should i|what do i|what to) read (?:next )?after (?P<x>.+)$"),
    re.compile(r"^(?:and )?(?:after|next after) (?P<x>.+?)(?: what)?$"),
    re.compile(rf"^(?:e )?(?:qual livro|que livro|qual|o que) (?:vem|e o proximo|e o seguinte|seria o proximo|leio|devo ler) (?:depois|ap"
               rf"os|em seguida)(?: {_PT_OF})? ?(?P<x>.*)$"),
    re.compile(rf"^(?:e )?(?:qual e |qual )?o (?:proximo|seguinte)(?: livro)?(?: (?:depois|apos) (?:{_PT_OF} )?(?P<x>.+?)| {_PT_OF} (?P<y"
               rf">.+?))?$"),
    re.compile(rf"^o que (?:eu )?(?:leio|devo ler|ler) depois (?:{_PT_OF} )?(?P<x>.+)$"),
    re.compile(rf"^e depois (?:{_PT_OF} )?(?P<x>.+)$"),
    re.compile(r"^(?:e depois|e agora|e o proximo|e o seguinte|o proximo|and then|and next|and after that|after that|what next|next one|n"
               r"ext)(?P<x>)$"),
    re.compile(r"^(?:and )?(?:what|which(?: one| book)?) (?:comes|goes|follows) (?:next|after(?: that| it| this)?)$(?P<x>)"),
    # "which harry potter book comes after the goblet of fire"
    re.compile(r"^(?:what|which) (?P<s>.+?) (?:book|novel|one|volume|part) (?:comes|is|goes) (?:next )?after (?:the )?(?P<x>.+?)$"),
    # "i finished catching fire what should i read next", "terminei x qual e o proximo"
    re.compile(r"^(?:i )?(?:just )?(?:finished|completed|read|am done with|m done with) (?:reading )?(?P<x>.+?) "
               r"(?:what|which(?: book| one)?|whats) (?:should i read|do i read|comes|is|s) ?next$"),
    re.compile(r"^(?:eu )?(?:terminei|acabei|acabei de ler|li) (?:de ler )?(?:o |a |os |as )?(?P<x>.+?) "
               r"(?:qual (?:e )?o proximo|qual vem depois|o que vem depois|o que (?:eu )?leio (?:agora|depois|em seguida)|e agora)$"),
    # "qual a continuacao de jogos vorazes", "what is the sequel to the hobbit"
    re.compile(rf"^(?:qual (?:e )?)?(?:a )?(?:continuacao|sequencia) (?:{_PT_OF}) (?P<x>.+)$"),
    re.compile(r"^(?:(?:what|which) (?:is |s )?)?(?:the )?(?:sequel|next book) (?:to|of|after) (?P<x>.+)$"),
]
# "what is the second book in The Hunger Games", "qual e o terceiro livro de Duna"
_AT = [
    re.compile(r"^(?:what s|whats|what is|which is|which one is|tell me) (?:the )?(?P<n>\w+)(?: book| novel| one| volume| part)? (?:in|of"
               r") (?:the )?(?P<x>.+?)(?: series| saga| books)?$"),
    re.compile(r"^(?:what s|whats|what is|which is) (?:book|volume|part|number) (?P<n>\w+) (?:in|of) "
               r"(?:the )?(?P<x>.+?)(?: series| saga)?$"),
    re.compile(rf"^(?:qual (?:e )?)?o (?P<n>\w+) (?:livro |volume )?(?:{_PT_OF}|na serie|da serie|da saga) (?P<x>.+)$"),
    re.compile(rf"^(?:qual (?:e )?)?o (?:livro|volume|numero) (?P<n>\w+) (?:{_PT_OF}) (?P<x>.+)$"),
]
_AT += [
    # "which percy jackson book is the first one", "qual livro de duna e o primeiro"
    re.compile(r"^(?:which|what) (?P<x>.+?) (?:book|novel|volume|part) (?:is|comes|goes) (?:the )?(?P<n>\w+)(?: one| book| in the series|"
               r" in order)?$"),
    re.compile(rf"^qual (?:livro|volume) (?:{_PT_OF} |da serie |da saga )(?P<x>.+?) (?:e|vem) (?:o |a )?(?P<n>\w+)(?: livro)?$"),
    # "i read the first hunger games, which is the second", "li o primeiro de jogos vorazes, qual e o segundo"
    re.compile(r"^i (?:just )?(?:read|finished|loved|liked) the \w+(?: book| one)? (?:of |in )?(?:the )?(?P<x>.+?) (?:what|which|whats)(?"
               r": is| s)? the (?P<n>\w+)(?: one| book)?$"),
    re.compile(rf"^(?:eu )?(?:ja )?(?:li|terminei|acabei(?: de ler)?|gostei) (?:d?o |d?a )\w+(?: livro)? (?:{_PT_OF}) (?P<x>.+?) (?:qual "
               rf"(?:e |eh )?|e )?o (?P<n>\w+)(?: livro)?$"),
]
_POSITION = re.compile(r"^(?:the |o |a )?(?:book |livro |number |numero |volume |vol |n |part |parte )?(?P<n>\d+)(?: book| livro)?$")

# -- tastes and memory --------------------------------------------------------------------------
_LIKE_VERB = re.compile(
    r"^(?:i (?:really |absolutely |just |also |do )?(?:love|like|enjoy|adore|prefer|dig)|i m (?:really |also )?(?:into|a (?:big |huge )?f"
    r"an of)|"
    r"im (?:really |also )?(?:into|a (?:big |huge )?fan of)|my favou?rites? (?:genres? )?(?:is|are)|"
    rf"(?:eu )?(?:tambem )?(?:amo|adoro|gosto (?:muito |bastante )?(?:{_PT_OF})?|curto|prefiro|sou (?:muito )?fa (?:{_PT_OF})?)|"
    r"(?:meu|meus) (?:genero|generos) (?:favorito|favoritos|preferido|preferidos) (?:e|sao))(?: |$)"
)
_DISLIKE_VERB = re.compile(
    r"^(?:i (?:really |also )?(?:hate|dislike|detest|loathe|cant stand|can t stand|dont like|don t like|do not like|dont enjoy|do not enj"
    r"oy|dont want|do not want)|"
    r"i m not (?:into|a fan of)|im not (?:into|a fan of)|not a fan of|no more|"
    rf"(?:eu )?(?:tambem )?(?:odeio|detesto|nao gosto (?:muito )?(?:{_PT_OF})?|nao curto|nao suporto|nao aguento|nao quero)|nao sou fa (?"
    rf":{_PT_OF})?)(?: |$)"
)
# Tastes stated after the genre: "romance isn't my thing", "terror nao e pra mim", "fantasy is my jam".
_DISLIKE_AFTER = re.compile(r" (?:isnt|is not|s not|aren t|arent|are not) (?:really )?(?:my thing|for me|my cup of tea|my style|my jam)$|"
                            r" (?:nao eh|nao sao) (?:muito )?(?:pra mim|para mim|minha praia|a minha praia|o meu estilo|meu estilo|comigo"
                            r")$|"
                            r" (?:bores me|is boring|eh chato|sao chatos)$")
_LIKE_AFTER = re.compile(r" (?:is|are|s) (?:my thing|my jam|my favou?rite(?: genres?)?|the best)$|"
                         r" (?:eh|sao) (?:minha praia|a minha praia|o meu favorito|os meus favoritos|meu favorito|meus favoritos|tudo pra"
                         r" mim)$")
# Folding turns "é" (is) into "e" (and); these are the verb, so they must not split clauses.
_IS = re.compile(r"(?<= )e(?= (?:pra mim|para mim|minha praia|a minha praia|o meu|meu favorito|tudo pra mim|chato)\b)|(?<=\bnao )e\b")
_NOT = re.compile(rf"^(?:not|no|nor|nao|nem|never|nunca)(?: {_PT_OF})?(?: |$)")
_CLAUSE = re.compile(r" (?:and|but|while|whereas|although|e|mas|porem|enquanto|so que) |(?= " + r"(?:me indica|me indique|indica|indique|"
                                                                                                r"me recomenda|me recomende|recomenda|rec"
                                                                                                r"omende|me mostra|me mostre|sugere|sugira|"
                     r"me sugere|me da|manda|me manda|recommend|suggest|give me|show me|find me)\b)")
# An ask starts a clause afresh: "nao quero nada de terror, me indica um suspense" dislikes horror, asks for suspense.
_ASK_VERB = re.compile(r"^(?:me indica|me indique|indica|indique|me recomenda|me recomende|recomenda|recomende|me mostra|me mostre|sugere"
                       r"|sugira|"
                       r"me sugere|me da|manda|me manda|recommend|suggest|give me|show me|find me)\b")
MEMORY_SHOW = re.compile(
    r"^(?:what|o que|que) (?:else )?(?:do |did |have )?(?:you |voce )?(?:know|remember|learned|recall|have|lembra|sabe|aprendeu|guardou|t"
    r"em)(?: you)? "
    r"(?:about me|of me|on me|about my tastes?|de mim|sobre mim|a meu respeito|do meu gosto|dos meus gostos|sobre (?:o )?meu gosto|sobre "
    r"meus gostos)$|"
    r"^(?:what are |show me |show |tell me |list )?(?:my )?(?:tastes|preferences|taste profile|profile|likes and dislikes)$|"
    r"^(?:what do i like|do que eu gosto|o que eu gosto)$|"
    r"^(?:(?:quais sao|mostre|mostra|me mostre|me diga) )?(?:os |as |o )?(?:meus gostos|minhas preferencias|meu perfil)$"
)
MEMORY_FORGET = re.compile(
    r"^(?:please |por favor )?(?:(?:can|could|would) you |(?:voce )?(?:pode|poderia|podes) )?(?:please |por favor )?(?:(?:forget|erase|de"
    r"lete|clear|wipe|reset|remove|drop)(?: all| everything)?(?: about)?(?: what i (?:like|told you|said)| i (?:said|told you)| me| my (?"
    r":data|tastes?|preferences|profile|likes|history|memory)| everything| it all| all that| that)*"
    r"|(?:esqueca|esquece|esquecer|apague|apaga|limpe|limpa|zere|zera|exclua|exclui|delete|remova|remove)(?: tudo| o que (?:eu )?(?:gosto"
    r"|te disse|falei)| (?:o )?que (?:eu )?(?:te )?(?:disse|falei|contei)| de mim| isso| meus (?:dados|gostos)| minhas preferencias| meu "
    r"perfil| sobre mim)*)"
    r"(?: please| por favor)?$"
)

# -- not about books ----------------------------------------------------------------------------
_OFF_TOPIC = re.compile(
    r"(?:^| )(?:weather|forecast|temperature|raining|sunny|news|headlines|stock|stocks|bitcoin|crypto|exchange rate|"
    r"football|soccer|basketball|baseball|match score|who won|recipe|recipes|cook|cooking|joke|jokes|what time is it|what day is it|"
    r"capital of|president of|translate|calculate|homework|lottery|flight|flights|hotel|hotels|taxi|uber|restaurant|"
    r"table for|a table|reservation|reserve a|book me a (?:table|flight|room|hotel|taxi|ticket)|reserva|reservar|mesa para|"
    r"voo|voos|passagem|passagens|restaurante|"
    r"previsao do tempo|o tempo hoje|vai chover|chovendo|temperatura|clima hoje|clima amanha|noticias|cotacao|dolar|futebol|"
    r"jogo do|placar|quem ganhou|receita|receitas|cozinhar|piada|piadas|que horas sao|que dia e hoje|capital d[aoe]|presidente d[aoe]|tra"
    r"duza|traduz|calcule|loteria|"
    # errands, prices, gadgets, sport and schoolwork: words a reader asking for books seldom uses without a book word
    r"pizza|pizzas|burger|sushi|lunch|dinner|nearby|near me|wifi|wi fi|router|password|printer|my (?:phone|laptop|computer|car)|"
    r"tickets?|price of|how much (?:is|does|do|are|for)|euros?|dollars?|headache|parking|"
    r"almoco|jantar|perto de mim|aqui perto|senha|impressora|meu (?:celular|computador|carro|notebook)|ingressos?|preco|"
    r"quanto custa|quanto e|quanto sai|medico|remedio|dor de cabeca|estacionamento|time do|melhor time|campeonato|"
    r"dever de casa|dever de|licao de casa|tarefa de|matematica|conserta|consertar|fix my|help me fix|repair my)(?: |$)"
    r"|\d+ ?(?:plus|minus|times|mais|menos|vezes|[x*/+-]) ?\d+"
)
# A sum, not a title: "2 + 2", "3*4", "10 / 2" ("11/22/63" and "#1-3" are titles and positions).
_MATH = re.compile(r"\d+(?:[.,]\d+)? ?[+*×÷^] ?\d+|\d+ [-/] \d+")
_BOOK_VERB = re.compile(r"(?:^| )book (?:me|us|a|an|my|the) ")
_BOOK_CUE = re.compile(
    r"(?:^| )(?:books?|novels?|read|reading|reads|author|authors|writer|series|story|stories|library|catalog|"
    r"livros?|ler|leitura|leituras|autor|autora|escritor|escritora|serie|saga|historia|historias|romance|romances|biblioteca|catalogo)(?:"
    r" |$)"
)
SURPRISE = re.compile(r"(?:^| )(?:surprise me|surpreenda me|me surpreenda|me surpreende|surprise|surpresa|random|aleatorio|aleatoria|anyt"
                      r"hing|qualquer coisa|tanto faz|whatever)(?: |$)")


@dataclasses.dataclass(frozen=True)
class Tastes:
    likes: tuple[str, ...]  # catalog genre names
    dislikes: tuple[str, ...]
    rest: str  # clauses that stated no taste ("recommend something")
    asked: tuple[str, ...] = ()  # genres named before any taste verb: "fantasy please, but no romance"


def strip_polite(folded: str) -> str:
    return _POLITE.sub("", folded).strip() or folded


def author_phrase(folded: str) -> str:
    return _first(_AUTHOR, folded)


def author_info_phrase(folded: str) -> str:
    return _first(_AUTHOR_INFO, folded)


def series_phrase(folded: str) -> str:
    return _first(_SERIES, folded)


def next_phrase(folded: str) -> str | None:
    """What "what comes after X" names ('' when it names nothing: "what's next?"), or None."""
    for pattern in _NEXT:
        match = pattern.match(folded)
        if match:
            groups = match.groupdict()
            phrase = (groups.get("x") or groups.get("y") or "").strip()
            series = (groups.get("s") or "").strip()
            # "which harry potter book comes after the goblet of fire": titles of a series
            # usually carry its name ("harry potter and the goblet of fire")
            return f"{series} and the {phrase}" if series and series not in phrase else phrase
    return None


def series_at(folded: str) -> tuple[str, str] | None:
    """'what is the second book in the hunger games' -> ('second', 'the hunger games'), or None."""
    for pattern in _AT:
        match = pattern.match(folded)
        if match:
            return match.group("n"), match.group("x").strip()
    return None


def position_of(phrase: str) -> int:
    """'2', 'book 2', 'o 2', 'numero 3' -> the series position; 0 when the phrase is no number."""
    match = _POSITION.match(phrase.strip())
    return int(match.group("n")) if match else 0


def tastes(folded: str, language: str) -> Tastes | None:
    """'I love fantasy and I hate romance' -> likes and dislikes of genres, or None when the
    message states no genre taste (a liked title, say, is for the caller to handle)."""
    likes: list[str] = []
    dislikes: list[str] = []
    rest: list[str] = []
    asked: list[str] = []
    polarity = 0  # 1 like, -1 dislike, 0 none yet
    stated = False
    for clause in _CLAUSE.split(_IS.sub("eh", folded)):
        clause = clause.strip()
        if _ASK_VERB.match(clause):
            polarity = 0
        verb_like, verb_dislike = _LIKE_VERB.match(clause), _DISLIKE_VERB.match(clause)
        after_dislike, after_like = _DISLIKE_AFTER.search(clause), _LIKE_AFTER.search(clause)
        if after_dislike or after_like:
            polarity = -1 if after_dislike else 1
            clause = clause[: (after_dislike or after_like).start()]
            verb_like, verb_dislike = after_like, after_dislike
        elif verb_dislike:
            polarity, clause = -1, clause[verb_dislike.end():]
        elif verb_like:
            polarity, clause = 1, clause[verb_like.end():]
        elif _NOT.match(clause) and polarity:
            polarity, clause = -1, clause[_NOT.match(clause).end():]
        pairs = lexicon.genre_phrases(clause, language)
        found = [genre for _, genre in pairs]
        if (verb_like or verb_dislike) and not found:
            return None  # "I loved Dune": a book, not a genre
        if found and polarity:
            stated = True
            (likes if polarity > 0 else dislikes).extend(found)
        elif found:
            asked.extend(found)
        leftover = f" {clause} "
        for phrase, _ in pairs:
            leftover = leftover.replace(f" {phrase} ", " ")
        rest.append(leftover.strip())
    if not stated:
        return None
    dislikes = list(dict.fromkeys(dislikes))
    likes = [g for g in dict.fromkeys(likes) if g not in dislikes]
    asked = [g for g in dict.fromkeys(asked) if g not in dislikes and g not in likes]
    return Tastes(tuple(likes), tuple(dislikes), " ".join(" ".join(rest).split()), tuple(asked))


def is_off_topic(folded: str, raw: str = "") -> bool:
    """Weather, news, sums, travel...: a cue of another topic and no word about books ("book"
    as a verb, "book me a flight", does not count)."""
    if _MATH.search(raw):
        return True
    about_books = _BOOK_CUE.search(_BOOK_VERB.sub(" ", folded))
    return bool(_OFF_TOPIC.search(folded)) and not about_books


def _first(patterns: list[re.Pattern], folded: str) -> str:
    for pattern in patterns:
        match = pattern.match(folded)
        if match and match.group("x").strip():
            return match.group("x").strip()
    return ""
