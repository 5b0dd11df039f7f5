"""Turn pasted text, HTML, JSON and files into ``Article`` objects, refusing bad input clearly
(bytes are checked and decoded by ``decode``, dates read by ``dates``)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from retrieval.errors import InputError
from retrieval.ingest.dates import DateLike, parse_date
from retrieval.ingest.decode import (
    DOCUMENT_EXTENSIONS,
    SUPPORTED_EXTENSIONS,
    SUPPORTED_HINT,
    decode_text,
    empty,
    too_big,
)
from retrieval.ingest.documents import read_document
from retrieval.models import Article

MAX_TITLE_CHARS = 150
FALLBACK_TITLE_WORDS = 8
MIN_HTML_WORDS = 5
_MD_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")


def _clean_body(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _one_line(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def _fallback_title(body: str) -> str:
    words = body.split()
    title = " ".join(words[:FALLBACK_TITLE_WORDS])
    cut = len(words) > FALLBACK_TITLE_WORDS or len(title) > MAX_TITLE_CHARS
    return title[:MAX_TITLE_CHARS].rstrip() + "…" if cut else title


def article_from_text(
    text: str, *, title: str | None = None, url: str | None = None, publisher: str | None = None,
    published: DateLike = None, max_bytes: int, what: str = "the text",
) -> Article:
    """An article from plain text; without a title, a short first line (or the first words) is used."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise too_big(size, max_bytes, what)
    body = _clean_body(text)
    if not body:
        raise empty(what)
    title = _one_line(title)
    if title is None:
        first, _, rest = body.partition("\n")
        first_line = _one_line(first)
        if first_line and len(first_line) <= MAX_TITLE_CHARS and rest.strip():
            title, body = first_line, rest.strip()
        else:
            title = _fallback_title(body)
    return Article(title, body, _one_line(url), _one_line(publisher), parse_date(published))


def article_from_html(
    html: str, *, url: str | None, max_bytes: int, title: str | None = None, publisher: str | None = None,
    published: DateLike = None,
) -> Article:
    """Main text and metadata (title, date, site name) via trafilatura; given values win."""
    import trafilatura  # imported here: it takes a while and only ingestion needs it

    doc = None
    if html.strip():
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    text = (doc.text or "") if doc is not None else ""
    if len(text.split()) < MIN_HTML_WORDS:
        raise InputError(
            "No article text found on that page.",
            hint="If the page needs a login or JavaScript, paste the article text instead.",
        )
    meta_title = _one_line(doc.title)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if meta_title and lines and _one_line(lines[0]) == meta_title and len(lines) > 1:
        lines = lines[1:]  # trafilatura repeats the headline as the first line
    page_url = url
    if page_url is None and doc.url and str(doc.url).startswith(("http://", "https://")):
        page_url = doc.url  # a saved page's canonical link
    return article_from_text(
        "\n\n".join(lines),
        title=title or meta_title,
        url=page_url,
        publisher=publisher or _one_line(doc.sitename) or _one_line(doc.hostname),
        published=parse_date(published) if published else parse_date(doc.date),
        max_bytes=max_bytes,
        what="the page's article text",
    )


_JSON_KINDS = {bool: "true or false", int: "a number", float: "a number", list: "a list", dict: "an object"}


def _field(item: dict[str, Any], names: tuple[str, ...], index: int) -> str | None:
    """The first of ``names`` that holds text; a number, list or object there is refused."""
    for name in names:
        value = item.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            kind = _JSON_KINDS.get(type(value), type(value).__name__)
            raise InputError(f"JSON item at index {index}: field '{name}' must be text, not {kind}.",
                             hint=f'Write it in quotes, e.g. "{name}": "…".')
        return value
    return None


def _date_field(item: dict[str, Any], index: int) -> date | None:
    for name in ("published", "published_at", "date"):
        if (text := _field(item, (name,), index)) is not None:
            if (when := parse_date(text)) is None:
                raise InputError(f"JSON item at index {index}: field '{name}' is not a date: “{_one_line(text)[:40]}”.",
                                 hint="Write it as YYYY-MM-DD (or an ISO timestamp).")
            return when
    return None


