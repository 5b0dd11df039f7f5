"""Turn pasted text, HTML, JSON and files into ``Article`` objects, refusing bad input clearly."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from retrieval.errors import InputError
from retrieval.models import Article

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".json")
MAX_TITLE_CHARS = 150
FALLBACK_TITLE_WORDS = 8
MIN_HTML_WORDS = 5
_SUPPORTED_HINT = "Supported file types: " + ", ".join(SUPPORTED_EXTENSIONS) + "."
# Control bytes other than tab, newline, vertical tab, form feed, carriage return and escape.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27)) + b"\x7f"
_BINARY_SHARE = 0.05
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T\s])")
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%Y/%m/%d", "%Y.%m.%d")
_MD_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")
DateLike = date | str | None


def human_size(n: int) -> str:
    """``2_000_000`` -> ``"2.0 MB"`` (decimal units, as file managers show them)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def parse_date(value: str | date | datetime | None) -> date | None:
    """ISO dates and timestamps, ``May 27, 2022``, ``27 May 2022``, RFC 2822; anything else -> None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    if m := _ISO_DATE.match(text):
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    for candidate in (cleaned, cleaned.replace(".", "")):
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(candidate, fmt).date()
            except ValueError:
                continue
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return None


def published_date(value: str | None) -> date | None:
    """A publication date a person typed: None when blank, an InputError when ``parse_date``
    cannot read it."""
    if value is None or not value.strip():
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise InputError(f"“{value}” is not a date.", hint="Write the publication date as YYYY-MM-DD.")
    return parsed


def _cap(what: str) -> str:
    return what[:1].upper() + what[1:]


def _too_big(size: int, max_bytes: int, what: str) -> InputError:
    return InputError(
        f"{_cap(what)} is too large: {human_size(size)} is over the {human_size(max_bytes)} limit.",
        hint="Split it into smaller articles or trim it, then try again.",
    )


def _empty(what: str) -> InputError:
    return InputError(f"{_cap(what)} is empty.", hint="Send the article text itself.")


def decode_text(data: bytes, *, what: str, max_bytes: int) -> str:
    """Strict UTF-8 text from bytes; refuses oversized, empty, binary and non-UTF-8 input."""
    if len(data) > max_bytes:
        raise _too_big(len(data), max_bytes, what)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise _empty(what)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{_cap(what)} is UTF-16 text, not UTF-8.", hint="Save it with UTF-8 encoding and try again.")
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if b"\x00" in data or controls > _BINARY_SHARE * len(data):
        raise InputError(
            f"{_cap(what)} looks like a binary file, not text.",
            hint=f"Send the article as plain text, Markdown, HTML or JSON. {_SUPPORTED_HINT}",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{_cap(what)} is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}).",
            hint="Save it with UTF-8 encoding and try again.",
        ) from None
    if not text.strip():
        raise _empty(what)
    return text


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
        raise _too_big(size, max_bytes, what)
    body = _clean_body(text)
    if not body:
        raise _empty(what)
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


def _field(item: dict[str, Any], names: tuple[str, ...], index: int) -> str | None:
    for name in names:
        value = item.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, (dict, list)):
            raise InputError(f"JSON item at index {index}: field '{name}' must be text, not a {type(value).__name__}.")
        return str(value)
    return None


def articles_from_json(data: str | bytes | object, *, max_bytes: int) -> list[Article]:
    """One article object or a list of them (title, url, published, source, body and aliases)."""
    if isinstance(data, bytes):
        data = decode_text(data, what="the JSON", max_bytes=max_bytes)
    if isinstance(data, str):
        size = len(data.encode("utf-8", errors="replace"))
        if size > max_bytes:
            raise _too_big(size, max_bytes, "the JSON")
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
        published = _field(item, ("published", "published_at", "date"), index)
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
        raise InputError(f"{name} is {kind}, which newsbot cannot read.", hint=_SUPPORTED_HINT)
    return ext


def articles_from_file(
    name: str, data: bytes, *, max_bytes: int, title: str | None = None, publisher: str | None = None,
    published: DateLike = None,
) -> list[Article]:
    """Articles from an uploaded file, chosen by its extension."""
    ext = _check_type(name)
    what = f"the file {name}"
    text = decode_text(data, what=what, max_bytes=max_bytes)
    overrides: dict[str, Any] = {"title": title, "publisher": publisher, "published": published}
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
            raise _too_big(size, max_bytes, f"the file {path.name}")
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
