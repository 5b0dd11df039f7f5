"""The core's settings, read from the environment and ``.env`` (pydantic-settings). The bot's own
(Discord, rate limits, worker priority) extend them in ``bot.settings.BotSettings``."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsbot"


def _bundled_samples() -> Path:
    """The sample articles installed with newsbot (package ``retrieval.samples``, the repository's
    ``data/`` folder): a folder on disk in every pip install, editable or from a wheel."""
    return Path(str(resources.files("retrieval.samples")))


def _default_offline_dir() -> Path | None:
    """A ``shared/`` folder beside the checkout holds model files for machines without internet."""
    candidate = PROJECT_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


def env_alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """What the core needs: storage, models, retrieval and input limits. Env names are given in
    ``validation_alias``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # storage
    data_dir: Path = Field(default_factory=_default_data_dir, validation_alias=env_alias("NEWSBOT_DATA_DIR", "data_dir"))
    # Articles added to an empty library on its first question; None (an empty value): no seeding.
    seed_dir: Path | None = Field(
        default_factory=_bundled_samples, validation_alias=env_alias("NEWSBOT_SEED_DIR", "seed_dir")
    )
    chroma_path: Path | None = Field(default=None, validation_alias=env_alias("NEWSBOT_CHROMA_PATH", "chroma_path"))
    chroma_host: str | None = Field(default=None, validation_alias=env_alias("CHROMA_HOST", "chroma_host"))
    chroma_port: int = Field(default=8000, ge=1, le=65535, validation_alias=env_alias("CHROMA_PORT", "chroma_port"))
    # On a Chroma server, a writer holds its library's write lease while it writes, renewing it every
    # third of this; a lease whose holder died is taken over once it has been this long unrenewed.
    write_lease_seconds: float = Field(
        default=30.0, ge=1, validation_alias=env_alias("NEWSBOT_WRITE_LEASE_SECONDS", "write_lease_seconds")
    )

    # offline assets (model files, tiktoken cache) for machines without internet
    offline_dir: Path | None = Field(
        default_factory=_default_offline_dir, validation_alias=env_alias("NEWSBOT_OFFLINE_DIR", "offline_dir")
    )
    tiktoken_cache_dir: Path | None = Field(
        default=None, validation_alias=env_alias("TIKTOKEN_CACHE_DIR", "tiktoken_cache_dir")
    )

    # embeddings
    embedder: Literal["default", "openai"] = Field(
        default="default", validation_alias=env_alias("NEWSBOT_EMBEDDER", "embedder")
    )
    embedding_model_dir: Path | None = Field(
        default=None, validation_alias=env_alias("NEWSBOT_EMBEDDING_MODEL_DIR", "embedding_model_dir")
    )
    openai_embedding_model: str = Field(
        default="text-embedding-3-small",
        validation_alias=env_alias("NEWSBOT_OPENAI_EMBEDDING_MODEL", "openai_embedding_model"),
    )
    # Added to the nice value of the thread that embeds articles (Linux), so questions come first
    # while a corpus is ingested; 0 keeps normal priority.
    ingest_nice: int = Field(default=10, ge=0, le=19, validation_alias=env_alias("NEWSBOT_INGEST_NICE", "ingest_nice"))

    # language model (any OpenAI-compatible endpoint)
    llm_base_url: str | None = Field(default=None, validation_alias=env_alias("OPENAI_BASE_URL", "llm_base_url"))
    llm_api_key: SecretStr | None = Field(default=None, validation_alias=env_alias("OPENAI_API_KEY", "llm_api_key"))
    llm_model: str = Field(default="gpt-4o-mini", validation_alias=env_alias("NEWSBOT_LLM_MODEL", "llm_model"))
    llm_timeout: float = Field(default=30.0, gt=0, validation_alias=env_alias("NEWSBOT_LLM_TIMEOUT", "llm_timeout"))
    llm_max_retries: int = Field(
        default=3, ge=0, le=10, validation_alias=env_alias("NEWSBOT_LLM_MAX_RETRIES", "llm_max_retries")
    )
    # Seconds for the model's whole answer: every attempt, the waits between them and the streaming;
    # past it the answer quotes the articles instead.
    llm_deadline: float = Field(default=45.0, gt=0, validation_alias=env_alias("NEWSBOT_LLM_DEADLINE", "llm_deadline"))
    llm_max_tokens: int = Field(default=500, ge=16, validation_alias=env_alias("NEWSBOT_LLM_MAX_TOKENS", "llm_max_tokens"))
    llm_disabled: bool = Field(default=False, validation_alias=env_alias("NEWSBOT_LLM_DISABLED", "llm_disabled"))
    # A folder of the operator's own prompt templates; each file it lacks is the bundled one.
    prompts_dir: Path | None = Field(default=None, validation_alias=env_alias("NEWSBOT_PROMPTS_DIR", "prompts_dir"))

    # chunking, retrieval, answering
    chunk_tokens: int = Field(default=200, ge=32, le=400, validation_alias=env_alias("NEWSBOT_CHUNK_TOKENS", "chunk_tokens"))
    chunk_overlap: int = Field(default=40, ge=0, validation_alias=env_alias("NEWSBOT_CHUNK_OVERLAP", "chunk_overlap"))
    top_k: int = Field(default=6, ge=1, le=50, validation_alias=env_alias("NEWSBOT_TOP_K", "top_k"))
    passages_per_article: int = Field(
        default=4, ge=1, validation_alias=env_alias("NEWSBOT_PASSAGES_PER_ARTICLE", "passages_per_article")
    )
    # Re-rank candidates with the learned ranker (retrieval/search/ranker.json, bench/train_ranker.py).
    rerank: bool = Field(default=True, validation_alias=env_alias("NEWSBOT_RERANK", "rerank"))
    min_similarity: float = Field(
        default=0.30, ge=-1, le=1, validation_alias=env_alias("NEWSBOT_MIN_SIMILARITY", "min_similarity")
    )
    context_tokens: int = Field(
        default=3000, ge=200, validation_alias=env_alias("NEWSBOT_CONTEXT_TOKENS", "context_tokens")
    )
    # Days /latest looks back unless told, and what "latest", "recent" or "what's new" in a question mean.
    latest_days: int = Field(default=7, ge=1, le=3650, validation_alias=env_alias("NEWSBOT_LATEST_DAYS", "latest_days"))

    # limits on input
    max_question_chars: int = Field(
        default=1000, ge=10, validation_alias=env_alias("NEWSBOT_MAX_QUESTION_CHARS", "max_question_chars")
    )
    max_article_bytes: int = Field(
        default=2_000_000, ge=1000, validation_alias=env_alias("NEWSBOT_MAX_ARTICLE_BYTES", "max_article_bytes")
    )
    fetch_timeout: float = Field(default=15.0, gt=0, validation_alias=env_alias("NEWSBOT_FETCH_TIMEOUT", "fetch_timeout"))
    fetch_max_bytes: int = Field(
        default=5_000_000, ge=1000, validation_alias=env_alias("NEWSBOT_FETCH_MAX_BYTES", "fetch_max_bytes")
    )
    allow_private_urls: bool = Field(
        default=False, validation_alias=env_alias("NEWSBOT_ALLOW_PRIVATE_URLS", "allow_private_urls")
    )

    # feeds followed (retrieval/feeds/): minutes between polls of one feed (each poll a little
    # earlier or later, so feeds do not all poll at once), and new entries taken per poll (the
    # rest wait for the next poll)
    feed_interval: float = Field(
        default=15.0, gt=0, le=7 * 24 * 60, validation_alias=env_alias("NEWSBOT_FEED_INTERVAL", "feed_interval")
    )
    feed_max_entries: int = Field(
        default=20, ge=1, le=500, validation_alias=env_alias("NEWSBOT_FEED_MAX_ENTRIES", "feed_max_entries")
    )

    @field_validator("llm_base_url", "chroma_host", "seed_dir", "prompts_dir", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def llm_configured(self) -> bool:
        return not self.llm_disabled and bool(self.llm_base_url or self.llm_api_key)

    @property
    def resolved_chroma_path(self) -> Path:
        return self.chroma_path or self.data_dir / "chroma"


S = TypeVar("S", bound=Settings)


def load_settings(kind: type[S] = Settings, /, **overrides: object) -> S:
    """Build settings of ``kind``; a bad value becomes one ConfigError line naming the setting."""
    try:
        return kind(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err.get("loc", ())) or "setting"
        raise ConfigError(f"Invalid setting {name}: {err.get('msg', 'bad value')}.", hint="Check your environment or .env file.") from None
