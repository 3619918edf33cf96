"""Words the agent understands: Portuguese titles, genre names in both languages, moods.

Every key is folded (lower-case, no accents or punctuation; see `text.fold`), so lookups take
folded user text. Titles map to the catalog's English titles, also folded; the resolver still
checks the catalog, so an entry for a book the catalog lacks simply finds nothing.
"""
from __future__ import annotations

import re

from smartlib_core.text import fold

# Brazilian and European Portuguese editions of books in the starter catalog and beyond.
PT_TITLES: dict[str, str] = {
    "duna": "dune",
    "o messias de duna": "dune messiah",
    "filhos de duna": "children of dune",
    "fundacao": "foundation",
    "fundacao e imperio": "foundation and empire",
    "segunda fundacao": "second foundation",
    "eu robo": "i robot",
    "o hobbit": "the hobbit",
    "hobbit": "the hobbit",
    "o senhor dos aneis": "the lord of the rings",
    "a sociedade do anel": "the fellowship of the ring",
    "as duas torres": "the two towers",
    "o retorno do rei": "the return of the king",
    "o silmarillion": "the silmarillion",
    "harry potter e a pedra filosofal": "harry potter and the philosophers stone",
    "harry potter e a camara secreta": "harry potter and the chamber of secrets",
    "harry potter e o prisioneiro de azkaban": "harry potter and the prisoner of azkaban",
    "harry potter e o calice de fogo": "harry potter and the goblet of fire",
    "a guerra dos tronos": "a game of thrones",
    "guerra dos tronos": "a game of thrones",
    "a furia dos reis": "a clash of kings",
    "a tormenta de espadas": "a storm of swords",
    "as cronicas de gelo e fogo": "a song of ice and fire",
    "o nome do vento": "the name of the wind",
    "o temor do sabio": "the wise mans fear",
    "o imperio final": "the final empire",
    "o caminho dos reis": "the way of kings",
    "o olho do mundo": "the eye of the world",
    "a roda do tempo": "the wheel of time",
    "as cronicas de narnia": "chronicles of narnia",
    "o sobrinho do mago": "the magicians nephew",
    "o leao a feiticeira e o guarda roupa": "the lion the witch and the wardrobe",
    "deuses americanos": "american gods",
    "o oceano no fim do caminho": "the ocean at the end of the lane",
    "o circo da noite": "the night circus",
    "a princesa prometida": "the princess bride",
    "o ultimo unicornio": "the last unicorn",
    "o castelo animado": "howls moving castle",
    "a bussola de ouro": "the golden compass",
    "a faca sutil": "the subtle knife",
    "a luneta ambar": "the amber spyglass",
    "a quinta estacao": "the fifth season",
    "o ladrao de raios": "the lightning thief",
    "o mago de terramar": "a wizard of earthsea",
    "o guia do mochileiro das galaxias": "the hitchhikers guide to the galaxy",
    "o restaurante no fim do universo": "the restaurant at the end of the universe",
    "o jogo do exterminador": "enders game",
    "orador dos mortos": "speaker for the dead",
    "a mao esquerda da escuridao": "the left hand of darkness",
    "os despossuidos": "the dispossessed",
    "o marciano": "the martian",
    "devoradores de estrelas": "project hail mary",
    "androides sonham com ovelhas eletricas": "do androids dream of electric sheep",
    "o fim da infancia": "childhoods end",
    "2001 uma odisseia no espaco": "2001 a space odyssey",
    "encontro com rama": "rendezvous with rama",
    "o problema dos tres corpos": "the three body problem",
    "a guerra eterna": "the forever war",
    "jogos vorazes": "the hunger games",
    "em chamas": "catching fire",
    "a esperanca": "mockingjay",
    "correr ou morrer": "the maze runner",
    "o doador de memorias": "the giver",
    "o doador": "the giver",
    "a rainha vermelha": "red queen",
    "a parabola do semeador": "parable of the sower",
    "a estrada": "the road",
    "o iluminado": "the shining",
    "a coisa": "it",
    "o cemiterio": "pet sematary",
    "cemiterio maldito": "pet sematary",
    "a assombracao da casa da colina": "the haunting of hill house",
    "caixa de passaros": "bird box",
    "crepusculo": "twilight",
    "lua nova": "new moon",
    "entrevista com o vampiro": "interview with the vampire",
    "cidade dos ossos": "city of bones",
    "a teia de charlotte": "charlottes web",
    "a fantastica fabrica de chocolate": "charlie and the chocolate factory",
    "o bom gigante amigo": "the bfg",
    "o maravilhoso magico de oz": "the wonderful wizard of oz",
    "o magico de oz": "the wonderful wizard of oz",
    "onde vivem os monstros": "where the wild things are",
    "o gato de chapeu": "the cat in the hat",
    "a lagarta comilona": "the very hungry caterpillar",
    "o ursinho pooh": "winnie the pooh",
    "buracos": "holes",
    "a ilha do tesouro": "treasure island",
    "vinte mil leguas submarinas": "twenty thousand leagues under the sea",
    "viagem ao centro da terra": "journey to the center of the earth",
    "a volta ao mundo em 80 dias": "around the world in eighty days",
    "a volta ao mundo em oitenta dias": "around the world in eighty days",
    "belas maldicoes": "good omens",
    "diario de um banana": "diary of a wimpy kid",
    "tres homens num barco": "three men in a boat",
    "a cancao de aquiles": "the song of achilles",
    "mitologia nordica": "norse mythology",
    "orgulho e preconceito": "pride and prejudice",
    "razao e sensibilidade": "sense and sensibility",
    "persuasao": "persuasion",
    "grandes esperancas": "great expectations",
    "um conto de duas cidades": "a tale of two cities",
    "guerra e paz": "war and peace",
    "crime e castigo": "crime and punishment",
    "os irmaos karamazov": "the brothers karamazov",
    "o idiota": "the idiot",
    "o morro dos ventos uivantes": "wuthering heights",
    "a revolucao dos bichos": "animal farm",
    "admiravel mundo novo": "brave new world",
    "o sol e para todos": "to kill a mockingbird",
    "o grande gatsby": "the great gatsby",
    "o apanhador no campo de centeio": "the catcher in the rye",
    "ratos e homens": "of mice and men",
    "as vinhas da ira": "the grapes of wrath",
    "a leste do eden": "east of eden",
    "os miseraveis": "les miserables",
    "o conde de monte cristo": "the count of monte cristo",
    "o retrato de dorian gray": "the picture of dorian gray",
    "o mundo se despedaca": "things fall apart",
    "cem anos de solidao": "one hundred years of solitude",
    "o velho e o mar": "the old man and the sea",
    "o estrangeiro": "the stranger",
    "e o vento levou": "gone with the wind",
    "e nao sobrou nenhum": "and then there were none",
    "assassinato no expresso do oriente": "murder on the orient express",
    "o assassinato de roger ackroyd": "the murder of roger ackroyd",
    "morte no nilo": "death on the nile",
    "um estudo em vermelho": "a study in scarlet",
    "o signo dos quatro": "the sign of four",
    "as aventuras de sherlock holmes": "the adventures of sherlock holmes",
    "o cao dos baskervilles": "the hound of the baskervilles",
    "garota exemplar": "gone girl",
    "os homens que nao amavam as mulheres": "the girl with the dragon tattoo",
    "o codigo da vinci": "the da vinci code",
    "a paciente silenciosa": "the silent patient",
    "a garota no trem": "the girl on the train",
    "o silencio dos inocentes": "the silence of the lambs",
    "o dia do chacal": "the day of the jackal",
    "o espiao que saiu do frio": "the spy who came in from the cold",
    "o poderoso chefao": "the godfather",
    "o sono eterno": "the big sleep",
    "o falcao maltes": "the maltese falcon",
    "o talentoso ripley": "the talented mr ripley",
    "sobre meninos e lobos": "mystic river",
    "onde os velhos nao tem vez": "no country for old men",
    "diario de uma paixao": "the notebook",
    "como eu era antes de voce": "me before you",
    "e assim que acaba": "it ends with us",
    "o duque e eu": "the duke and i",
    "toda luz que nao podemos ver": "all the light we cannot see",
    "o rouxinol": "the nightingale",
    "os pilares da terra": "the pillars of the earth",
    "o nome da rosa": "the name of the rose",
    "a resposta": "the help",
    "memorias de uma gueixa": "memoirs of a geisha",
    "os sete maridos de evelyn hugo": "the seven husbands of evelyn hugo",
    "o cacador de pipas": "the kite runner",
    "a cidade do sol": "a thousand splendid suns",
    "um lugar bem longe daqui": "where the crawdads sing",
    "as aventuras de pi": "life of pi",
    "a vida de pi": "life of pi",
    "um homem chamado ove": "a man called ove",
    "pessoas normais": "normal people",
    "os vestigios do dia": "the remains of the day",
    "reparacao": "atonement",
    "a historia secreta": "the secret history",
    "a sangue frio": "in cold blood",
    "fora de serie": "outliers",
    "no ar rarefeito": "into thin air",
    "armas germes e aco": "guns germs and steel",
    "uma breve historia do tempo": "a brief history of time",
    "o gene egoista": "the selfish gene",
    "breve historia de quase tudo": "a short history of nearly everything",
    "o imperador de todos os males": "the emperor of all maladies",
    "a origem das especies": "on the origin of species",
    "longa caminhada ate a liberdade": "long walk to freedom",
    "a autobiografia de malcolm x": "the autobiography of malcolm x",
    "a menina da montanha": "educated",
    "minha historia": "becoming",
    "o castelo de vidro": "the glass castle",
    "as cinzas de angela": "angelas ashes",
    "a noite": "night",
    "o diario de anne frank": "the diary of a young girl",
    "folhas de relva": "leaves of grass",
    "outros jeitos de usar a boca": "milk and honey",
    "a divina comedia": "the divine comedy",
    "o paraiso perdido": "paradise lost",
    "o profeta": "the prophet",
    "meditacoes": "meditations",
    "a republica": "the republic",
    "alem do bem e do mal": "beyond good and evil",
    "o principe": "the prince",
    "o mito de sisifo": "the myth of sisyphus",
    "habitos atomicos": "atomic habits",
    "como fazer amigos e influenciar pessoas": "how to win friends and influence people",
    "os 7 habitos das pessoas altamente eficazes": "the 7 habits of highly effective people",
    "o poder do agora": "the power of now",
    "rapido e devagar": "thinking fast and slow",
    "em busca de sentido": "mans search for meaning",
    "romeu e julieta": "romeo and juliet",
    "rei lear": "king lear",
    "a morte do caixeiro viajante": "death of a salesman",
    "um bonde chamado desejo": "a streetcar named desire",
    "a importancia de ser prudente": "the importance of being earnest",
}

