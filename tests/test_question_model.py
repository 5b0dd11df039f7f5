"""The int8 question model: built once, each vector nearest its exact counterpart, same answers;
failures fall back to the exact model."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.embed.minilm import REQUIRED_FILES, MiniLMEmbedder, resolve_model_dir
from retrieval.embed.question_model import Int8Copy
from retrieval.errors import ConfigError
from retrieval.search.params import SearchParams
from retrieval.settings import PROJECT_ROOT
from tests.conftest import OFFLINE_DIR, make_service, make_settings

# One question per sample article in data/, in words of our own (sorted like the files).
QUESTIONS = [
    "Which diplomats toured the cell therapy base in Guangzhou?",
    "How much money did Biosyngen raise when it dosed the first patient with its TCR-T therapy?",
    "What did Tessarine build in Singapore and what did it cost?",
    "Where is the battery gigafactory being built and how big is it?",
    "Who invested in the payments company's Series B round?",
    "How many customer records were exposed in the breach?",
    "Where did Cobaltline open its cross-border e-commerce hub?",
    "Which ministers went to see the floating wind foundation factory?",
    "What were the phase 2 results of the psoriasis antibody?",
    "In which cities did the operator switch on standalone 5G?",
    "How much is Greenhollow paying for the oat drink maker?",
    "Who ordered the 24 Earth observation satellites?",
    "Who is the new chief executive of Wattlebrook Markets?",
    "Who will supply spodumene to the battery maker, and for how long?",
    "What did regulators clear for chest X-ray triage?",
    "How large is the vertical farm in Dubai?",
]
SENTENCES = [
    "Who visited Biosyngen?",
    "The company said its new factory would open next year and hire local workers.",
    "Ünïcödé façade — 生物科技公司 🚀",
    "x",
    "What did the board announce about the dividend after the October report?",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return resolve_model_dir(None, OFFLINE_DIR)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def int8(model_dir: Path, cache: Path) -> MiniLMEmbedder:
    model = MiniLMEmbedder(model_dir, derive=Int8Copy(cache))
    model.warm()
    return model


def _articles() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((PROJECT_ROOT / "data").glob("*.json"))]


def test_the_copy_is_int8_and_each_vector_is_nearest_its_exact_counterpart(int8, embedder, model_dir, cache):
    # Judged by ranks, not by a cosine threshold: how close int8 gets differs between onnxruntime
    # releases, while what users feel is which text (and article, below) a vector is nearest.
    assert int8.loaded_from is not None and int8.loaded_from.parent == cache
    assert sorted(p.name for p in int8.loaded_from.iterdir()) == sorted(REQUIRED_FILES)
    exact_size = (model_dir / "model.onnx").stat().st_size
    assert (int8.loaded_from / "model.onnx").stat().st_size < exact_size / 3  # int8 weights, not float32
    texts = SENTENCES + QUESTIONS
    fast, exact = int8.embed_batch(texts), embedder.embed_batch(texts)
    assert fast.shape == exact.shape == (len(texts), 384) and fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(fast, exact, atol=1e-4)  # it is a different model, not the same one reloaded
    assert list((fast @ exact.T).argmax(axis=1)) == list(range(len(texts)))
    # activations are quantised per run, so a text alone (how questions are embedded) and in a batch
    # give slightly different vectors, each nearest its own exact one
    alone = np.stack([int8.embed(text) for text in texts])
    assert list((alone @ exact.T).argmax(axis=1)) == list(range(len(texts)))


def test_each_question_finds_the_same_article_with_either_model(int8, embedder):
    articles = _articles()
    assert len(articles) == len(QUESTIONS)
    documents = embedder.embed_batch([f"{a['title']}\n{a['body']}" for a in articles])  # stored: exact
    by_exact = (embedder.embed_batch(QUESTIONS) @ documents.T).argmax(axis=1)
    by_int8 = np.stack([int8.embed(q) for q in QUESTIONS]) @ documents.T
    assert list(by_int8.argmax(axis=1)) == list(by_exact) == list(range(len(QUESTIONS)))


def test_a_service_asking_with_the_int8_model_finds_the_articles_and_gates_unrelated_questions(
    tmp_path, int8, embedder, encoding
):
    service = make_service(make_settings(tmp_path), int8, encoding, ingest_embedder=embedder)
    try:
        service.ingest("main", asyncio.run(service.read_paths([PROJECT_ROOT / "data"])))
        titles = [a["title"] for a in _articles()]
        for question, title in zip(QUESTIONS, titles, strict=True):
            passages = service.search("main", question, SearchParams(k=3))
            assert passages and passages[0].source.title == title, question
        assert service.search("main", "What is a good recipe for banana bread with walnuts?", SearchParams(k=3)) == []
    finally:
        service.close()


def test_the_copy_is_built_once_and_rebuilt_quietly_when_incomplete(int8, model_dir, cache, caplog):
    folder = int8.loaded_from
    built = (folder / "model.onnx").stat().st_mtime_ns
    assert Int8Copy(cache)(model_dir) == folder
    assert (folder / "model.onnx").stat().st_mtime_ns == built  # reused, not rebuilt
    (folder / "vocab.txt").unlink()
    with caplog.at_level(logging.INFO):
        assert Int8Copy(cache)(model_dir) == folder
    assert (folder / "model.onnx").stat().st_mtime_ns != built  # rebuilt
    # onnxruntime's optimiser and quantiser report each step at INFO; a user running at INFO sees none
    assert [r.getMessage() for r in caplog.records if "onnxruntime" in r.pathname] == []
    assert sorted(p.name for p in folder.iterdir()) == sorted(REQUIRED_FILES)
    assert [p.name for p in cache.iterdir()] == [folder.name]  # no temporary folders left behind


def test_a_build_in_a_process_without_logging_set_up_prints_nothing(tmp_path, model_dir):
    # As `newsbot ask` on a new machine: the quantiser's logging.warning() would otherwise install a
    # stderr handler (logging.basicConfig) and print its advice to the user.
    script = (
        "import logging, sys; from pathlib import Path; from retrieval.embed.question_model import Int8Copy; "
        "folder = Int8Copy(Path(sys.argv[1]))(Path(sys.argv[2])); "
        "print(folder.name, len(logging.getLogger().handlers))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "cache"), str(model_dir)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    name, handlers = done.stdout.split()
    assert name.startswith("all-MiniLM-L6-v2-int8-") and handlers == "0"  # no handler left behind


def test_a_model_that_cannot_be_converted_raises_a_config_error_and_leaves_nothing(tmp_path, model_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in REQUIRED_FILES:
        (broken / name).write_bytes((model_dir / name).read_bytes() if name != "model.onnx" else b"not a model")
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match="NEWSBOT_QUESTION_MODEL=exact"):
        Int8Copy(cache)(broken)
    assert list(cache.iterdir()) == []


def test_the_embedder_falls_back_to_the_exact_model_when_the_copy_fails(tmp_path, model_dir, embedder, caplog):
    def cannot_build(source: Path) -> Path:
        raise ConfigError("Cannot build the int8 question model: disk full.")

    def corrupt_copy(source: Path) -> Path:
        folder = tmp_path / "corrupt"
        folder.mkdir(exist_ok=True)
        for name in REQUIRED_FILES:
            (folder / name).write_bytes((source / name).read_bytes() if name != "model.onnx" else b"\0" * 64)
        return folder

    reference = embedder.embed_batch(SENTENCES)
    for derive, reason in ((cannot_build, "disk full"), (corrupt_copy, "corrupt")):
        caplog.clear()
        model = MiniLMEmbedder(model_dir, derive=derive)
        with caplog.at_level(logging.WARNING, logger="retrieval.embed.minilm"):
            vectors = model.embed_batch(SENTENCES)
        assert model.loaded_from == model_dir
        np.testing.assert_allclose(vectors, reference, atol=1e-6)
        assert any("Using the exact embedding model" in r.getMessage() and reason in r.getMessage() for r in caplog.records)


def test_settings_choose_the_question_model_and_articles_always_use_the_exact_one(tmp_path):
    from retrieval.service import NewsService

    for choice, derived in (("int8", True), ("exact", False)):
        for nice in (0, 10):
            settings = make_settings(tmp_path / f"{choice}-{nice}", question_model=choice, ingest_nice=nice)
            service = NewsService.from_settings(settings)
            try:
                assert isinstance(service.embedder.derive, Int8Copy) is derived
                if derived:
                    assert service.embedder.derive.cache_dir == settings.cache_dir
                articles = getattr(service.ingest_embedder, "inner", service.ingest_embedder)
                assert isinstance(articles, MiniLMEmbedder) and articles.derive is None
                # its own instance, unless one exact model at normal priority can serve both
                assert (articles is service.embedder) is (not derived and nice == 0)
            finally:
                service.close()
