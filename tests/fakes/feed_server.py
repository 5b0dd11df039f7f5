"""A loopback news site for the feed tests: RSS 2.0 and Atom feeds whose entries change between
polls, the article pages they link to, and feeds that break on demand.

Feeds answer conditional requests (If-None-Match / If-Modified-Since) with 304 when nothing
changed, and record every request's headers so tests can check what the poller sent::

    async with FeedServer() as site:
        url = site.add_feed("wire", "Test Wire", [site.entry("a", "Title", "Body words ...")])
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web

BASE_TIME = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
# How a feed misbehaves: a body that is not XML, a web page, more bytes than allowed, no answer in
# time, rate limited with Retry-After, or nothing at all.
BROKEN = ("malformed", "html", "huge", "slow", "429", "empty")


@dataclass
class Entry:
    slug: str
    title: str
    body: str  # the article page's paragraphs (blank-line separated)
    summary: str
    published: datetime
    updated: datetime
    page: bool = True  # False: the page answers 404 (the feed's summary has to do)


@dataclass
class FakeFeed:
    name: str
    title: str
    kind: str  # "rss" or "atom"
    entries: list[Entry]
    version: int = 1  # bumped by every change: a new ETag and Last-Modified
    broken: str | None = None

    @property
    def modified(self) -> datetime:
        return BASE_TIME + timedelta(minutes=self.version)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class FeedServer:
    requests: list[Seen] = field(default_factory=list)
    feeds: dict[str, FakeFeed] = field(default_factory=dict)
    slow_seconds: float = 5.0
    huge_bytes: int = 3_000_000
    retry_after: int = 120
    _runner: web.AppRunner | None = None
    base_url: str = ""

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_get("/feeds/{name}", self._feed)
        app.router.add_get("/pages/{name}/{slug}.html", self._page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests set up ---------------------------------------------------------------------
    def entry(self, slug: str, title: str, body: str, *, day: int = 1, summary: str | None = None,
              page: bool = True) -> Entry:
        when = BASE_TIME + timedelta(days=day)
        return Entry(slug, title, body, summary or body.split("\n\n")[0], when, when, page)

    def add_feed(self, name: str, title: str, entries: list[Entry], *, kind: str = "rss") -> str:
        self.feeds[name] = FakeFeed(name, title, kind, list(entries))
        return self.feed_url(name)

    def feed_url(self, name: str) -> str:
        return f"{self.base_url}/feeds/{name}"

    def page_url(self, name: str, slug: str) -> str:
        return f"{self.base_url}/pages/{name}/{slug}.html"

    def publish(self, name: str, entry: Entry) -> None:
        """A new entry at the top of the feed."""
        feed = self.feeds[name]
        feed.entries.insert(0, entry)
        feed.version += 1

    def revise(self, name: str, slug: str, *, body: str, title: str | None = None) -> None:
        """The publisher edits an entry: new text, new updated date."""
        feed = self.feeds[name]
        entry = next(e for e in feed.entries if e.slug == slug)
        entry.body, entry.summary = body, body.split("\n\n")[0]
        entry.title = title or entry.title
        entry.updated = entry.updated + timedelta(hours=5)
        feed.version += 1

    def break_feed(self, name: str, how: str | None) -> None:
        assert how is None or how in BROKEN, how
        self.feeds[name].broken = how

    def requests_for(self, name: str) -> list[Seen]:
        return [r for r in self.requests if r.path == f"/feeds/{name}"]

    # -- serving -------------------------------------------------------------------------------
    async def _feed(self, request: web.Request) -> web.StreamResponse:
        feed = self.feeds.get(request.match_info["name"])
        if feed is None:
            return self._log(request, web.Response(status=404, text="no such feed"))
        if feed.broken:
            return self._log(request, await self._broken(request, feed.broken))
        etag = f'"{feed.name}-{feed.version}"'
        modified = format_datetime(feed.modified, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": modified}
        if request.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in request.headers and request.headers.get("If-Modified-Since") == modified
        ):
            return self._log(request, web.Response(status=304, headers=validators))
        rss = feed.kind == "rss"
        body, ctype = (self._rss(feed), "application/rss+xml") if rss else (self._atom(feed), "application/atom+xml")
        return self._log(request, web.Response(body=body.encode(), content_type=ctype, charset="utf-8", headers=validators))

    async def _broken(self, request: web.Request, how: str) -> web.StreamResponse:
        if how == "malformed":
            return web.Response(text="this is { not <xml at all &&& ]]>", content_type="application/rss+xml")
        if how == "html":
            return web.Response(text="<!DOCTYPE html><html><body><h1>Our news</h1></body></html>", content_type="text/html")
        if how == "empty":
            return web.Response(body=b"", content_type="application/rss+xml")
        if how == "429":
            return web.Response(status=429, text="slow down", headers={"Retry-After": str(self.retry_after)})
        if how == "slow":
            await asyncio.sleep(self.slow_seconds)
            return web.Response(text="<rss/>", content_type="application/rss+xml")
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})  # huge, size not declared
        await response.prepare(request)
        chunk = b"<!-- " + b"x" * 65_000 + b" -->\n"
        for _ in range(self.huge_bytes // len(chunk) + 1):
            try:
                await response.write(chunk)
            except (ConnectionResetError, RuntimeError):
                break
        return response

    async def _page(self, request: web.Request) -> web.Response:
        feed = self.feeds.get(request.match_info["name"])
        entry = next((e for e in feed.entries if e.slug == request.match_info["slug"]), None) if feed else None
        if entry is None or not entry.page:
            return self._log(request, web.Response(status=404, text="gone"))
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in entry.body.split("\n\n"))
        html = (f"<html><head><title>{escape(entry.title)}</title></head><body><article><h1>{escape(entry.title)}</h1>"
                f"{paragraphs}</article></body></html>")
        return self._log(request, web.Response(text=html, content_type="text/html"))

    def _log(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        self.requests.append(Seen(request.path, dict(request.headers), response.status))
        return response

    def _rss(self, feed: FakeFeed) -> str:
        items = "".join(
            f"<item><title>{escape(e.title)}</title><link>{self.page_url(feed.name, e.slug)}</link>"
            f"<guid isPermaLink=\"false\">{feed.name}-{e.slug}</guid>"
            f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate>"
            f"<description>{escape(e.summary)}</description>"
            f"<atom:updated>{e.updated.isoformat()}</atom:updated></item>"
            for e in feed.entries
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
                f"<channel><title>{escape(feed.title)}</title><link>{self.base_url}/</link>"
                f"<description>News</description>{items}</channel></rss>")

    def _atom(self, feed: FakeFeed) -> str:
        entries = "".join(
            f"<entry><title>{escape(e.title)}</title><link href=\"{self.page_url(feed.name, e.slug)}\"/>"
            f"<id>urn:fake:{feed.name}:{e.slug}</id><published>{e.published.isoformat()}</published>"
            f"<updated>{e.updated.isoformat()}</updated><summary>{escape(e.summary)}</summary></entry>"
            for e in feed.entries
        )
        updated = feed.modified.isoformat()
        return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{escape(feed.title)}</title><id>urn:fake:{feed.name}</id><updated>{updated}</updated>"
                f"{entries}</feed>")



def story(company: str, detail: str) -> str:
    """Three paragraphs of article text about ``company`` (enough for the page extractor)."""
    return (f"{company} announced on Monday that {detail}, according to a statement from the company.\n\n"
            f"Analysts said the move by {company} reflects growing demand across its markets, and several "
            f"investors welcomed the news in early trading.\n\n"
            f"A spokesperson for {company} said further details would follow later in the quarter.")
