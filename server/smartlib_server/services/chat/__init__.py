"""The Smart Library Agent behind ChatService.Converse: plain Python, no gRPC.

agent.py answers one message; turns.py streams a turn as events; understand.py (linker, intent
model) and interpret.py read the message; the other modules detect the language, resolve
titles, compare books and word the answer.
"""
from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from smartlib_server.adapters.memory.contract import ConversationMemory
from smartlib_server.services.chat.agent import ChatAgent
from smartlib_server.services.chat.llm import LLMConfig, LLMPhraser
from smartlib_server.services.chat.llm_parse import LLMParser
from smartlib_server.services.chat.session import TurnInput
from smartlib_server.services.chat.turns import (
    ChatLimits,
    ChatService,
    limits_from_settings,
)
from smartlib_server.services.recommend import RecommendService


def build_chat_service(recommend: RecommendService, memory: ConversationMemory, executor: Executor, settings: Any) -> ChatService:
    """The chat service for a server: LLM phrasing only when `settings.llm_url` is set, and LLM
    parsing too unless `settings.llm_parse` is off (the local intent model is its fallback)."""
    phraser = parser = None
    if getattr(settings, "llm_url", ""):
        config = LLMConfig(
            settings.llm_url,
            model=getattr(settings, "llm_model", "") or "default",
            total_timeout_s=float(getattr(settings, "llm_timeout_s", 0) or 30.0),
        )
        phraser = LLMPhraser(config)
        if getattr(settings, "llm_parse", True):
            parser = LLMParser(config)
    return ChatService(ChatAgent(recommend, memory), executor, limits_from_settings(settings), phraser, parser)


__all__ = ["ChatAgent", "ChatLimits", "ChatService", "TurnInput", "build_chat_service"]
