"""tiktoken encodings that never reach for the network when an offline cache is available."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import tiktoken

from retrieval.errors import ConfigError

ENCODING_NAME = "cl100k_base"


def offline_cache_dir(explicit: Path | None, offline_dir: Path | None) -> Path | None:
    """The folder tiktoken should read its encodings from (tiktoken takes it from the
    TIKTOKEN_CACHE_DIR environment variable, which the entry point sets): the explicit setting,
    else ``offline_dir/tiktoken-cache`` when it exists and the environment names no folder yet.
    None: tiktoken keeps its normal behaviour (download once, then cache)."""
    if explicit is not None:
        return explicit
    if "TIKTOKEN_CACHE_DIR" in os.environ or offline_dir is None:
        return None
    candidate = offline_dir / "tiktoken-cache"
    return candidate.resolve() if candidate.is_dir() else None


@lru_cache(maxsize=4)
def get_encoding(name: str = ENCODING_NAME) -> tiktoken.Encoding:
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # tiktoken raises requests/OSError/ValueError variants
        raise ConfigError(
            f"tiktoken could not load its '{name}' encoding ({type(exc).__name__}).",
            hint="Connect to the internet once, or set TIKTOKEN_CACHE_DIR to a folder holding the cached file.",
        ) from None


def count_tokens(text: str, encoding: tiktoken.Encoding) -> int:
    return len(encoding.encode(text, disallowed_special=()))
