"""The LLM as intent parser, when SMARTLIB_LLM_URL is set (issue 24, item 6).

Entities stay local: the catalog links them, so the model can neither invent a book nor
misspell one. The model sees the message with its entities as slots and answers one JSON
object, {"intent": <label>, "confidence": <0..1>}, checked against the same label set the
local model uses. Any failure (connection, timeout, bad JSON, unknown label) returns None and
the local model answers, so a slow or broken LLM never breaks a turn.

The call is async, on the event loop between the turn's two trips to the worker pool (turns.py):
a model that thinks for seconds holds no worker thread, and a cancelled turn closes its
connection at once, as LLM phrasing does.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re

from smartlib_server.services.chat.intent_model import LABELS, LIST_ASKS
from smartlib_server.services.chat.linker import Entity, slotted
from smartlib_server.services.chat.llm import LLMConfig, LLMFailed, ModelHTTP
from smartlib_server.services.chat.understand import Situation, Understanding, finish

log = logging.getLogger(__name__)

PARSE_TIMEOUT_S = 2.5  # the whole parse; past it the local model answers
_JSON = re.compile(r"\{.*\}", re.S)
SYSTEM = (
    "You classify one message a reader sends to a bookshop assistant. Entities the catalog recognised are "
    "replaced by slots: {TITLE}, {AUTHOR}, {SERIES}, {GENRE}, {MOOD}, {NUM}. Answer with ONE JSON object and "
    "nothing else: {\"intent\": <label>, \"confidence\": <number from 0 to 1>}. Labels: "
    "greet; thanks_bye; help (about the assistant itself); about_book (a named title: what it is, is it good); "
    "who_wrote (the author of a title); author (a named author's books or facts); similar (books like a title or "
    "author, also 'like X but Y'); recommend (books by genre, mood, topic or none); best_rated (the top or "
    "best-rated books); series_order; series_next (what comes after a book); compare (two named books or authors); "
    "more (more of the list shown); pick (one item of the list shown); why (why the assistant suggested "
    "something); reject (turning down shown items); refine (narrowing the list shown); taste_like (a standing "
    "liking); taste_dislike (a standing dislike); memory_show (what the assistant knows about the reader); "
    "memory_forget; off_topic (not about books); nonsense."
)


class LLMParser:
    """Reads one message with the model: an Understanding, or None for the local model to answer."""

    def __init__(self, config: LLMConfig, timeout_s: float = PARSE_TIMEOUT_S):
        self.config = config
        self.timeout_s = timeout_s
        self._http = ModelHTTP()
        self.parsed = 0  # messages the model read
        self.fallbacks = 0  # messages left to the local model: the call failed or its answer did not validate

    async def __call__(self, text: str, entities: list[Entity], situation: Situation) -> Understanding | None:
        seen = slotted(text, entities)
        try:
            answer = await asyncio.wait_for(self._complete(seen, situation), self.timeout_s)
            intent, confidence = validate(answer)
        except (TimeoutError, LLMFailed, self._http.HTTPError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            self.fallbacks += 1
            log.info("LLM parse fell back to the local model: %s: %s", type(exc).__name__, exc)
            return None
        if intent in LIST_ASKS and not situation.list_shown:
            return None  # nothing on screen to act on: let the local model, with its prior, decide
        self.parsed += 1
        return finish(text, intent, confidence, entities, seen, ((intent, confidence),), 0.0, source="llm")

    async def _complete(self, seen: str, situation: Situation) -> str:
        """The model's whole answer, streamed (as every OpenAI-compatible server can); the
        caller bounds the whole call."""
        context = "A list of books is on screen." if situation.list_shown else "No list is on screen."
        prompt = [{"role": "system", "content": SYSTEM},
                  {"role": "user", "content": f"{context}\nMessage: {json.dumps(seen, ensure_ascii=False)}"}]
        body = {"model": self.config.model, "messages": prompt, "stream": True, "temperature": 0.0, "max_tokens": 40}
        pieces = []
        async with self._http.client(self.timeout_s) as client, client.stream(
            "POST", self.config.endpoint, json=body, headers={"Accept": "text/event-stream"}
        ) as response:
            if response.status_code >= 400:
                raise LLMFailed(f"the model answered HTTP {response.status_code}")
            async for line in response.aiter_lines():
                data = line.strip()[5:].strip() if line.startswith("data:") else ""
                if data == "[DONE]":
                    return "".join(pieces)
                if data:
                    pieces.append((json.loads(data)["choices"][0].get("delta") or {}).get("content") or "")
        raise LLMFailed("the stream ended before [DONE]")


def validate(answer: str) -> tuple[str, float]:
    """(intent, confidence) from the model's answer.

    Raises:
        ValueError: no JSON object, an unknown intent, or a confidence outside 0..1.
    """
    match = _JSON.search(answer)
    if match is None:
        raise ValueError(f"no JSON object in {answer[:80]!r}")
    data = json.loads(match.group(0))
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    intent = data.get("intent")
    if intent not in LABELS:
        raise ValueError(f"unknown intent {intent!r}")
    confidence = data.get("confidence", 0.9)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence {confidence!r} is not a number from 0 to 1")
    return intent, float(confidence)
