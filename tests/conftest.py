"""Shared fixtures: offline assets, clean environment, settings in a temp dir, one loaded model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import pytest

from bot.cli.main import use_offline_tiktoken_cache
from retrieval.settings import PROJECT_ROOT, Settings
from tests.processes import chroma_run

S = TypeVar("S", bound=Settings)

OFFLINE_DIR = Path(os.environ.get("NEWSBOT_OFFLINE_DIR", PROJECT_ROOT.parent / "shared"))
SECRET_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "CHROMA_PORT", "DISCORD_TOKEN", "NEWSBOT_EMBEDDER")


def pytest_configure(config: pytest.Config) -> None:
    use_offline_tiktoken_cache(None, OFFLINE_DIR)  # as the `newsbot` entry point does


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder():
    from retrieval.embed.minilm import MiniLMEmbedder, resolve_model_dir

    return MiniLMEmbedder(resolve_model_dir(None, OFFLINE_DIR))


@pytest.fixture(scope="session")
def encoding():
    from retrieval.text.tokens import get_encoding

    return get_encoding()


def make_settings(tmp_path: Path, kind: type[S] = Settings, /, **overrides: object) -> S:
    """Settings of ``kind`` (BotSettings for the bot) in ``tmp_path``, ignoring any ``.env`` file."""
    values: dict[str, object] = {"data_dir": tmp_path / "newsbot", "seed_dir": None, "offline_dir": OFFLINE_DIR}
    values.update(overrides)
    return kind(_env_file=None, **values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def make_service(settings: Settings, embedder, encoding, *, chat=None, ingest_embedder=None, **extra):
    """A NewsService with the real store, model and ranker; the chat model is whatever the test hands in;
    ``extra``: more of NewsService's collaborators (``today``, say)."""
    from retrieval.answer.prompts import PromptSet
    from retrieval.search.trees import load_ranker
    from retrieval.service import NewsService
    from retrieval.store.chroma import ChromaStore

    store = ChromaStore.connect(
        path=settings.resolved_chroma_path, host=settings.chroma_host, port=settings.chroma_port, embedder_name=embedder.name
    )
    return NewsService(
        settings,
        store=store,
        embedder=embedder,
        encoding=encoding,
        chat=chat,
        prompts=PromptSet.load(),
        ingest_embedder=ingest_embedder,
        ranker=load_ranker() if settings.rerank else None,
        **extra,
    )


@pytest.fixture
def service(settings: Settings, embedder, encoding):
    svc = make_service(settings, embedder, encoding)
    yield svc
    svc.close()


@pytest.fixture
async def fake():
    """The loopback Discord, serving the guilds of tests/bot_fixtures.py."""
    from tests.bot_fixtures import add_guilds  # it imports this module
    from tests.fakes.discord_server import FakeDiscord

    async with FakeDiscord() as server:
        await add_guilds(server)
        yield server


@pytest.fixture
async def llm():
    """A loopback OpenAI-compatible server."""
    from tests.fakes.openai_server import FakeOpenAIServer

    async with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real ``chroma run`` server on a free loopback port, for the CHROMA_HOST code path."""
    with chroma_run(tmp_path_factory.mktemp("chroma-server")) as address:
        yield address
