"""The parts a NewsService is built from, as the settings choose them: the embedders for questions
and for articles, the re-ranker and the chat model. Optional dependencies load only when chosen."""

from __future__ import annotations

from retrieval.answer.llm import ChatModel
from retrieval.embed.background import LowPriorityEmbedder
from retrieval.embed.base import Embedder
from retrieval.search.params import Ranker
from retrieval.settings import Settings


def build_embedder(settings: Settings) -> Embedder:
    """The configured embedder (the same model embeds questions and articles)."""
    if settings.embedder == "openai":
        from retrieval.embed.openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder(
            model=settings.openai_embedding_model,
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout=settings.llm_timeout,
        )
    from retrieval.embed.minilm import MiniLMEmbedder, resolve_model_dir

    return MiniLMEmbedder(resolve_model_dir(settings.embedding_model_dir, settings.offline_dir))


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
    """The embedder for articles: a second instance of the model, loaded at the first ingest in its
    own low-priority thread (embed.background), so questions never queue behind an ingest. None
    (articles share the question embedder) when ingest_nice is 0."""
    if not settings.ingest_nice:
        return None
    return LowPriorityEmbedder(build_embedder(settings), nice=settings.ingest_nice)
