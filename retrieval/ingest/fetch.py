"""Fetch one web page safely: http(s) only, no private addresses, bounded size and time.

A caller that fetches the same address again (a feed) passes the validators of its last copy
(ETag, Last-Modified) and hears back "not modified" (HTTP 304) or the new validators."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath

import httpx

from retrieval.errors import FetchError
from retrieval.ingest.addresses import Resolver, check_url, pin, safe_url, system_resolver
from retrieval.ingest.dates import parse_date
from retrieval.ingest.decode import human_size
from retrieval.ingest.extract import article_from_html, article_from_text, articles_from_file, articles_from_json
from retrieval.models import Article

USER_AGENT = "newsbot/0.1 (+https://github.com/)"
MAX_REDIRECTS = 5
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
JSON_TYPES = frozenset({"application/json"})
# Press releases linked as documents: read like uploaded files of that extension.
DOCUMENT_TYPES = {"application/pdf": ".pdf",
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx"}
PAGE_TYPES = HTML_TYPES | TEXT_TYPES | JSON_TYPES | frozenset(DOCUMENT_TYPES)
PAGE_ACCEPT = "text/html,application/xhtml+xml,text/plain,application/json," + ",".join(DOCUMENT_TYPES)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]{0,19}):")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_KINDS = {"image/": "an image", "video/": "a video", "audio/": "an audio file",
          "font/": "a font", "application/zip": "a ZIP archive", "application/octet-stream": "a binary download"}


class HTTPStatusError(FetchError):
    """The server answered with an error status; ``retry_after``: seconds it asked us to wait
    (Retry-After on a 429 or 503), when it said."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchedPage:
    """One fetched page. ``status`` 304: not modified since the validators given (no body).
    ``etag``/``last_modified``: the validators to send next time, when the server gave any."""

    url: str
    final_url: str
    content_type: str
    text: str
    content: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _kind_of(mime: str) -> str:
    for prefix, kind in _KINDS.items():
        if mime.startswith(prefix):
            return kind
    return f"a {mime} file" if mime else "of unknown type"


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _decode(body: bytes, response: httpx.Response, mime: str) -> str:
    charset = response.charset_encoding
    if charset is None and mime in HTML_TYPES:
        match = _META_CHARSET.search(body[:4096])
        charset = match.group(1).decode("ascii") if match else None
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _read(response: httpx.Response, url: httpx.URL, max_bytes: int, deadline: float, timeout: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{safe_url(url)} is too large: {human_size(int(declared))} is over the "
                         f"{human_size(max_bytes)} limit.")
    chunks, total = [], 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"{safe_url(url)} is too large: it is over the {human_size(max_bytes)} limit.",
                             hint="Paste the article text instead.")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout(f"no complete answer within {timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None when absent or unreadable."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _status_error(url: httpx.URL, response: httpx.Response) -> HTTPStatusError:
    reason = f" {response.reason_phrase}" if response.reason_phrase else ""
    wait = retry_after_seconds(response.headers.get("retry-after")) if response.status_code in (429, 503) else None
    return HTTPStatusError(f"{safe_url(url)} answered HTTP {response.status_code}{reason}.",
                           status=response.status_code, retry_after=wait,
                           hint="Check the link, or paste the article text instead.")


def _bad_redirect(url: httpx.URL, locations: list[str]) -> FetchError:
    """httpx refuses to parse a redirect to ``javascript:``, ``data:``, ``mailto:`` ... before we see it."""
    scheme = _SCHEME.match(locations[-1]) if locations else None
    target = f"a {scheme[1].lower()}: link" if scheme else "an address that is not a web link"
    return FetchError(f"{safe_url(url)} redirected to {target}; only http:// and https:// pages can be fetched.",
                      hint="Link to the article itself.")


def _get(client: httpx.Client, url: httpx.URL, *, allow_private: bool, resolver: Resolver, max_bytes: int,
         deadline: float, timeout: float, accept: frozenset[str], conditional: dict[str, str]) -> FetchedPage:
    """Follow up to MAX_REDIRECTS redirects, checking every hop."""
    locations: list[str] = []

    def remember_location(response: httpx.Response) -> None:
        locations.append(response.headers.get("location", ""))

    client.event_hooks["response"] = [remember_location]
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url)
        target, headers = (url, {}) if allow_private else pin(url, resolver)
        sni = headers.pop("sni", None)
        request = client.build_request("GET", target, headers=headers | conditional,
                                       extensions={"sni_hostname": sni} if sni else None)
        try:
            response = client.send(request, stream=True)
        except httpx.InvalidURL:
            raise _bad_redirect(url, locations) from None
        try:
            if response.status_code in _REDIRECTS and "location" in response.headers:
                url = url.join(response.headers["location"])
                continue
            etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
            if response.status_code == 304 and conditional:
                return FetchedPage(str(url), str(url), "", "", status=304, etag=etag, last_modified=modified)
            if response.status_code >= 400:
                raise _status_error(url, response)
            mime = _media_type(response)
            if mime and mime not in accept:
                raise FetchError(f"That URL is {_kind_of(mime)} ({mime}), not an article.",
                                 hint="Link to a web page, or paste the article text instead.")
            body = _read(response, url, max_bytes, deadline, timeout)
        finally:
            response.close()
        if not mime:  # no Content-Type: judge by the body
            mime = "text/html" if body.lstrip()[:1] == b"<" else "text/plain"
        return FetchedPage(str(url), str(url), mime, _decode(body, response, mime), body, response.status_code,
                           etag, modified)
    raise FetchError(f"{safe_url(url)} redirected more than {MAX_REDIRECTS} times.", hint="Link to the article itself.")


