"""The keyword index is derived from Chroma and never disagrees with it for longer than one search."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from retrieval.models import Article
from retrieval.search.question import Question
from retrieval.settings import PROJECT_ROOT
from retrieval.store.keyword_index import KeywordIndex
from retrieval.text.terms import query_terms, term_coverage, tokens
from tests.conftest import OFFLINE_DIR, make_service, make_settings
from tests.processes import newsbot, user_env


def _article(i: int) -> Article:
    return Article(title=f"Zephyrine report {i}", body=f"Zephyrine Corp shipped {i} turbines to Quokkaville in week {i}. " * 5, url=f"https://news.example/z/{i}")


def test_deleted_index_file_is_rebuilt_from_chroma(service, embedder, encoding):
    service.ingest("default", [_article(1), _article(2)])
    assert service.search("default", "Quokkaville turbines")
    index = service.keyword_index("default")
    path = index.path
    service.close()
    os.remove(path)
    again = make_service(service.settings, embedder, encoding)
    try:
        assert again.keyword_index("default").search(tokens("Quokkaville"), 10)
        assert again.keyword_index("default").chunk_ids() == set(again.store.ids("default"))
    finally:
        again.close()


def test_removing_a_few_articles_from_a_big_library_keeps_search_working(service):
    # Removing under a quarter of the chunks leaves dead slots in the BM25 arrays (no merge yet).
    articles = [_article(i) for i in range(1, 11)]
    service.ingest("default", articles)
    assert service.search("default", "Zephyrine turbines Quokkaville")  # arrays loaded
    removed = service.store.articles("default")[0].source
    assert asyncio.run(service.remove("default", removed.article_id))
    hits = service.keyword_index("default").search(tokens("Zephyrine turbines"), 50)
    left = set(service.store.ids("default"))
    assert hits and {h.chunk_id for h in hits} <= left
    assert len(hits) == len(left)
    assert all(p.source.article_id != removed.article_id for p in service.search("default", "Zephyrine turbines"))


def test_first_questions_arriving_together_share_one_index(service, embedder, encoding):
    # A restarted bot: several questions reach a library at once, each in its own worker thread.
    service.ingest("default", [_article(1), _article(2)])
    service.close()
    restarted = make_service(service.settings, embedder, encoding)
    start = threading.Barrier(6)

    def first_search(_: int) -> int:
        start.wait()
        return len(restarted.search("default", "Zephyrine turbines"))

    try:
        with ThreadPoolExecutor(6) as pool:
            found = list(pool.map(first_search, range(6)))
        assert all(found)
        assert len({id(restarted.keyword_index("default")) for _ in range(3)}) == 1
    finally:
        restarted.close()


def test_two_readers_creating_the_same_index_file_at_once_both_open_it(service, tmp_path):
    # Two processes (here: two instances) opening a library's keyword file for the first time.
    service.ingest("default", [_article(1)])
    path = tmp_path / "shared-index.sqlite3"
    start = threading.Barrier(2)

    def open_and_search(_: int) -> int:
        start.wait()
        index = KeywordIndex(path, service.store, "default")
        try:
            return len(index.search(tokens("Quokkaville"), 10))
        finally:
            index.close()

    with ThreadPoolExecutor(2) as pool:
        assert all(pool.map(open_and_search, range(2)))


def test_another_process_writing_to_the_chroma_server_is_seen_by_the_next_search(chroma_server, tmp_path, embedder, encoding):
    host, port = chroma_server
    reader = make_service(make_settings(tmp_path / "reader", chroma_host=host, chroma_port=port), embedder, encoding)
    other = user_env(tmp_path / "home", CHROMA_HOST=host, CHROMA_PORT=str(port))  # `newsbot` in a process of its own
    story = tmp_path / "story.txt"
    story.write_text(_article(7).body)
    try:
        assert reader.search("shared", "Quokkaville") == []  # the reader builds its (empty) index first
        added = newsbot(["add", str(story), "--title", "Zephyrine report 7", "--library", "shared"], other, tmp_path)
        assert added.code == 0, added.err
        hits = reader.search("shared", "Quokkaville turbines")
        assert hits and hits[0].source.title == "Zephyrine report 7"
        assert reader.keyword_index("shared").chunk_ids() == set(reader.store.ids("shared"))
        removed = newsbot(["remove", hits[0].source.article_id, "--library", "shared"], other, tmp_path)
        assert removed.code == 0, removed.err
        assert reader.keyword_index("shared").search(tokens("Quokkaville"), 5) == []
        assert reader.keyword_index("shared").chunk_ids() == set(reader.store.ids("shared")) == set()
    finally:
        reader.store.drop("shared")
        reader.close()


def test_a_change_made_behind_the_indexs_back_is_picked_up_by_the_periodic_resync(service, settings):
    # Written straight into Chroma: no generation bump, so only the periodic check can notice it.
    service.ingest("default", [_article(1), _article(2)])
    index = KeywordIndex(settings.data_dir / "resync.sqlite3", service.store, "default", resync_seconds=1.0)
    try:
        assert len(index.search(tokens("Zephyrine turbines"), 50)) == 2
        client = chromadb.PersistentClient(str(settings.resolved_chroma_path), ChromaSettings(anonymized_telemetry=False))
        gone = sorted(service.store.ids("default"))[0]
        (collection,) = [c for c in client.list_collections() if c.name.endswith("default")]  # newsbot's name for it
        collection.delete(ids=[gone])
        assert gone in {h.chunk_id for h in index.search(tokens("Zephyrine turbines"), 50)}  # not checked yet
        time.sleep(1.1)
        assert {h.chunk_id for h in index.search(tokens("Zephyrine turbines"), 50)} == set(service.store.ids("default"))
        assert gone not in index.chunk_ids()
    finally:
        index.close()


CRASHING_WRITER = textwrap.dedent(
    """
    import sys
    from retrieval.ingest.pipeline import Ingestor
    from retrieval.models import Article
    from tests.conftest import make_service, make_settings
    from retrieval.embed.minilm import MiniLMEmbedder, resolve_model_dir
    from bot.cli.main import use_offline_tiktoken_cache
    from retrieval.text.tokens import get_encoding
    from pathlib import Path
    use_offline_tiktoken_cache(None, Path(sys.argv[2]))
    emb = MiniLMEmbedder(resolve_model_dir(None, Path(sys.argv[2])))
    svc = make_service(make_settings(Path(sys.argv[1])), emb, get_encoding())
    ingestor = Ingestor(svc.store, emb, get_encoding(), batch_chunks=1)  # one Chroma write per article
    ingestor.ingest("default", [Article(title="First", body="Quokkaville opens a harbour. " * 5)])
    svc.search("default", "Quokkaville")  # the keyword index now exists and is in step
    print("ready", flush=True)
    ingestor.ingest("default", [Article(title=f"Later {i}", body=f"Quokkaville story {i}. " * 30) for i in range(200)],
               progress=lambda done, total: print("progress", done, flush=True))
    """
)


def test_a_writer_killed_mid_ingest_leaves_no_disagreement(tmp_path, embedder, encoding):
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(tmp_path), str(OFFLINE_DIR)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
    )
    seen = 0
    for line in proc.stdout:
        if line.startswith("progress"):
            seen += 1
            if seen == 3:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert seen == 3
    svc = make_service(make_settings(tmp_path), embedder, encoding)
    try:
        truth = set(svc.store.ids("default"))
        assert len(truth) > 1
        svc.search("default", "Quokkaville")
        assert svc.keyword_index("default").chunk_ids() == truth
    finally:
        svc.close()


def test_a_sub_search_reusing_the_questions_scores_scores_as_if_computed_afresh(service, tmp_path):
    service.ingest("default", [_article(i) for i in range(1, 6)])
    index = service.keyword_index("default")
    question = tokens("zephyrine turbines week quokkaville")
    index.search(question, 10)  # cached: the sub-search below adds "week 3" to it
    reused = index.search([*question, "week", "3"], 10, publishers=(), days=())
    fresh = KeywordIndex(tmp_path / "fresh.sqlite3", service.store, "default")
    try:
        direct = fresh.search([*question, "week", "3"], 10)
    finally:
        fresh.close()
    assert [h.chunk_id for h in reused] == [h.chunk_id for h in direct]
    assert [h.score for h in reused] == pytest.approx([h.score for h in direct], rel=1e-6)


def test_a_word_no_chunk_had_is_found_once_an_article_brings_it(service):
    service.ingest("default", [_article(1)])
    index = service.keyword_index("default")
    assert index.search(tokens("Xylophonics"), 5) == []  # remembered as absent
    service.ingest("default", [Article(title="Xylophonics IPO", body="Xylophonics listed its shares today. " * 3)])
    hits = index.search(tokens("Xylophonics"), 5)
    assert hits and len(hits) == len(service.store.ids("default")) - len(index.search(tokens("Zephyrine"), 50))


def test_coverage_from_the_index_matches_coverage_read_from_the_text(service):
    service.ingest("default", [_article(1), _article(2)])
    index = service.keyword_index("default")
    index.sync()
    ids = sorted(index.chunk_ids())
    chunks, _ = service.store.get("default", ids)
    for question in ["Which turbines did Zephyrine ship to Quokkaville?", "Zephyrine report 2 turbines week",
                     "Who visited Biosyngen in May?", "Quokkaville's shipped turbines, reported weekly"]:
        expected = [term_coverage(query_terms(question), f"{c.source.title} {c.text}") for c in chunks]
        term_stems = Question.parse(question).words.term_stems
        assert index.coverage([c.id for c in chunks], term_stems).tolist() == pytest.approx(expected)
    assert index.coverage(["no-such-chunk", chunks[0].id], [tuple(tokens("zephyrine"))]).tolist() == [0.0, 1.0]
    assert index.coverage([chunks[0].id], []).tolist() == [0.0]