def articles_from_json(data: str | bytes | object, *, max_bytes: int) -> list[Article]:
    """One article object or a list of them (title, url, published, source, body and aliases)."""
    if isinstance(data, bytes):
        data = decode_text(data, what="the JSON", max_bytes=max_bytes)
    if isinstance(data, str):
        size = len(data.encode("utf-8", errors="replace"))
        if size > max_bytes:
            raise too_big(size, max_bytes, "the JSON")
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"That is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                hint="Fix the JSON (an article object or a list of them) and try again.",
            ) from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InputError("The JSON list has no articles in it.")
    articles = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"JSON item at index {index} is not an object with article fields.")
        body = _field(item, ("body", "text", "content"), index)
        if body is None:
            raise InputError(
                f"JSON item at index {index} has no article text.",
                hint="Give each article a 'body' (or 'text' / 'content') field.",
            )
        title, url = _field(item, ("title",), index), _field(item, ("url",), index)
        publisher = _field(item, ("source", "publisher"), index)
        published = _date_field(item, index)
        what = f"JSON item at index {index}"
        articles.append(article_from_text(body, title=title, url=url, publisher=publisher, published=published,
                                          max_bytes=max_bytes, what=what))
    return articles


def _markdown_title(text: str) -> tuple[str | None, str]:
    stripped = text.lstrip("\ufeff").lstrip()
    first, _, rest = stripped.partition("\n")
    match = _MD_HEADING.match(first.strip())
    if match and rest.strip():
        return match[1], rest
    return None, text


def _check_type(name: str) -> str:
    ext = Path(name).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        kind = f"a {ext} file" if ext else "a file without an extension"
        raise InputError(f"{name} is {kind}, which newsbot cannot read.", hint=SUPPORTED_HINT)
    return ext


def articles_from_file(
    name: str, data: bytes, *, max_bytes: int, title: str | None = None, publisher: str | None = None,
    published: DateLike = None,
) -> list[Article]:
    """Articles from an uploaded file, chosen by its extension."""
    ext = _check_type(name)
    what = f"the file {name}"
    overrides: dict[str, Any] = {"title": title, "publisher": publisher, "published": published}
    if ext in DOCUMENT_EXTENSIONS:
        if len(data) > max_bytes:
            raise too_big(len(data), max_bytes, what)
        if not data.strip():
            raise empty(what)
        doc = read_document(name, ext, data)
        overrides["title"] = title if _one_line(title) else doc.title
        return [article_from_text(doc.text, max_bytes=max_bytes, what=f"the text of {name}", **overrides)]
    text = decode_text(data, what=what, max_bytes=max_bytes)
    if ext == ".json":
        articles = articles_from_json(text, max_bytes=max_bytes)
        given = {"title": _one_line(title), "publisher": _one_line(publisher), "published": parse_date(published)}
        changes = {key: value for key, value in given.items() if value is not None}
        return [replace(a, **changes) for a in articles]
    if ext in (".html", ".htm"):
        return [article_from_html(text, url=None, max_bytes=max_bytes, **overrides)]
    if ext == ".md" and not _one_line(title):
        heading, text = _markdown_title(text)
        overrides["title"] = heading or title
    return [article_from_text(text, max_bytes=max_bytes, what=what, **overrides)]


def articles_from_path(
    path: Path, *, max_bytes: int, title: str | None = None, publisher: str | None = None,
    published: DateLike = None,
) -> list[Article]:
    """Articles from a file on disk; its size is checked before it is read."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file.", hint="Add it as a folder to read every article in it.")
    _check_type(path.name)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise too_big(size, max_bytes, f"the file {path.name}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"There is no file at {path}.") from None
    except OSError as exc:
        raise InputError(f"Could not read {path}: {exc.strerror or 'read error'}.") from None
    return articles_from_file(path.name, data, max_bytes=max_bytes, title=title, publisher=publisher,
                              published=published)


def iter_article_files(dir: Path) -> list[Path]:
    """Supported files under ``dir`` (recursively), sorted, skipping hidden files and folders
    and a folder's README (documentation about the articles, not an article)."""
    root = Path(dir)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder.")
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.stem.upper() == "README":
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS:
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())