# Catalog genres and the words people use for them. Values are catalog genre names.
EN_GENRES: dict[str, str] = {
    "fantasy": "Fantasy", "epic fantasy": "Epic Fantasy", "high fantasy": "High Fantasy",
    "urban fantasy": "Urban Fantasy", "science fiction": "Science Fiction", "sci fi": "Science Fiction",
    "scifi": "Science Fiction", "sf": "Science Fiction", "space opera": "Space Opera",
    "cyberpunk": "Cyberpunk", "dystopia": "Dystopia", "dystopian": "Dystopia",
    "post apocalyptic": "Post Apocalyptic", "romance": "Romance", "romantic": "Romance",
    "love stories": "Romance", "mystery": "Mystery", "mysteries": "Mystery", "detective": "Detective",
    "whodunit": "Mystery", "cozy mystery": "Cozy Mystery", "thriller": "Thriller", "thrillers": "Thriller",
    "suspense": "Suspense", "crime": "Crime", "horror": "Horror", "scary": "Horror", "gothic": "Gothic",
    "vampire": "Vampires", "vampires": "Vampires", "paranormal": "Paranormal",
    "historical fiction": "Historical Fiction", "history": "History", "biography": "Biography",
    "biographies": "Biography", "memoir": "Memoir", "memoirs": "Memoir", "autobiography": "Autobiography",
    "poetry": "Poetry", "poems": "Poetry", "classics": "Classics", "classic": "Classics",
    "young adult": "Young Adult", "ya": "Young Adult", "children": "Childrens", "childrens": "Childrens",
    "kids": "Childrens", "middle grade": "Middle Grade", "picture books": "Picture Books",
    "adventure": "Adventure", "humor": "Humor", "humour": "Humor", "funny": "Humor", "comedy": "Comedy",
    "philosophy": "Philosophy", "nonfiction": "Nonfiction", "non fiction": "Nonfiction",
    "self help": "Self Help", "science": "Science", "popular science": "Popular Science",
    "graphic novels": "Graphic Novels", "graphic novel": "Graphic Novels", "comics": "Comics",
    "comic books": "Comics", "mythology": "Mythology", "myths": "Mythology", "plays": "Plays",
    "drama": "Drama", "short stories": "Short Stories", "business": "Business", "psychology": "Psychology",
    "politics": "Politics", "war": "War", "espionage": "Espionage", "spy": "Espionage",
    "magical realism": "Magical Realism", "literary fiction": "Literary Fiction", "magic": "Magic",
    "witches": "Witches", "dragons": "Dragons", "zombies": "Zombies", "pirates": "Pirates",
    "time travel": "Time Travel", "true crime": "True Crime", "contemporary": "Contemporary",
    "historical romance": "Historical Romance", "chick lit": "Chick Lit", "retellings": "Retellings",
    "religion": "Religion", "spirituality": "Spirituality", "travel": "Travel", "economics": "Economics",
    # plurals and everyday words for the same genres
    "fantasies": "Fantasy", "fantasy novels": "Fantasy", "dystopias": "Dystopia", "dystopian novels": "Dystopia",
    "romances": "Romance", "love story": "Romance", "romcom": "Romance", "rom com": "Romance", "romcoms": "Romance",
    "whodunits": "Mystery", "whodunnit": "Mystery", "whodunnits": "Mystery", "detective stories": "Detective",
    "detectives": "Detective", "crime novels": "Crime", "crime fiction": "Crime", "spooky": "Horror", "creepy": "Horror",
    "ghost stories": "Horror", "horror stories": "Horror", "horrors": "Horror", "classic novels": "Classics",
    "poem": "Poetry", "comic": "Comics", "manga": "Manga", "westerns": "Westerns", "western": "Westerns",
    "biographical": "Biography", "mythological": "Mythology", "historical novels": "Historical Fiction",
    "spy novels": "Espionage", "spy thrillers": "Espionage", "space operas": "Space Opera", "fairy tales": "Fairy Tales",
}
PT_GENRES: dict[str, str] = {
    "fantasia": "Fantasy", "fantasia epica": "Epic Fantasy", "alta fantasia": "High Fantasy",
    "fantasia urbana": "Urban Fantasy", "ficcao cientifica": "Science Fiction", "ficcao cientificas": "Science Fiction",
    "opera espacial": "Space Opera", "distopia": "Dystopia", "distopias": "Dystopia", "distopico": "Dystopia",
    "distopicos": "Dystopia", "pos apocaliptico": "Post Apocalyptic", "romance": "Romance",
    "romances": "Romance", "romantico": "Romance", "romanticos": "Romance", "misterio": "Mystery",
    "misterios": "Mystery", "policial": "Crime", "policiais": "Crime", "detetive": "Detective",
    "suspense": "Suspense", "terror": "Horror", "horror": "Horror", "assustador": "Horror",
    "assustadores": "Horror", "gotico": "Gothic", "vampiros": "Vampires", "sobrenatural": "Paranormal",
    "ficcao historica": "Historical Fiction", "historia": "History", "biografia": "Biography",
    "biografias": "Biography", "memorias": "Memoir", "autobiografia": "Autobiography", "poesia": "Poetry",
    "poemas": "Poetry", "classicos": "Classics", "classico": "Classics", "jovem adulto": "Young Adult",
    "juvenil": "Young Adult", "juvenis": "Young Adult", "infantil": "Childrens", "infantis": "Childrens",
    "criancas": "Childrens", "aventura": "Adventure", "aventuras": "Adventure", "humor": "Humor",
    "engracado": "Humor", "engracados": "Humor", "engracada": "Humor", "engracadas": "Humor", "comedia": "Comedy", "filosofia": "Philosophy",
    "nao ficcao": "Nonfiction", "autoajuda": "Self Help", "auto ajuda": "Self Help", "ciencia": "Science",
    "divulgacao cientifica": "Popular Science", "quadrinhos": "Comics", "hq": "Comics", "hqs": "Comics",
    "romance grafico": "Graphic Novels", "romances graficos": "Graphic Novels", "mitologia": "Mythology",
    "teatro": "Plays", "pecas": "Plays", "drama": "Drama", "contos": "Short Stories", "negocios": "Business",
    "psicologia": "Psychology", "politica": "Politics", "guerra": "War", "espionagem": "Espionage",
    "realismo magico": "Magical Realism", "magia": "Magic", "bruxas": "Witches", "dragoes": "Dragons",
    "zumbis": "Zombies", "piratas": "Pirates", "viagem no tempo": "Time Travel", "crime real": "True Crime",
    "romance historico": "Historical Romance", "religiao": "Religion", "espiritualidade": "Spirituality",
    "viagem": "Travel", "economia": "Economics", "thriller": "Thriller", "thrillers": "Thriller",
    "ficcao literaria": "Literary Fiction", "cyberpunk": "Cyberpunk", "sci fi": "Science Fiction",
    # plurais e jeitos do dia a dia de dizer os mesmos gêneros
    "fantasias": "Fantasy", "ficcoes cientificas": "Science Fiction", "distopica": "Dystopia", "distopicas": "Dystopia",
    "historias de amor": "Romance", "historia de amor": "Romance", "agua com acucar": "Romance", "suspenses": "Suspense",
    "de medo": "Horror", "assustadora": "Horror", "assustadoras": "Horror", "sobrenaturais": "Paranormal",
    "autobiografias": "Autobiography", "contos de fadas": "Fairy Tales", "romances historicos": "Historical Romance",
    "romances policiais": "Crime", "romance policial": "Crime", "historias de detetive": "Detective",
    "detetives": "Detective", "quadrinho": "Comics", "mangas": "Manga", "faroeste": "Westerns", "bang bang": "Westerns",
    "poema": "Poetry", "livros de historia": "History", "classicos da literatura": "Classics",
}
# Portuguese names for catalog genres, used when answering in Portuguese.
GENRE_PT: dict[str, str] = {
    "Fantasy": "fantasia", "Epic Fantasy": "fantasia épica", "High Fantasy": "alta fantasia",
    "Urban Fantasy": "fantasia urbana", "Science Fiction": "ficção científica", "Space Opera": "ópera espacial",
    "Dystopia": "distopia", "Post Apocalyptic": "pós-apocalíptico", "Romance": "romance", "Mystery": "mistério",
    "Crime": "policial", "Detective": "detetive", "Suspense": "suspense", "Horror": "terror", "Gothic": "gótico",
    "Vampires": "vampiros", "Paranormal": "sobrenatural", "Historical Fiction": "ficção histórica",
    "History": "história", "Biography": "biografia", "Memoir": "memórias", "Autobiography": "autobiografia",
    "Poetry": "poesia", "Classics": "clássicos", "Young Adult": "jovem adulto", "Childrens": "infantil",
    "Middle Grade": "infantojuvenil", "Adventure": "aventura", "Humor": "humor", "Comedy": "comédia",
    "Philosophy": "filosofia", "Nonfiction": "não ficção", "Self Help": "autoajuda", "Science": "ciência",
    "Comics": "quadrinhos", "Graphic Novels": "romance gráfico", "Mythology": "mitologia", "Plays": "teatro",
    "Drama": "drama", "Short Stories": "contos", "Business": "negócios", "Psychology": "psicologia",
    "Politics": "política", "War": "guerra", "Espionage": "espionagem", "Magical Realism": "realismo mágico",
    "Magic": "magia", "Witches": "bruxas", "Dragons": "dragões", "Zombies": "zumbis", "Pirates": "piratas",
    "Time Travel": "viagem no tempo", "True Crime": "crime real", "Historical Romance": "romance histórico",
    "Religion": "religião", "Spirituality": "espiritualidade", "Travel": "viagem", "Economics": "economia",
    "Thriller": "thriller", "Fiction": "ficção", "Literature": "literatura", "Literary Fiction": "ficção literária",
    "Contemporary": "contemporâneo", "Cyberpunk": "cyberpunk", "Magic Realism": "realismo mágico",
    "Fairy Tales": "contos de fadas", "Historical": "histórico", "Novels": "romances",
    "Picture Books": "livros ilustrados", "Cozy Mystery": "mistério aconchegante", "Chick Lit": "chick lit",
    "Retellings": "releituras", "Psychological Thriller": "thriller psicológico", "Spy Thriller": "thriller de espionagem",
    "Legal Thriller": "thriller jurídico", "Coming Of Age": "amadurecimento", "Southern Gothic": "gótico sulista",
    "Military Fiction": "ficção militar", "Hard Science Fiction": "ficção científica hard", "Essays": "ensaios",
    "Contemporary Romance": "romance contemporâneo", "Historical Fantasy": "fantasia histórica", "Novella": "novela",
    "Realistic Fiction": "ficção realista", "Adult Fiction": "ficção adulta", "Robots": "robôs", "Aliens": "alienígenas",
    "Animals": "animais", "Superheroes": "super-heróis", "Faeries": "fadas", "World War II": "Segunda Guerra Mundial",
    "World War I": "Primeira Guerra Mundial", "Ancient History": "história antiga", "Military History": "história militar",
    "American History": "história americana", "Sociology": "sociologia", "Anthropology": "antropologia",
    "Physics": "física", "Astronomy": "astronomia", "Biology": "biologia", "Evolution": "evolução", "Medicine": "medicina",
    "Health": "saúde", "Technology": "tecnologia", "Feminism": "feminismo", "Survival": "sobrevivência", "Popular Science": "divulgação científica", "Horror Fiction": "terror", "Manga": "mangá", "Westerns": "faroeste",
}
# Portuguese mood and theme words, translated so the English text encoder understands them.
PT_WORDS: dict[str, str] = {
    "sombrio": "dark", "sombrios": "dark", "sombria": "dark", "leve": "light", "leves": "light",
    "triste": "sad", "tristes": "sad", "aconchegante": "cozy", "aconchegantes": "cozy", "emocionante": "thrilling",
    "emocionantes": "thrilling", "inspirador": "inspiring", "inspiradores": "inspiring", "epico": "epic",
    "epicos": "epic", "curto": "short", "curtos": "short", "longo": "long", "longos": "long",
    "divertido": "fun", "divertidos": "fun", "bonito": "beautiful", "profundo": "deep", "reflexivo": "thoughtful",
    "espaco": "space", "espacial": "space", "galaxia": "galaxy", "galaxias": "galaxies", "imperio": "empire",
    "imperios": "empires", "planeta": "planet", "planetas": "planets", "deserto": "desert", "mar": "sea",
    "escola": "school", "magos": "wizards", "mago": "wizard", "bruxo": "wizard", "bruxos": "wizards",
    "amizade": "friendship", "amor": "love", "familia": "family", "vinganca": "revenge", "poder": "power",
    "robos": "robots", "robo": "robot", "inteligencia": "intelligence", "artificial": "artificial",
    "detetives": "detectives", "assassinato": "murder", "assassinatos": "murders", "crimes": "crimes",
    "viagens": "travels", "guerras": "wars", "reis": "kings", "rainha": "queen", "dragao": "dragon",
    "herois": "heroes", "heroi": "hero", "jornada": "journey", "sobrevivencia": "survival", "ilha": "island",
    "cidade": "city", "futuro": "future", "passado": "past", "medieval": "medieval", "politico": "political",
    "politicos": "political", "religioso": "religious", "cientistas": "scientists", "ciencias": "science",
    "animais": "animals", "cachorro": "dog", "gato": "cat", "natureza": "nature", "tecnologia": "technology",
    "adolescentes": "teenagers", "criancas": "children", "mulheres": "women", "fantasmas": "ghosts",
    "casa": "house", "mal": "evil", "bem": "good", "verdade": "truth", "historia": "history",
}
# Words that carry no topic: dropped before a free-text query is sent to the encoder.
FILLER = frozenset(
    "a an the of for to me some any good great nice best new please i im want would like love book books "
    "novel novels read reading something anything about with that are is recommend suggest give show find "
    "looking look what which can you could my on in and or story stories kind sort type genre "
    "o os as um uma uns umas de do da dos das para pra por favor eu quero queria gostaria livro livros "
    "algum alguma alguns algumas bom bons boa boas melhor melhores recomende recomenda recomendar indique "
    "indica sugira sugere sugerir me mostre mostra ler leitura algo sobre com que sao e em no na nos nas "
    "tipo genero historias obra obras voce pode poderia".split()
)

