"""Article embedding runs at low CPU priority in its own thread; the model's threads inherit it."""

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from retrieval.embed.background import LowPriorityEmbedder
from retrieval.embed.base import Embedder
from retrieval.embed.minilm import MiniLMEmbedder
from retrieval.errors import InputError

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")


def _nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def _niced_threads(nice: int) -> set[int]:
    """This process's threads whose nice value is ``nice``."""
    tids = set()
    for task in Path("/proc/self/task").iterdir():
        fields = task.joinpath("stat").read_text().rsplit(")", 1)[1].split()
        if int(fields[16]) == nice:  # field 19 of stat, counted after "pid (comm)"
            tids.add(int(task.name))
    return tids


class RecordingEmbedder(Embedder):
    """Implements the real interface; notes which thread did each piece of work."""

    name = "recording-3"
    max_tokens = 99

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def warm(self) -> None:
        self.calls.append(("warm", threading.get_native_id()))

    def embed_batch(self, texts):
        self.calls.append(("embed", threading.get_native_id()))
        if any(not t for t in texts):
            raise InputError("Empty text.")
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)

    def count_tokens(self, text):
        self.calls.append(("count", threading.get_native_id()))
        return len(text.split())


def test_work_runs_in_one_other_thread_after_the_model_loads_there():
    inner = RecordingEmbedder()
    background = LowPriorityEmbedder(inner, nice=4)
    try:
        vectors = background.embed_batch(["a", "abc"])
        np.testing.assert_array_equal(vectors, [[1, 1, 0], [3, 1, 0]])
        background.embed_batch(["more"])
        assert background.count_tokens("three short words") == 3
        assert (background.name, background.max_tokens) == ("recording-3", 99)
    finally:
        background.close()
    me = threading.get_native_id()
    assert [kind for kind, _ in inner.calls] == ["warm", "embed", "embed", "count"]  # warmed once, first
    worker = {tid for kind, tid in inner.calls if kind != "count"}
    assert len(worker) == 1 and me not in worker
    assert inner.calls[-1] == ("count", me)  # token counts do not queue behind a batch


def test_errors_reach_the_caller_unchanged():
    background = LowPriorityEmbedder(RecordingEmbedder(), nice=4)
    try:
        with pytest.raises(InputError, match="Empty text"):
            background.embed_batch(["fine", ""])
        assert background.embed_batch(["still works"]).shape == (1, 3)
    finally:
        background.close()


@linux_only
def test_the_worker_thread_is_niced_and_the_caller_is_not():
    base = _nice_of(threading.get_native_id())
    inner = RecordingEmbedder()
    background = LowPriorityEmbedder(inner, nice=3)
    try:
        background.embed_batch(["x"])
        (_, worker), = {c for c in inner.calls if c[0] == "embed"}
        assert _nice_of(worker) == min(19, base + 3)
        assert _nice_of(threading.get_native_id()) == base
    finally:
        background.close()


def test_nice_zero_leaves_priority_alone():
    inner = RecordingEmbedder()
    background = LowPriorityEmbedder(inner, nice=0)
    try:
        background.embed_batch(["x"])
        worker = inner.calls[-1][1]
        assert worker != threading.get_native_id()
        if sys.platform.startswith("linux"):
            assert _nice_of(worker) == _nice_of(threading.get_native_id())
    finally:
        background.close()


@linux_only
def test_minilm_model_threads_start_niced_and_vectors_are_unchanged(embedder):
    base = _nice_of(threading.get_native_id())
    nice = 7
    before = _niced_threads(base + nice)
    background = LowPriorityEmbedder(MiniLMEmbedder(embedder.model_dir, threads=2), nice=nice)
    try:
        texts = ["Biosyngen hosted Singapore's Consul General in Guangzhou.", "Shares rose."]
        # the chunker counts tokens before anything is embedded: that first call loads the model
        assert background.count_tokens(texts[0]) == embedder.count_tokens(texts[0])
        # the worker thread, and onnxruntime's own worker started while the model loaded there
        assert len(_niced_threads(base + nice) - before) >= 2
        np.testing.assert_allclose(background.embed_batch(texts), embedder.embed_batch(texts), atol=1e-5)
    finally:
        background.close()


def test_the_service_embeds_articles_with_its_own_low_priority_model(tmp_path):
    from retrieval.models import Article
    from retrieval.service import NewsService
    from tests.conftest import make_settings

    service = NewsService.from_settings(make_settings(tmp_path))
    try:
        ingest = service.ingest_embedder
        assert isinstance(ingest, LowPriorityEmbedder) and ingest.nice == service.settings.ingest_nice == 10
        assert ingest.inner is not service.embedder and ingest.name == service.embedder.name
        article = Article(title="Acme opens Penang plant", body="Acme Robotics opened a factory in Penang.", url=None)
        service.ingest("default", [article])
        assert service.search("default", "Where did Acme open a factory?")[0].source.title == article.title
    finally:
        service.close()

    plain = NewsService.from_settings(make_settings(tmp_path / "plain", ingest_nice=0))
    try:
        assert plain.ingest_embedder is plain.embedder  # one exact model serves both
    finally:
        plain.close()
