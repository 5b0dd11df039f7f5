"""The store records which embedder built a library; another embedder is refused until reindexed."""

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import time

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

from bot.settings import load_bot_settings
from retrieval.embed.base import Embedder
from retrieval.errors import ConfigError, EmbedderMismatchError
from retrieval.models import Article, Chunk, Source
from retrieval.settings import PROJECT_ROOT, load_settings
from retrieval.store.chroma import HNSW_SYNC_THRESHOLD, ChromaStore
from retrieval.store.chroma_records import WRITE_BATCH
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
    stored = minilm.store.count("default")
    minilm.close()
    other = make_service(settings, HashingEmbedder(), encoding)
    with pytest.raises(EmbedderMismatchError) as err:
        other.search("default", "Penang factory")
    assert "newsbot reindex --library default" in str(err.value) and "all-MiniLM-L6-v2" in str(err.value)

    written = asyncio.run(other.reindex("default"))
    assert written == stored > 0
    assert asyncio.run(other.stats("default")).embedder == "hashing-64"
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
    settings = load_bot_settings(_env_file=None)
    assert settings.llm_configured
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings.model_dump())


def test_writes_of_many_chunks_keep_each_vector_with_its_chunk(tmp_path):
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


def test_writes_give_way_between_chroma_writes_for_as_long_as_each_took(tmp_path):
    """Embedded Chroma holds the GIL during a write; the store pauses after each (but the last)."""
    pauses: list[float] = []
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    store = ChromaStore(client, embedder_name="hashing-64", pause=pauses.append)
    source = Source("a1", "Many chunks", "Example News", None, None)
    chunks = [Chunk(f"a1:{i}", source, i, f"paragraph {i} about wind turbines", "h1") for i in range(2 * WRITE_BATCH + 1)]
    vectors = HashingEmbedder().embed_batch([c.text for c in chunks])

    store.add("default", chunks[:WRITE_BATCH], vectors[:WRITE_BATCH])
    assert pauses == []  # one write: nothing to give way to
    with _elapsed() as add_took:
        store.add("default", chunks[WRITE_BATCH:], vectors[WRITE_BATCH:])
    assert len(pauses) == 1 and 0 < pauses[0] < add_took()
    with _elapsed() as delete_took:
        store.delete("default", [c.id for c in chunks[1:]])
    assert len(pauses) == 2 and 0 < pauses[1] < delete_took()
    assert store.ids("default") == ["a1:0"]


@contextlib.contextmanager
def _elapsed():
    started, ended = time.perf_counter(), []
    yield lambda: ended[0] - started
    ended.append(time.perf_counter())


def _run(code: str, *args: str) -> str:
    """A fresh Python process: nothing of Chroma's is loaded or cached in it yet (as after a restart)."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


_OLD_LIBRARY = """
import sys, chromadb, numpy as np
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = client.create_collection("newsbot-default", embedding_function=None,
    metadata={"hnsw:space": "cosine", "newsbot_embedder": "hashing-64", "newsbot_generation": "0"})
vectors = np.random.default_rng(1).standard_normal((40, 64)).astype(np.float32)
col.add(ids=[f"old:{i}" for i in range(40)], embeddings=vectors, documents=["old"] * 40,
        metadatas=[{"article_id": "old", "title": "Old", "position": i, "content_hash": "h0"} for i in range(40)])
