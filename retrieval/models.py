"""Typed objects that cross module boundaries: Article -> Chunk -> Passage -> Answer."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from functools import cached_property
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PARAMS = re.compile(r"^(utm_|fbclid$|gclid$|mc_|ref$|ref_src$)")


def normalize_text(text: str) -> str:
    """Unicode-normalise and collapse whitespace: the form used for content hashes."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragment, tracking parameters and a trailing slash."""
    parts = urlsplit(url.strip())
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k))
    )
    path = parts.path.rstrip("/") or "/"
    host = (parts.hostname or "").lower()
    if parts.port and not ((parts.scheme == "http" and parts.port == 80) or (parts.scheme == "https" and parts.port == 443)):
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, path, query, ""))


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True)
class Article:
    """One news article as ingested. ``id`` is stable across re-adds of the same article."""

    title: str
    body: str
    url: str | None = None
    publisher: str | None = None
    published: date | None = None

    # Cached: chunking and dedupe ask for these once per chunk, and each reads the whole body.
    @cached_property
    def id(self) -> str:
        if self.url:
            return "u" + _digest(canonical_url(self.url))[:16]
        return "t" + _digest(normalize_text(self.body))[:16]

    @cached_property
    def content_hash(self) -> str:
        return _digest(
            normalize_text(self.title),
            normalize_text(self.body),
            canonical_url(self.url) if self.url else "",
            self.publisher or "",
            self.published.isoformat() if self.published else "",
        )[:16]

    @property
    def source(self) -> Source:
        return Source(
            article_id=self.id, title=self.title, publisher=self.publisher, url=self.url, published=self.published
        )


@dataclass(frozen=True)
class Source:
    """What a citation points at: an article's identity and metadata."""

    article_id: str
    title: str
    publisher: str | None = None
    url: str | None = None
    published: date | None = None

    def label(self) -> str:
        """``Title — Publisher, 2022-05-27`` (parts that are unknown are left out)."""
        tail = ", ".join(p for p in (self.publisher, self.published.isoformat() if self.published else None) if p)
        return f"{self.title} — {tail}" if tail else self.title


@dataclass(frozen=True)
class Chunk:
    """A token-bounded piece of an article, ready to embed and store."""

    id: str
    source: Source
    position: int
    text: str
    content_hash: str
    # How many chunks this version of the article has: it is shown only once all are stored.
    # 0: not recorded (chunks written before newsbot recorded it), counted as complete.
    parts: int = 0

    @property
    def embed_text(self) -> str:
        """What the embedder sees: the title gives a chunk its context."""
        return f"{self.source.title}\n{self.text}"


@dataclass(frozen=True)
class StoredVersion:
    """What is stored of one version (content hash) of an article."""

    ids: list[str]
    parts: int  # its chunks when complete (0: not recorded, counted as complete)

    @property
    def complete(self) -> bool:
        """All its chunks are stored: only then is the version shown (a write may have been cut short)."""
        return len(self.ids) >= self.parts


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with how it ranked."""

    chunk_id: str
    source: Source
    position: int
    text: str
    score: float
    similarity: float | None = None


@dataclass(frozen=True)
class Citation:
    number: int
    source: Source


class AnswerMode(str, Enum):
    LLM = "llm"
    EXTRACTIVE = "extractive"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Answer:
    """The formatted answer; ``raw`` keeps the model's own text apart from what is shown."""

    text: str
    citations: tuple[Citation, ...]
    mode: AnswerMode
    raw: str = ""
    note: str | None = None
    passages: tuple[Passage, ...] = field(default=(), repr=False)


class IngestStatus(str, Enum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class IngestResult:
    article_id: str
    title: str
    status: IngestStatus
    chunks: int


@dataclass(frozen=True)
class ArticleSummary:
    """One row of ``newsbot list``."""

    source: Source
    chunks: int


@dataclass(frozen=True)
class LibraryStats:
    library: str
    articles: int
    chunks: int
    embedder: str
