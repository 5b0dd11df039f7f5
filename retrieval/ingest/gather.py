"""Reading many files, folders and links at once: each file that can be read gives its articles, each one
that cannot gives a ``ReadFailure`` (which file, and why), so one bad file never stops the rest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import InputError
from retrieval.ingest.extract import articles_from_path, iter_article_files
from retrieval.models import Article


@dataclass(frozen=True)
class ReadFailure:
    """A file, folder, link or standard input that gave no article: ``source`` as the user named
    it, and the error saying why (safe to show)."""

    source: str
    error: InputError

    @property
    def reason(self) -> str:
        return str(self.error)


@dataclass(frozen=True)
class ReadReport:
    """The articles read from several sources, and the sources that could not be read."""

    articles: list[Article] = field(default_factory=list)
    failures: list[ReadFailure] = field(default_factory=list)

    def extend(self, other: ReadReport) -> None:
        self.articles.extend(other.articles)
        self.failures.extend(other.failures)


def read_files(paths: Sequence[Path], *, max_bytes: int, **overrides: Any) -> ReadReport:
    """The articles in files and folders (every supported file under a folder, in order), and a
    failure for each file or folder that could not be read."""
    report = ReadReport()
    for path in map(Path, paths):
        if not path.exists():
            report.failures.append(ReadFailure(str(path), InputError("There is no such file or folder.")))
            continue
        try:
            files = iter_article_files(path) if path.is_dir() else [path]
        except InputError as exc:
            report.failures.append(ReadFailure(str(path), exc))
            continue
        for file in files:
            try:
                report.articles.extend(articles_from_path(file, max_bytes=max_bytes, **overrides))
            except InputError as exc:
                report.failures.append(ReadFailure(str(file), exc))
    return report


def read_sources(sources: Sequence[str], *, read_url: Callable[[str], Article], max_bytes: int,
                 **overrides: Any) -> ReadReport:
    """Like ``read_files``, where a source may also be an http(s) link (read by ``read_url``)."""
    report = ReadReport()
    for source in sources:
        if source.startswith(("http://", "https://")):
            try:
                report.articles.append(read_url(source))
            except InputError as exc:
                report.failures.append(ReadFailure(source, exc))
        else:
            report.extend(read_files([Path(source)], max_bytes=max_bytes, **overrides))
    return report


def articles_from_paths(paths: Sequence[Path], *, max_bytes: int, **overrides: Any) -> list[Article]:
    """Every article in files and folders, or the first failure (naming its file) when any cannot be read."""
    report = read_files(paths, max_bytes=max_bytes, **overrides)
    if report.failures:
        first = report.failures[0]
        raise InputError(f"{first.source}: {first.error.message}", hint=first.error.hint)
    return report.articles
