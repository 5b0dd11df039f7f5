"""newsbot's default local embedder: Chroma's default model (all-MiniLM-L6-v2, ONNX), run directly.

Vectors equal Chroma's ``ONNXMiniLM_L6_V2`` (same model file, same tokenisation with truncation
at 256 word-pieces, mean pooling over the attention mask, L2 normalisation), so a library built
with Chroma's default embedding function can be queried with this one. It is faster because
Chroma pads every text to 256 word-pieces, while this pads each batch only to its longest text
and groups texts of similar length (sorted by length; results come back in the caller's order).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embed.base import Embedder
from retrieval.errors import ConfigError, InputError

MODEL_NAME = "all-MiniLM-L6-v2"
CHROMA_MODEL_DIR = Path.home() / ".cache" / "chroma" / "onnx_models" / MODEL_NAME / "onnx"
REQUIRED_FILES = (
    "config.json",
    "model.onnx",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.txt",
)
DIMENSION = 384
MAX_TOKENS = 256  # the window sentence-transformers and Chroma use for this model

_MODEL_DIR_HINT = (
    "Connect to the internet once so the model can be downloaded, "
    "or set NEWSBOT_EMBEDDING_MODEL_DIR to a folder holding " + ", ".join(REQUIRED_FILES) + "."
)


def missing_files(folder: Path) -> list[str]:
    """The model files ``folder`` lacks (all of them when it does not exist)."""
    return [name for name in REQUIRED_FILES if not (folder / name).is_file()]


def download_chroma_model(folder: Path = CHROMA_MODEL_DIR, *, url: str | None = None) -> Path:
    """Let Chroma download and unpack its default model so ``folder`` (named ``onnx``) holds it.

    Uses Chroma's own downloader (checksum-verified archive); ``url`` overrides its address.
    Any failure becomes a ConfigError telling the user how to work without the download.
    """
    try:
        from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

        function = ONNXMiniLM_L6_V2()
        function.DOWNLOAD_PATH = Path(folder).parent  # Chroma unpacks ``onnx/`` under this folder
        if url is not None:
            function.MODEL_DOWNLOAD_URL = url
        function(["newsbot"])  # its public call downloads, verifies (sha256) and unpacks the model once
        folder = Path(function.DOWNLOAD_PATH) / function.EXTRACTED_FOLDER_NAME
    except Exception as exc:  # network, disk, checksum or archive errors from a third-party library
        raise ConfigError(
            f"Could not download the embedding model {MODEL_NAME}: {_describe(exc)}.",
            hint=_MODEL_DIR_HINT,
        ) from exc
    if missing := missing_files(folder):
        raise ConfigError(
            f"The downloaded embedding model in {folder} lacks {', '.join(missing)}.", hint=_MODEL_DIR_HINT
        )
    return folder


def resolve_model_dir(
    explicit: Path | None,
    offline_dir: Path | None,
    *,
    chroma_dir: Path = CHROMA_MODEL_DIR,
    download: Callable[[Path], Path] = download_chroma_model,
) -> Path:
    """Find the folder with the model's six files, downloading it through Chroma as a last resort.

    Order: ``explicit`` (NEWSBOT_EMBEDDING_MODEL_DIR; must be complete), Chroma's cache folder,
    ``offline_dir/models/all-MiniLM-L6-v2/onnx`` (machines without internet), then
    ``download(chroma_dir)`` (the normal online path: Chroma fetches its model once).
    """
    if explicit is not None:
        folder = Path(explicit).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"Embedding model folder {folder} does not exist.", hint=_MODEL_DIR_HINT)
        if missing := missing_files(folder):
            raise ConfigError(
                f"Embedding model folder {folder} is missing {', '.join(missing)}.", hint=_MODEL_DIR_HINT
            )
        return folder
    if not missing_files(chroma_dir):
        return chroma_dir
    if offline_dir is not None:
        folder = Path(offline_dir).expanduser() / "models" / MODEL_NAME / "onnx"
        if not missing_files(folder):
            return folder
    return download(chroma_dir)


@dataclass(frozen=True)
class _Loaded:
    session: Any  # onnxruntime.InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer, truncating at MAX_TOKENS, no padding
    counter: Any  # tokenizers.Tokenizer without truncation, for count_tokens
    input_names: frozenset[str]


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 through onnxruntime: 384-dim, L2-normalised, Chroma-compatible vectors."""

    name = MODEL_NAME
    max_tokens = MAX_TOKENS
    dimension = DIMENSION

    def __init__(
        self,
        model_dir: Path,
        *,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        # batch_size 32: close to the fastest batch size on an idle machine, and faster than smaller
        # batches when other processes share the cores (bench/embedder.py measures it).
        # threads None: onnxruntime's default, one per physical core (as Chroma).
        if batch_size < 1:
            raise ConfigError(f"Embedding batch size must be at least 1, got {batch_size}.")
        if threads is not None and threads < 1:
            raise ConfigError(f"Embedding threads must be at least 1, got {threads}.")
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    # -- loading ---------------------------------------------------------------------------

    def _model(self) -> _Loaded:
        loaded = self._loaded
        if loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
                loaded = self._loaded
        return loaded

    def warm(self) -> None:
        self._model()

    def _load(self) -> _Loaded:
        if missing := missing_files(self.model_dir):
            raise ConfigError(
                f"Embedding model folder {self.model_dir} is missing {', '.join(missing)}.", hint=_MODEL_DIR_HINT
            )
        folder = self.model_dir
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # as Chroma
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        if self.threads is not None:
            options.intra_op_num_threads = self.threads  # else onnxruntime uses one per physical core
        try:
            session = ort.InferenceSession(
                str(folder / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # onnxruntime/tokenizers raise their own types for corrupt files
            raise ConfigError(
                f"Could not load the embedding model from {folder}: {_describe(exc)}.",
                hint=_MODEL_DIR_HINT,
            ) from exc
        # Chroma overrides tokenizer.json's own settings (truncation and fixed padding at 128).
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()
        counter.no_truncation()
        counter.no_padding()
        names = frozenset(i.name for i in session.get_inputs())
        return _Loaded(session=session, tokenizer=tokenizer, counter=counter, input_names=names)

    # -- embedding -------------------------------------------------------------------------

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        texts = _checked(texts)
        count = len(texts)
        out = np.empty((count, DIMENSION), dtype=np.float32)
        if count == 0:
            return out
        model = self._model()
        if count == 1:
            encodings = [model.tokenizer.encode(texts[0])]
        else:
            encodings = model.tokenizer.encode_batch(texts)
        ids = [e.ids for e in encodings]
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=count)
        order = np.argsort(-lengths, kind="stable")  # longest first: the biggest batch comes early
        for start in range(0, count, self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run(model, [ids[r] for r in rows], lengths[rows])
        return out

    def _run(self, model: _Loaded, ids: list[list[int]], lengths: np.ndarray) -> np.ndarray:
        width = int(lengths.max())
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        for row, piece_ids in enumerate(ids):
            input_ids[row, : len(piece_ids)] = piece_ids
        mask = (np.arange(width) < lengths[:, None]).astype(np.int64)
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in model.input_names:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        hidden = model.session.run(None, feed)[0]
        # mean over real word-pieces, then L2-normalise (zero norm -> 1e-12, as Chroma/PyTorch)
        pooled = np.einsum("bsd,bs->bd", hidden, mask.astype(np.float32))
        pooled /= np.maximum(lengths.astype(np.float32), 1e-9)[:, None]
        norms = np.linalg.norm(pooled, axis=1)
        norms[norms == 0] = 1e-12
        return (pooled / norms[:, None]).astype(np.float32, copy=False)

    def count_tokens(self, text: str) -> int:
        """Word-pieces the model would see for ``text`` before truncation, [CLS] and [SEP] included."""
        if not isinstance(text, str):
            raise InputError(f"Text to embed must be a string, got {type(text).__name__}.")
        return len(self._model().counter.encode(text).ids)


def _checked(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("embed_batch takes a list of texts, got a single string.")
    texts = list(texts)
    for text in texts:
        if not isinstance(text, str):
            raise InputError(f"Text to embed must be a string, got {type(text).__name__}.")
    return texts


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
