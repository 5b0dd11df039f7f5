"""Settings given in the environment reach the parts they configure, seen from outside: the search
parameters a question is searched with, and the requests the language model receives (their
defaults are checked against the README in test_readme.py)."""

from __future__ import annotations

import pytest

from retrieval.models import AnswerMode, Article
from retrieval.service import NewsService
from retrieval.settings import Settings
from tests.conftest import OFFLINE_DIR
from tests.fakes import FakeOpenAIServer

VISIT = Article(title="ASEAN consuls general tour Biosyngen", publisher="GeneOnline", url=None,
                body="Loh Tuck Keat, Singapore's consul general, led ASEAN diplomats to Biosyngen in Guangzhou.")


def service_from_env(tmp_path, monkeypatch, **env: str) -> NewsService:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", seed_dir=None, offline_dir=OFFLINE_DIR)
    return NewsService.from_settings(settings)


@pytest.fixture
def llm():
    server = FakeOpenAIServer(lambda body: "Loh Tuck Keat led the ASEAN diplomats to Biosyngen [1].")
    url = server.start_in_thread()
    yield server, url
    server.stop()


async def ask(service: NewsService, question: str):
    service.ingest("default", [VISIT])
    return [e async for e in service.ask("default", question)][-1].answer


def test_retrieval_settings_reach_the_search(tmp_path, monkeypatch):
    service = service_from_env(tmp_path, monkeypatch, NEWSBOT_TOP_K="3", NEWSBOT_PASSAGES_PER_ARTICLE="2",
                               NEWSBOT_MIN_SIMILARITY="0.45")
    try:
        params = service.search_params()
        assert (params.k, params.per_article, params.min_similarity) == (3, 2, 0.45)
    finally:
        service.close()


async def test_language_model_settings_reach_its_requests(tmp_path, monkeypatch, llm):
    server, url = llm
    service = service_from_env(tmp_path, monkeypatch, OPENAI_BASE_URL=url, OPENAI_API_KEY="k",
                               NEWSBOT_LLM_MODEL="local-model", NEWSBOT_LLM_MAX_TOKENS="123")
    try:
        answer = await ask(service, "Who led the ASEAN diplomats to Biosyngen?")
    finally:
        service.close()
    assert answer.mode is AnswerMode.LLM, answer
    (request,) = server.chat_requests
    assert (request["model"], request["max_tokens"]) == ("local-model", 123)


async def test_a_disabled_language_model_is_not_asked(tmp_path, monkeypatch, llm):
    server, url = llm
    service = service_from_env(tmp_path, monkeypatch, OPENAI_BASE_URL=url, OPENAI_API_KEY="k",
                               NEWSBOT_LLM_DISABLED="true")
    try:
        answer = await ask(service, "Who led the ASEAN diplomats to Biosyngen?")
    finally:
        service.close()
    assert answer.mode is AnswerMode.EXTRACTIVE and "Loh Tuck Keat" in answer.text
    assert server.chat_requests == []
