"""MiniLMEmbedder gives Chroma's default vectors; resolve_model_dir finds (or downloads) the model."""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2
from tokenizers import Tokenizer

from retrieval.embed.minilm import (
    MODEL_NAME,
    REQUIRED_FILES,
    MiniLMEmbedder,
    download_chroma_model,
    resolve_model_dir,
)
from retrieval.errors import ConfigError, InputError

SHARED_MODEL_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / MODEL_NAME / "onnx"

WORDS = "the company said its new factory would open next year and hire local workers".split()
LONG = " ".join(WORDS[i % len(WORDS)] for i in range(400))  # ~400 word-pieces: truncated at 256
TEXTS = [
    "Hi",
    LONG,
    "",
    "Biosyngen hosted ASEAN consuls general in Guangzhou on 27 May 2022 to discuss cell therapy.",
    "   \n\t ",
    "Ünïcödé façade — 生物科技公司 在广州 🚀🧬 مرحبا",
    " ".join(WORDS * 8),  # ~120 word-pieces
    "What did the company announce?",
    LONG.upper() + " extra tail that is cut off",
    "x",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    folder = Path(os.environ.get("NEWSBOT_EMBEDDING_MODEL_DIR") or SHARED_MODEL_DIR)
    if missing := [name for name in REQUIRED_FILES if not (folder / name).is_file()]:
        pytest.fail(  # a CI run without the model must not pass by skipping what it cannot check
            f"{folder} lacks the model's {', '.join(missing)}. Provision the model: put the shared/ folder "
            f"(models/{MODEL_NAME}/onnx, see its README.md) beside the checkout, or set "
            "NEWSBOT_EMBEDDING_MODEL_DIR to a folder holding the six files."
        )
    return folder


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> MiniLMEmbedder:
    return MiniLMEmbedder(model_dir)


@pytest.fixture(scope="module")
def chroma_vectors(model_dir: Path) -> np.ndarray:
    """Chroma's own default embedding function, reading the same model folder (not ~/.cache)."""
    function = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
    function.DOWNLOAD_PATH = model_dir.parent
    function.EXTRACTED_FOLDER_NAME = model_dir.name
    return np.array(function(TEXTS), dtype=np.float32)


@pytest.fixture(scope="module")
def plain_tokenizer(model_dir: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def test_inputs_exercise_sorting_and_truncation(embedder: MiniLMEmbedder) -> None:
    lengths = [embedder.count_tokens(t) for t in TEXTS]
    assert lengths != sorted(lengths) and lengths != sorted(lengths, reverse=True)
    assert sum(n > 256 for n in lengths) >= 2


@pytest.mark.parametrize("batch_size", [32, 3, 1])
def test_vectors_equal_chromas_in_callers_order(model_dir: Path, chroma_vectors: np.ndarray, batch_size: int) -> None:
    vectors = MiniLMEmbedder(model_dir, batch_size=batch_size).embed_batch(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
    assert np.abs(vectors - chroma_vectors).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_single_text_equals_its_row_in_a_batch(embedder: MiniLMEmbedder, chroma_vectors: np.ndarray) -> None:
    for index in (0, 3, 5):
        assert np.abs(embedder.embed(TEXTS[index]) - chroma_vectors[index]).max() < 1e-5


def test_reversed_order_gives_reversed_rows(embedder: MiniLMEmbedder, chroma_vectors: np.ndarray) -> None:
    vectors = embedder.embed_batch(list(reversed(TEXTS)))
    assert np.abs(vectors[::-1] - chroma_vectors).max() < 1e-5


def test_embed_multi_streams_rows_in_order(embedder: MiniLMEmbedder, chroma_vectors: np.ndarray) -> None:
    rows = list(embedder.embed_multi(iter(TEXTS), batch_size=4))
    assert np.abs(np.stack(rows) - chroma_vectors).max() < 1e-5


def test_empty_input_gives_empty_array(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed_batch([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_bad_input_is_refused(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(InputError):
        embedder.embed_batch("a single string")
    with pytest.raises(InputError):
        embedder.embed_batch(["fine", None])  # type: ignore[list-item]
    with pytest.raises(InputError):
        embedder.count_tokens(b"bytes")  # type: ignore[arg-type]


def test_count_tokens_matches_tokenizer_with_specials(embedder: MiniLMEmbedder, plain_tokenizer: Tokenizer) -> None:
    assert embedder.count_tokens("") == 2  # [CLS] [SEP]
    assert embedder.count_tokens("hello world") == 4
    for text in TEXTS:
        assert embedder.count_tokens(text) == len(plain_tokenizer.encode(text).ids)
    assert embedder.count_tokens(LONG) > 256  # not truncated


def test_truncation_keeps_first_254_word_pieces(embedder: MiniLMEmbedder, plain_tokenizer: Tokenizer) -> None:
    pieces = plain_tokenizer.encode(LONG, add_special_tokens=False)
    prefix = LONG[: pieces.offsets[253][1]]
    assert plain_tokenizer.encode(prefix, add_special_tokens=False).ids == pieces.ids[:254]
    assert embedder.count_tokens(prefix) == 256
    assert np.abs(embedder.embed(LONG) - embedder.embed(prefix)).max() < 1e-6
    shorter = LONG[: pieces.offsets[252][1]]
    assert np.abs(embedder.embed(LONG) - embedder.embed(shorter)).max() > 1e-4


def test_concurrent_first_use_agrees_with_chroma(model_dir: Path, chroma_vectors: np.ndarray) -> None:
    fresh = MiniLMEmbedder(model_dir, threads=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: fresh.embed(TEXTS[i % 4]), range(8)))
    for i, vector in enumerate(results):
        assert np.abs(vector - chroma_vectors[i % 4]).max() < 1e-5


def test_load_is_lazy_and_errors_are_config_errors(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(tmp_path / "nowhere")  # nothing is read yet
    with pytest.raises(ConfigError, match="model.onnx"):
        embedder.embed("hello")
    with pytest.raises(ConfigError):
        MiniLMEmbedder(tmp_path, batch_size=0)


# -- resolve_model_dir --------------------------------------------------------------------


def _model_copy(folder: Path, source: Path, skip: str | None = None) -> Path:
    folder.mkdir(parents=True)
    for name in REQUIRED_FILES:
        if name != skip:
            (folder / name).symlink_to(source / name)
    return folder


def _no_download(folder: Path) -> Path:
    raise AssertionError(f"download attempted into {folder}")


def test_explicit_dir_is_used_and_must_be_complete(tmp_path: Path, model_dir: Path) -> None:
    good = _model_copy(tmp_path / "good", model_dir)
    assert resolve_model_dir(good, None, chroma_dir=tmp_path / "chroma", download=_no_download) == good
    partial = _model_copy(tmp_path / "partial", model_dir, skip="tokenizer.json")
    with pytest.raises(ConfigError, match="tokenizer.json") as err:
        resolve_model_dir(partial, tmp_path, chroma_dir=good, download=_no_download)
    assert "NEWSBOT_EMBEDDING_MODEL_DIR" in str(err.value)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_model_dir(tmp_path / "missing", None, chroma_dir=good, download=_no_download)


def test_chroma_cache_comes_before_offline_dir(tmp_path: Path, model_dir: Path) -> None:
    chroma = _model_copy(tmp_path / "chroma" / "onnx", model_dir)
    offline = tmp_path / "shared"
    _model_copy(offline / "models" / MODEL_NAME / "onnx", model_dir)
    assert resolve_model_dir(None, offline, chroma_dir=chroma, download=_no_download) == chroma


def test_offline_dir_when_chroma_cache_incomplete(tmp_path: Path, model_dir: Path) -> None:
    chroma = _model_copy(tmp_path / "chroma" / "onnx", model_dir, skip="vocab.txt")
    offline = tmp_path / "shared"
    expected = _model_copy(offline / "models" / MODEL_NAME / "onnx", model_dir)
    assert resolve_model_dir(None, offline, chroma_dir=chroma, download=_no_download) == expected


def test_download_is_last_resort_into_chroma_dir(tmp_path: Path, model_dir: Path) -> None:
    chroma = tmp_path / "chroma" / "onnx"
    calls: list[Path] = []

    def fake_download(folder: Path) -> Path:
        calls.append(folder)
        return _model_copy(folder, model_dir)

    assert resolve_model_dir(None, tmp_path / "empty", chroma_dir=chroma, download=fake_download) == chroma
    assert calls == [chroma]


def test_failed_download_tells_user_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port with nothing listening: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/onnx.tar.gz"
    chroma = tmp_path / "chroma" / "onnx"
    with pytest.raises(ConfigError) as err:
        resolve_model_dir(None, None, chroma_dir=chroma, download=lambda d: download_chroma_model(d, url=url))
    message = str(err.value)
    assert "Could not download" in message and "NEWSBOT_EMBEDDING_MODEL_DIR" in message
    assert not (chroma / "model.onnx").exists()
