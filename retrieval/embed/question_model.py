"""A faster copy of the embedding model for questions: attention fused, weights in int8.

A question is embedded alone while someone waits for the answer, so its model's speed is the
user's latency; articles are embedded with the exact model (their vectors equal Chroma's). This
module derives, once per machine, a copy of the model with onnxruntime's transformer fusions
(one Attention, SkipLayerNorm and EmbedLayerNorm node per layer) and dynamic int8 quantisation
with one scale per output channel. It embeds a question faster than the exact model while its
vectors stay close to the exact model's, so retrieval quality holds (bench/RESULTS.md has the
figures; tests/test_question_model.py checks the closeness).

The copy lives in ``cache_dir`` under a name keyed by the source model file (size and mtime),
this recipe and the onnxruntime version, so an upgrade rebuilds it. It is written to a temporary
folder and renamed into place, so two processes starting at once cannot leave half a model.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from retrieval.embed.minilm import MODEL_NAME, REQUIRED_FILES, missing_files
from retrieval.errors import ConfigError

RECIPE = "fused-attention+int8-per-channel/1"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Int8Copy:
    """Callable handed to MiniLMEmbedder(derive=...): source model folder → the int8 copy's folder."""

    cache_dir: Path

    def __call__(self, source: Path) -> Path:
        target = Path(self.cache_dir).expanduser() / f"{MODEL_NAME}-int8-{_key(source)}"
        if not missing_files(target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as tmp:
            building = Path(tmp) / "model"
            building.mkdir()
            _build(source, building, scratch=Path(tmp))
            try:
                building.rename(target)
            except OSError:  # another process finished first (or left an incomplete folder)
                if missing_files(target):
                    shutil.rmtree(target, ignore_errors=True)
                    building.rename(target)
        _log.info("Built the int8 question model in %s", target)
        return target


def _key(source: Path) -> str:
    import onnxruntime

    stat = (Path(source) / "model.onnx").stat()
    return sha256(f"{stat.st_size}|{stat.st_mtime_ns}|{RECIPE}|{onnxruntime.__version__}".encode()).hexdigest()[:12]


def _build(source: Path, out: Path, *, scratch: Path) -> None:
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers import optimizer
    except ImportError as exc:
        raise ConfigError(
            f"Cannot build the int8 question model: {exc}.",
            hint="Reinstall newsbot (its dependencies include onnx and sympy) or set NEWSBOT_QUESTION_MODEL=exact.",
        ) from exc
    config = json.loads((Path(source) / "config.json").read_text())
    try:
        with _quiet_onnxruntime():
            fused = optimizer.optimize_model(
                str(Path(source) / "model.onnx"),
                model_type="bert",
                num_heads=int(config["num_attention_heads"]),
                hidden_size=int(config["hidden_size"]),
                opt_level=0,  # the transformer fusions only; onnxruntime applies its own at load time
            )
            fused.save_model_to_file(str(scratch / "fused.onnx"))  # declares the fused nodes' domain
            quantize_dynamic(
                scratch / "fused.onnx",
                out / "model.onnx",
                weight_type=QuantType.QInt8,
                per_channel=True,
                # the fused nodes' outputs are in Microsoft's domain, which shape inference cannot type
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
    except Exception as exc:  # onnx/onnxruntime raise their own types for graphs they cannot handle
        raise ConfigError(
            f"Cannot build the int8 question model from {source}: {type(exc).__name__}: {str(exc)[:200]}",
            hint="Set NEWSBOT_QUESTION_MODEL=exact to embed questions with the exact model.",
        ) from exc
    for name in REQUIRED_FILES:
        if name != "model.onnx":
            shutil.copyfile(Path(source) / name, out / name)


@contextmanager
def _quiet_onnxruntime() -> Iterator[None]:
    """Drop onnxruntime's log records while building (see _DropOnnxruntimeChatter)."""
    quiet = _DropOnnxruntimeChatter()
    root = logging.getLogger()
    # Without a handler, the quantiser's logging.warning() would install one printing to stderr
    # (logging.basicConfig): a placeholder stands in during the build.
    placeholder = None if root.handlers else logging.NullHandler()
    if placeholder is not None:
        root.addHandler(placeholder)
    handlers = list(root.handlers)
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
        if placeholder is not None:
            root.removeHandler(placeholder)


class _DropOnnxruntimeChatter(logging.Filter):
    """onnxruntime's quantiser logs its progress and advice through the root logger (a hundred
    lines per build) and its optimiser each fusion through loggers of its own; they tell the user
    nothing. Installed on the root logger's handlers during a build, which see both kinds."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname
