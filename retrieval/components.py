"""The parts a NewsService is built from, as the settings choose them: the embedders for questions
and for articles, the re-ranker and the chat model. Optional dependencies load only when chosen."""

from __future__ import annotations

from retrieval.answer.llm import ChatModel
from retrieval.embed.background import LowPriorityEmbedder
from retrieval.embed.base import Embedder
from retrieval.search.params import Ranker
from retrieval.settings import Settings


def build_embedder(settings: Settings, *, questions: bool = False) -> Embedder:
    """The configured embedder; ``questions``: the one for questions (the default model's int8
    copy unless NEWSBOT_QUESTION_MODEL=exact; articles always get the exact model)."""
    if settings.embedder == "openai":
        from retrieval.embed.openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder(
            model=settings.openai_embedding_model,
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout=settings.llm_timeout,
        )
    from retrieval.embed.minilm import MiniLMEmbedder, resolve_model_dir
    from retrieval.embed.question_model import Int8Copy

    derive = Int8Copy(settings.cache_dir) if questions and int8_questions(settings) else None
    return MiniLMEmbedder(resolve_model_dir(settings.embedding_model_dir, settings.offline_dir), derive=derive)


def int8_questions(settings: Settings) -> bool:
    """Whether questions go through the default model's int8 copy (retrieval.embed.question_model)."""
    return settings.embedder == "default" and settings.question_model == "int8"


def build_ranker(settings: Settings) -> Ranker | None:
    if not settings.rerank:
        return None
    from retrieval.search.trees import load_ranker

    return load_ranker()


def build_chat_model(settings: Settings) -> ChatModel | None:
    if not settings.llm_configured:
        return None  # the openai client is not even imported then
    from retrieval.answer.openai_chat import OpenAIChatModel

    return OpenAIChatModel.from_settings(settings)


def build_ingest_embedder(settings: Settings) -> Embedder | None:
    """The embedder for articles: the exact model (vectors equal Chroma's), as a second instance
    loaded at the first ingest in its own low-priority thread (embed.background). None (articles
    share the question embedder) when ingest_nice is 0 and questions use the exact model too."""
    embedder = build_embedder(settings) if settings.ingest_nice or int8_questions(settings) else None
    if settings.ingest_nice:
        return LowPriorityEmbedder(embedder, nice=settings.ingest_nice)
    return embedder