# Words around an author's name that only ask for their books: "has X written anything", "o que vcs tem do X".
AUTHOR_ASK_WORDS = frozenset(
    "written wrote write writes writing published publish has have had did does got else all everything works work "
    "author writer by from any tem voces voce vc vcs escreveu escreve escreveram publicou publicado escrito escritos ja ai "
    "todos tudo autor autora escritor escritora do da de dos das por pelo pela".split()
)

_ARTICLE = re.compile(r"^(the|a|an|o|a|os|as|um|uma)\s+")


def strip_article(folded: str) -> str:
    return _ARTICLE.sub("", folded, count=1)


def genre_phrases(folded: str, language: str) -> list[tuple[str, str]]:
    """(phrase found, catalog genre) pairs in `folded`, longest phrases first, none overlapping.

    Both languages' tables are tried; the answer language only decides which one wins a tie.
    """
    tables = (PT_GENRES, EN_GENRES) if language == "pt" else (EN_GENRES, PT_GENRES)
    found: list[tuple[str, str]] = []
    text = f" {folded} "
    phrases = sorted({p for table in tables for p in table}, key=lambda p: (-len(p), p))
    for phrase in phrases:
        padded = f" {phrase} "
        if padded in text:
            genre = next(table[phrase] for table in tables if phrase in table)
            found.append((phrase, genre))
            text = text.replace(padded, " | ")
    return found


