"""OpenAIEmbedder (real sync openai.OpenAI) against the fake server running in its own thread."""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator

import numpy as np
import pytest
import tiktoken

from retrieval.embed.openai_embedder import MAX_BATCH, OpenAIEmbedder
from retrieval.errors import LLMAuthError, LLMError, LLMServerError
from retrieval.settings import PROJECT_ROOT, load_settings
from tests.fakes import FakeOpenAIServer, fake_embedding

SECRET = "sk-embed-SECRET-77"


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer(dim=32)
    fake.start_in_thread()
    yield fake
    fake.stop()


def make(server: FakeOpenAIServer, **kwargs) -> OpenAIEmbedder:
    kwargs.setdefault("max_retries", 0)
    return OpenAIEmbedder(model="text-embedding-3-small", base_url=server.base_url, api_key=SECRET, timeout=5, **kwargs)


def test_embeds_normalised_float32_in_input_order(server: FakeOpenAIServer) -> None:
    texts = ["Biosyngen hosted ASEAN consuls", "CSGKC grows six industries", "Biosyngen hosted consuls"]
    embedder = make(server)
    vectors = embedder.embed_batch(texts)
    assert embedder.name == "openai:text-embedding-3-small"
    assert vectors.dtype == np.float32 and vectors.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors, np.stack([fake_embedding(t, 32) for t in texts]), atol=1e-6)
    (body,) = server.embedding_requests
    assert body["input"] == texts and body["model"] == "text-embedding-3-small"
    assert body.get("encoding_format") == "base64"  # decoded from base64 float32 by the client


def test_batches_of_at_most_512(server: FakeOpenAIServer) -> None:
    texts = [f"headline number {i}" for i in range(MAX_BATCH + 5)]
    vectors = make(server).embed_batch(texts)
    assert vectors.shape == (len(texts), 32)
    assert [len(b["input"]) for b in server.embedding_requests] == [MAX_BATCH, 5]
    np.testing.assert_allclose(vectors[-1], fake_embedding(texts[-1], 32), atol=1e-6)


def test_small_batch_size_and_empty_text(server: FakeOpenAIServer) -> None:
    vectors = make(server, batch_size=2).embed_batch(["a b", "", "c d"])
    assert vectors.shape == (3, 32)
    assert [b["input"] for b in server.embedding_requests] == [["a b", " "], ["c d"]]
    assert make(server).embed_batch([]).shape[0] == 0


def test_client_retries_a_rate_limit(server: FakeOpenAIServer) -> None:
    server.rate_limited(retry_after_ms=10, endpoint="embeddings")
    vectors = make(server, max_retries=2).embed_batch(["retry me"])
    assert vectors.shape == (1, 32) and len(server.embedding_requests) == 2


@pytest.mark.parametrize(("script", "error"), [
    (lambda s: s.server_error(500, endpoint="embeddings"), LLMServerError),
    (lambda s: s.auth_error(401, endpoint="embeddings"), LLMAuthError),
])
def test_errors_are_clean(server: FakeOpenAIServer, script, error: type[LLMError]) -> None:
    script(server)
    with pytest.raises(error) as info:
        make(server).embed_batch(["x"])
    shown = "".join(traceback.format_exception(info.value))
    assert "embedding service" in str(info.value)
    assert SECRET not in shown


def test_unreachable_server_is_clean() -> None:
    fake = FakeOpenAIServer()
    fake.start_in_thread()
    fake.stop()
    with pytest.raises(LLMServerError, match="Could not reach the embedding service"):
        make(fake).embed_batch(["x"])


def test_count_tokens_and_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or str(PROJECT_ROOT.parent / "shared" / "tiktoken-cache")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", cache)
    embedder = OpenAIEmbedder.from_settings(load_settings(llm_api_key="k", openai_embedding_model="text-embedding-3-small"))
    assert embedder.max_tokens == 8191
    text = "Loh Tuck Keat visited CSGKC <|endoftext|>"
    assert embedder.count_tokens(text) == len(tiktoken.get_encoding("cl100k_base").encode(text, disallowed_special=()))
    assert OpenAIEmbedder(model="local-model", base_url="http://127.0.0.1:9/v1").count_tokens("x") is None