def fetch_url(url: str, *, timeout: float, max_bytes: int, allow_private: bool,
              transport: httpx.BaseTransport | None = None, resolver: Resolver | None = None,
              accept: frozenset[str] = PAGE_TYPES, accept_header: str = PAGE_ACCEPT,
              etag: str | None = None, last_modified: str | None = None) -> FetchedPage:
    """Download one page (sync; run it in a worker thread from async code). ``accept``: the media
    types taken (others are refused, naming what they are); ``etag``/``last_modified``: the
    validators of the copy the caller has, sent as If-None-Match/If-Modified-Since."""
    try:
        start = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError):
        raise FetchError("That is not a valid web address.", hint="Give a link such as https://example.com/news.") \
            from None
    check_url(start)
    headers = {"User-Agent": USER_AGENT, "Accept": accept_header}
    conditional = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
    try:
        with httpx.Client(transport=transport, timeout=timeout, headers=headers, follow_redirects=False,
                          trust_env=False) as client:
            page = _get(client, start, allow_private=allow_private, resolver=resolver or system_resolver,
                        max_bytes=max_bytes, deadline=time.monotonic() + timeout, timeout=timeout, accept=accept,
                        conditional=conditional)
    except httpx.TimeoutException:
        raise FetchError(f"{safe_url(start)} did not answer within {timeout:g} s.", hint="Try again later.") from None
    except httpx.ConnectError as exc:
        reason = "the connection was refused" if "refused" in str(exc).lower() else "could not connect"
        raise FetchError(f"Could not reach {safe_url(start)}: {reason}.", hint="Check the link or try later.") from None
    except httpx.HTTPError as exc:
        message = f"Could not fetch {safe_url(start)} ({type(exc).__name__})."
        raise FetchError(message, hint="Try again later.") from None
    return replace(page, url=str(start))


def article_from_url(url: str, *, timeout: float, max_bytes: int, allow_private: bool,
                     transport: httpx.BaseTransport | None = None, resolver: Resolver | None = None,
                     title: str | None = None, publisher: str | None = None,
                     published: date | str | None = None, max_article_bytes: int | None = None) -> Article:
    """Fetch ``url`` and turn the page into an article; given title/publisher/date win."""
    page = fetch_url(url, timeout=timeout, max_bytes=max_bytes, allow_private=allow_private, transport=transport,
                     resolver=resolver)
    limit = max_article_bytes or max_bytes
    if (ext := DOCUMENT_TYPES.get(page.content_type)) is not None:
        name = PurePosixPath(httpx.URL(page.final_url).path).name or "document"
        name = name if name.lower().endswith(ext) else name + ext  # the reader goes by the extension
        (article,) = articles_from_file(name, page.content, max_bytes=limit, title=title, publisher=publisher,
                                        published=published)
        return replace(article, url=page.final_url)
    if page.content_type in HTML_TYPES:
        return article_from_html(page.text, url=page.final_url, max_bytes=limit, title=title, publisher=publisher,
                                 published=published)
    if page.content_type in JSON_TYPES:
        article = articles_from_json(page.text, max_bytes=limit)[0]
        given = {"title": title, "publisher": publisher, "published": parse_date(published),
                 "url": article.url or page.final_url}
        return replace(article, **{k: v for k, v in given.items() if v})
    return article_from_text(page.text, title=title, url=page.final_url, publisher=publisher, published=published,
                             max_bytes=limit, what="the page")
