"""PYTHONPATH=bench python -m smartlib_bench.chat_transcripts --home DIR [--lines N]

Prints one short transcript per chat skill in English and in Portuguese, as Markdown, from the
real agent over the catalog in DIR (a copy of an ingested home: loading may write derived
files). docs/chat.md's transcripts are this script's output on the 10k catalog.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from smartlib_bench.chat_suite.__main__ import open_services
from smartlib_core.domain import BookFilter
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.services.chat.agent import ChatAgent
from smartlib_server.services.chat.session import TurnInput

WIDTH = 160  # characters of an answer line shown: catalog descriptions are cut, not copied whole

# skill -> (English sessions, Portuguese sessions); a session is a list of reader turns.
SKILLS: dict[str, tuple[list[list[str]], list[list[str]]]] = {
    "An author's books": ([["got any Le Guin lying around?"]], [["tem algo da Agatha Christie que preste?"]]),
    "Who wrote it": ([["who wrote The Name of the Wind?"]], [["quem escreveu O Nome do Vento?"]]),
    "A series in order, and what comes next": ([["what comes after The Fellowship of the Ring?"]],
                                               [["qual é a ordem de Jogos Vorazes?"]]),
    "Like X but Y": ([["something like The Martian but shorter"]], [["algo parecido com Duna, mas menos sombrio"]]),
    "Exclusions": ([["fantasy but no romance please"]], [["me indica um suspense, mas nada de terror"]]),
    "Best rated": ([["best rated science fiction"]], [["os livros de fantasia mais bem avaliados"]]),
    "A famous title": ([["should I bother with Dune?"]], [["O Hobbit é bom?"]]),
    "Memory across sessions": ([["I love mysteries but I can't stand horror"], ["remind me what I'm into"]],
                               [["adoro ficção científica e odeio romance"], ["o que você lembra dos meus gostos?"]]),
    "Fallback": ([["do I need an umbrella tomorrow?"]], [["asdfgh qwerty"]]),
    "More": ([["books like The Hunger Games", "more"]], [["livros parecidos com Jogos Vorazes", "mais"]]),
    "Compare": ([["compare Dune and Foundation"]], [["compare O Hobbit e O Senhor dos Anéis"]]),
}


def transcript(agent: ChatAgent, sessions: list[list[str]], lines: int) -> str:
    user = f"docs-{uuid.uuid4().hex[:8]}"
    out = []
    for number, session in enumerate(sessions, 1):
        if len(sessions) > 1:
            out.append(f"*Session {number}*\n")
        session_id = uuid.uuid4().hex
        for text in session:
            reply = agent.prepare(TurnInput(session_id, text, user, seed="docs"))
            agent.commit(reply)
            body = [line if len(line) <= WIDTH else line[:WIDTH] + "…" for line in reply.text.splitlines()]
            shown = body[:lines] + (["…"] if len(body) > lines else [])
            out.append(f"> **{text}**\n\n```\n" + "\n".join(shown) + "\n```\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chat_transcripts", description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a copy of a home with an ingested catalog")
    parser.add_argument("--lines", type=int, default=12, help="answer lines shown per turn (default 12)")
    args = parser.parse_args(argv)
    services = open_services(args.home, args.home)
    try:
        agent = ChatAgent(services.recommend, InProcessConversationMemory())
        services.recommend.search_by_text("warm up", 1, None, BookFilter())
        for language, index in (("English", 0), ("Português", 1)):
            print(f"### {language}\n")
            for skill, pair in SKILLS.items():
                print(f"#### {skill}\n")
                print(transcript(agent, pair[index], args.lines))
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