print(col.configuration_json["hnsw"]["sync_threshold"])
"""

_REOPEN = """
import sys, json, numpy as np
from retrieval.store.chroma import ChromaStore
store = ChromaStore.connect(path=sys.argv[1], embedder_name="hashing-64")
probe = np.asarray(json.loads(sys.argv[2]), dtype=np.float32)
print(json.dumps({"count": store.count("default"), "nearest": store.nearest("default", probe, 1)[0][0]}))
"""


def _sync_threshold(path) -> int:
    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_collection("newsbot-default", embedding_function=None).configuration_json["hnsw"]["sync_threshold"]


def _log_rows(path) -> int:
    with contextlib.closing(sqlite3.connect(path / "chroma.sqlite3")) as db:
        return db.execute("select count(*) from embeddings_queue").fetchone()[0]


def test_libraries_save_their_index_every_sync_threshold_records_and_lose_nothing(tmp_path):
    new = ChromaStore.connect(path=tmp_path / "new", embedder_name="hashing-64")
    assert new.count("default") == 0 and new.libraries() == []
    new.add("default", [Chunk("n:0", Source("n", "New", None, None, None), 0, "new", "h")], HashingEmbedder().embed_batch(["new"]))
    assert _sync_threshold(tmp_path / "new") == HNSW_SYNC_THRESHOLD != 1000

    path = tmp_path / "old"
    assert _run(_OLD_LIBRARY, str(path)).strip() == "1000"  # a library made before: Chroma's default
    store = ChromaStore.connect(path=path, embedder_name="hashing-64")
    source = Source("a1", "Many chunks", "Example News", None, None)
    chunks = [Chunk(f"a1:{i}", source, i, f"paragraph {i} about turbines and plant {i % 7}", "h1") for i in range(HNSW_SYNC_THRESHOLD + 50)]
    vectors = np.random.default_rng(2).standard_normal((len(chunks), 64)).astype(np.float32)  # no two alike
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.add("default", chunks, vectors)
    total = 40 + len(chunks)
    assert _sync_threshold(path) == HNSW_SYNC_THRESHOLD
    # In effect: Chroma saved its index and purged its log (with the default 1,000 it keeps every record).
    assert _log_rows(path) < HNSW_SYNC_THRESHOLD < total < 1000

    # The last chunks are in the log only, not in the saved index: a fresh process still finds them.
    store.close()  # one process at a time holds a folder
    got = json.loads(_run(_REOPEN, str(path), json.dumps(vectors[-1].tolist())))
    assert got == {"count": total, "nearest": chunks[-1].id}


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_reads_reuse_the_searchs_handle_and_follow_a_library_rebuilt_by_another_writer(tmp_path, request, where):
    """Reads use the handle the generation check opened; when another writer drops or rebuilds
    the library, the next reads see the new collection (a stale handle is never trusted)."""
    if where == "server":
        host, port = request.getfixturevalue("chroma_server")
        address = {"host": host, "port": port}
    else:
        address = {"path": tmp_path / "chroma"}
    reader = ChromaStore.connect(**address, embedder_name="hashing-64")
    writer = ChromaStore.connect(**address, embedder_name="hashing-64")  # e.g. `newsbot add` meanwhile
    hashing = HashingEmbedder()
    lib = "handles"  # its own library: the server is shared with other tests

    def chunks(article: str, texts: list[str]) -> list[Chunk]:
        source = Source(article, f"{article} title", "Example News", None, None)
        return [Chunk(f"{article}:{i}", source, i, text, "h") for i, text in enumerate(texts)]

    old = chunks("old", ["wind turbines in the north sea", "a ferry timetable"])
    writer.add(lib, old, hashing.embed_batch([c.text for c in old]))
    first = reader.generation(lib)
    question = hashing.embed("wind turbines")
    assert reader.nearest(lib, question, 1)[0][0] == "old:0"
    assert [c.text for c in reader.get(lib, ["old:1"])[0]] == ["a ferry timetable"]
    assert set(reader.vectors(lib, ["old:0", "old:1"])) == {"old:0", "old:1"}

    new = chunks("new", ["wind turbines for the baltic", "cargo ships"])
    writer.drop(lib)  # another writer replaces the library: the reader's handle is stale
    writer.add(lib, new, hashing.embed_batch([c.text for c in new]))
    assert reader.nearest(lib, question, 1)[0][0] == "new:0"  # before any generation check
    assert reader.get(lib, ["old:1", "new:1"])[0][0].text == "cargo ships"
    assert set(reader.vectors(lib, ["old:0", "new:0"])) == {"new:0"}
    assert reader.generation(lib) != first

    rebuilt = chunks("rebuilt", ["offshore wind turbines again"])
    writer.rebuild(lib, iter([(rebuilt, hashing.embed_batch([c.text for c in rebuilt]))]))
    assert reader.nearest(lib, question, 5) == [("rebuilt:0", pytest.approx(reader.nearest(lib, question, 1)[0][1]))]
    writer.drop(lib)
    assert reader.nearest(lib, question, 1) == [] and reader.vectors(lib, ["rebuilt:0"]) == {}
    assert reader.get(lib, ["rebuilt:0"]) == ([], None) and reader.generation(lib) == "missing"
