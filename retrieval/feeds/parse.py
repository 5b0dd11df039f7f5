"""RSS and Atom documents -> typed entries, with feedparser (never our own XML parsing)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import feedparser
import lxml.html

from retrieval.errors import InputError
from retrieval.ingest.addresses import safe_url
from retrieval.ingest.decode import human_size
from retrieval.models import canonical_url

_log = logging.getLogger(__name__)
# Media types a feed is served as (and the page types some servers use for one anyway).
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
                        "text/xml", "application/x-rss+xml", "text/html", "application/xhtml+xml", "text/plain"})
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
_BLOCKS = ("p", "br", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr")


class FeedError(InputError):
    """What was fetched is not a feed newsbot can read (empty, a web page, malformed)."""


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed. ``key`` identifies it across polls (its canonical link, else its id);
    ``fingerprint`` changes when the publisher changes it (title, text or date)."""

    key: str
    link: str | None
    title: str | None
    text: str  # the entry's content, else its summary, as plain text ("" when it has neither)
    published: date | None
    fingerprint: str


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry]


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (a feed's summary), one paragraph a block."""
    if "<" not in html:
        return html.strip()
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return html.strip()
    for element in root.iter(*_BLOCKS):
        element.tail = "\n\n" + (element.tail or "")
    return "\n\n".join(p for p in (" ".join(part.split()) for part in root.text_content().split("\n\n")) if p)


def _when(entry: Any) -> date | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=timezone.utc).date() if parsed else None


def _text(entry: Any) -> str:
    contents = entry.get("content") or []
    html = next((c.get("value", "") for c in contents if c.get("value")), "") or entry.get("summary", "")
    return html_to_text(html)


def _entry(entry: Any) -> FeedEntry | None:
    link = entry.get("link") or None
    link = link if link and link.startswith(("http://", "https://")) else None
    title = " ".join((entry.get("title") or "").split()) or None
    text = _text(entry)
    key = canonical_url(link) if link else entry.get("id") or None
    if key is None:
        if not (title or text):
            return None
        key = "sha:" + hashlib.sha256(f"{title}\x1f{text}".encode()).hexdigest()[:24]
    stamp = entry.get("updated") or entry.get("published") or ""
    fingerprint = hashlib.sha256(f"{title}\x1f{text}\x1f{stamp}\x1f{link}".encode()).hexdigest()[:24]
    return FeedEntry(key, link, title, text, _when(entry), fingerprint)


def _not_a_feed(content: bytes, url: str, exc: BaseException | None) -> FeedError:
    where = safe_url(url)
    head = content.lstrip()[:512].lower()
    if not head:
        return FeedError(f"{where} is empty: the server sent no feed.", hint="Check the feed's address.")
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return FeedError(f"{where} is a web page, not an RSS or Atom feed.",
                         hint="Give the feed's own address (often linked as RSS on the site).")
    detail = ""
    if exc is not None and hasattr(exc, "getMessage"):
        detail = f" ({exc.getMessage()} at line {exc.getLineNumber()})"
    return FeedError(f"{where} is not a readable RSS or Atom feed{detail}.",
                     hint=f"Check the address; it sent {human_size(len(content))} of something else.")


def parse_feed(content: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
    """The feed's title and entries, in the feed's order. Raises FeedError when ``content`` is not a
    feed; a feed feedparser could only partly read gives the entries it found (and a log line)."""
    # Bytes, never a str: feedparser would take a string that looks like a URL as one to fetch.
    doc = feedparser.parse(bytes(content), response_headers={"content-type": content_type or "application/xml",
                                                              "content-location": url})
    exc = doc.get("bozo_exception")
    entries = [e for e in (_entry(item) for item in doc.entries) if e is not None]
    if not doc.get("version") and not entries:
        raise _not_a_feed(content, url, exc)
    if doc.get("bozo") and not entries and not doc.feed.get("title"):
        raise _not_a_feed(content, url, exc)
    if doc.get("bozo") and not isinstance(exc, feedparser.CharacterEncodingOverride):
        _log.info("Feed %s is not well-formed (%s); taking the %d entries found", safe_url(url), exc, len(entries))
    title = " ".join((doc.feed.get("title") or "").split()) or None
    return ParsedFeed(title, entries)
