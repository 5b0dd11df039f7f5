"""The store records which embedder built a library; another embedder is refused until reindexed."""

import numpy as np
import pytest

from retrieval.embeddings import Embedder
from retrieval.errors import ConfigError, EmbedderMismatchError
from retrieval.models import Article
from retrieval.settings import load_settings
from tests.conftest import make_service
from tests.fakes import fake_embedding


class HashingEmbedder(Embedder):
    """A second, different embedder: bag-of-words hashing (implements the real interface)."""

    name = "hashing-64"

    def embed_batch(self, texts):
        vectors = np.stack([fake_embedding(t, 64) for t in texts]) if texts else np.zeros((0, 64), np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


ARTICLE = Article(title="Acme opens Penang plant", body="Acme Robotics opened a factory in Penang. It employs 400 people.", url="https://news.example/acme")


def test_opening_a_library_with_another_embedder_says_how_to_rebuild(settings, embedder, encoding):
    minilm = make_service(settings, embedder, encoding)
    minilm.ingest("default", [ARTICLE])
    minilm.close()
    other = make_service(settings, HashingEmbedder(), encoding)
    with pytest.raises(EmbedderMismatchError) as err:
        other.search("default", "Penang factory")
    assert "newsbot reindex --library default" in str(err.value) and "all-MiniLM-L6-v2" in str(err.value)

    written = other.reindex("default")
    assert written == minilm.store.count("default") > 0
    assert other.stats_sync("default").embedder == "hashing-64"
    assert other.search("default", "Acme Penang factory")[0].source.title == ARTICLE.title
    with pytest.raises(EmbedderMismatchError):
        make_service(settings, embedder, encoding).search("default", "Penang")
    other.close()


def test_settings_errors_are_one_line(monkeypatch):
    monkeypatch.setenv("NEWSBOT_TOP_K", "lots")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert "NEWSBOT_TOP_K" in str(err.value) and "\n" not in str(err.value)


def test_secrets_are_not_shown_in_settings(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("DISCORD_TOKEN", "discord-very-secret")
    settings = load_settings(_env_file=None)
    assert settings.llm_configured
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings.model_dump())


def test_writes_of_many_chunks_keep_each_vector_with_its_chunk(tmp_path):
    from retrieval.models import Chunk, Source
    from retrieval.store import WRITE_BATCH, ChromaStore

    store = ChromaStore.connect(path=tmp_path / "chroma", embedder_name="hashing-64")
    count = 2 * WRITE_BATCH + 5  # several Chroma writes, the last one partial
    source = Source("a1", "Many chunks", "Example News", None, None)
    chunks = [Chunk(f"a1:{i}", source, i, f"paragraph number {i} about turbines", "h1") for i in range(count)]
    vectors = HashingEmbedder().embed_batch([c.text for c in chunks])
    store.add("default", chunks, vectors)
    assert store.count("default") == count
    ids = [chunks[i].id for i in (0, WRITE_BATCH - 1, WRITE_BATCH, count - 1)]
    got, got_vectors = store.get("default", ids, with_embeddings=True)
    for chunk, vector in zip(got, got_vectors):
        position = int(chunk.id.split(":")[1])
        assert chunk.text == chunks[position].text
        np.testing.assert_allclose(vector, vectors[position], atol=1e-6)
    store.delete("default", [c.id for c in chunks[1:]])
    assert store.ids("default") == ["a1:0"]