def is_genre_word(word: str) -> bool:
    """Whether a folded word is part of some genre phrase ("science", "fi", "romance")."""
    return word in _GENRE_WORDS


def genre_label(genre: str, language: str) -> str:
    """How a catalog genre reads in a sentence; accepts the lower-cased names memory stores."""
    genre = _CANONICAL.get(genre.lower(), genre)
    if language == "pt":
        return GENRE_PT.get(genre, genre.lower())
    if genre in _EN_LABEL:
        return _EN_LABEL[genre]
    return genre if genre in _PROPER else genre.lower()


_CANONICAL = {name.lower(): name for name in GENRE_PT}
_GENRE_WORDS = frozenset(w for table in (EN_GENRES, PT_GENRES) for phrase in table for w in phrase.split())
_PROPER = frozenset({"Regency", "Tudor Period", "World War II", "World War I", "LGBT", "Africa", "Japan", "Ireland"})
_EN_LABEL = {"Childrens": "children's", "Self Help": "self-help", "Post Apocalyptic": "post-apocalyptic"}


def english_query(folded: str, language: str) -> str:
    """Topic words of a request in English, for the text encoder (trained on English)."""
    words = []
    for word in folded.split():
        if language == "pt" and word in PT_WORDS:
            words.append(PT_WORDS[word])
        elif word not in FILLER:
            words.append(word)
    return " ".join(words)


def pt_title_key(folded: str) -> str | None:
    """The English title a Portuguese title stands for, when it is one we know."""
    return PT_TITLES.get(folded)


def fold_words(text: str) -> list[str]:
    return fold(text).split()
