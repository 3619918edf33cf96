"""The bench's free-text queries: what readers type, short and long, English and Portuguese.

The load generator sends each with a distinct suffix (every call a cache miss); the embedding
section checks the serving query path against the reference fp32 embedding on all of them.
"""
QUERIES = [
    "space opera about galactic empires",
    "a cozy village mystery",
    "dragons and magic schools",
    "a war memoir",
    "fantasy",
    "romance books",
    "historical fiction set in ancient Rome",
    "a thriller with an unreliable narrator and a twist ending",
    "books like Harry Potter but for adults",
    "something funny and light for a long flight",
    "grief and friendship in a small town",
    "hard science fiction about first contact with an alien intelligence",
    "a coming of age story about two sisters growing up in the American south during the depression",
    "dystopian young adult novel with a strong female lead who rebels against a totalitarian government",
    "classic russian literature",
    "poetry about nature and loss",
    "a detective in Victorian London solving murders with science",
    "epic fantasy with complex political intrigue, multiple points of view, morally grey characters, "
    "a carefully built magic system and a war between kingdoms that spans generations",
    "I want a long, slow, beautifully written literary novel about a family over several decades, "
    "with secrets that come out one by one, set somewhere by the sea, sad but hopeful at the end, "
    "something like East of Eden or The Thorn Birds, not too much romance please",
    "livros de fantasia com dragões",
    "um romance policial passado em Lisboa",
    "non-fiction about the history of science",
    "self help books on habits and productivity",
    "a horror novel set in an old house in New England",
    "short stories",
    "graphic novels about superheroes",
    "a book about a dog",
    "time travel romance",
    "post-apocalyptic survival on a lonely road",
    "magical realism from Latin America",
]
