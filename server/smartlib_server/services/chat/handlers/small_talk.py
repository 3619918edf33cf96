"""Greetings, thanks and goodbyes, and what the agent can do."""
from __future__ import annotations

from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit


def greet(kit: Toolkit, ask: Request, out: Draft) -> None:
    """A hello that remembers a returning reader's liked books or genres."""
    profile = kit.profile()
    liked = [kit.books[i] for i in profile.liked if i in kit.books]
    out.text = w.greeting(out.p, liked, profile.mentioned_genres)


def help_text(kit: Toolkit, ask: Request, out: Draft) -> None:
    out.text = w.help_text(out.p)


def thanks_bye(kit: Toolkit, ask: Request, out: Draft) -> None:
    out.text = out.p.t("thanks_bye")
