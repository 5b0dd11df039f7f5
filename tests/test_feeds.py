"""Following feeds: the real FeedService and NewsService (Chroma in a temp dir, MiniLM) against a
loopback news site (tests/fakes/feed_server.py), the bot against the loopback Discord, and the
``newsbot feed`` commands as processes."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path

import pytest

from retrieval.feeds.parse import FeedError
from retrieval.feeds.poller import SUMMARY_NOTE
from retrieval.feeds.service import FeedService
from retrieval.feeds.store import FeedStore
from tests.bot_fixtures import (
    ALICE,
    BOB,
    CAROL,
    CHAN_A,
    CHAN_B,
    GUILD_A,
    GUILD_B,
    LIB_A,
    OWNER,
    assert_never_pings,
    bot_settings,
    content_of,
    ephemeral_text,
    running_bot,
    wait_response,
)
from tests.conftest import OFFLINE_DIR, make_service, make_settings
from tests.fakes.feed_server import FeedServer, story

LIB = "news"


@pytest.fixture
async def site():
    async with FeedServer() as server:
        yield server


def feed_settings(tmp_path: Path, **overrides: object):
    values: dict[str, object] = {"allow_private_urls": True, "fetch_timeout": 2.0, "fetch_max_bytes": 300_000}
    return make_settings(tmp_path, **(values | overrides))


def wire_entries(site: FeedServer, n: int = 3, prefix: str = "a") -> list:
    companies = ["Acme Robotics", "Borealis Energy", "Cobalt Foods", "Delta Freight", "Ember Health"]
    return [site.entry(f"{prefix}{i}", f"{companies[i]} news {prefix}{i}",
                       story(companies[i], f"it will open a new site numbered {prefix}{i}"), day=i + 1)
            for i in range(n)]


class Services:
    """A NewsService and the FeedService beside it, on one data folder."""

    def __init__(self, settings, embedder, encoding) -> None:
        self.news = make_service(settings, embedder, encoding)
        self.feeds = FeedService(settings, self.news)

    def close(self) -> None:
        self.feeds.close()
        self.news.close()


@pytest.fixture
def services(tmp_path, embedder, encoding):
    s = Services(feed_settings(tmp_path), embedder, encoding)
    yield s
    s.close()


async def test_first_poll_adds_entries_then_conditional_requests_and_restart(site, tmp_path, embedder, encoding):
    settings = feed_settings(tmp_path)
    url = site.add_feed("wire", "Test Wire", wire_entries(site))
    first = Services(settings, embedder, encoding)
    try:
        feed = await first.feeds.follow(LIB, url)
        assert feed.title == "Test Wire" and feed.next_poll <= time.time()
        (report,) = await first.feeds.poll_due()
        rows, total = await first.news.list_articles(LIB, limit=None)
        (again,) = await first.feeds.poll_due(everything=True)
    finally:
        first.close()
    assert report.error is None and len(report.added) == 3 and total == 3
    by_title = {r.source.title: r.source for r in rows}
    acme = by_title["Acme Robotics news a0"]
    assert acme.publisher == "Test Wire" and acme.published.isoformat() == "2026-11-03"
    assert acme.url == site.page_url("wire", "a0")
    assert again.not_modified and not again.added
    conditional = site.requests_for("wire")[-1]
    assert conditional.headers.get("If-None-Match") == '"wire-1"' and conditional.status == 304
    assert conditional.headers.get("If-Modified-Since")
    assert "newsbot" in conditional.headers.get("User-Agent", "")

    restarted = Services(settings, embedder, encoding)  # a new process on the same data folder
    try:
        (state,) = await restarted.feeds.feeds(LIB)
        assert state.next_poll > time.time() and not await restarted.feeds.poll_due()  # the schedule persisted
        (after_restart,) = await restarted.feeds.poll_due(everything=True)
        site.publish("wire", wire_entries(site, 4)[3])
        (with_new,) = await restarted.feeds.poll_due(everything=True)
        _, total_after = await restarted.news.list_articles(LIB)
    finally:
        restarted.close()
    assert after_restart.not_modified and site.requests_for("wire")[-2].headers.get("If-None-Match") == '"wire-1"'
    assert [s.title for s in with_new.added] == ["Delta Freight news a3"] and total_after == 4


async def test_updated_entry_replaces_its_article_and_a_seen_one_adds_nothing(site, services):
    url = site.add_feed("wire", "Test Wire", wire_entries(site), kind="atom")
    await services.feeds.follow(LIB, url)
    (first,) = await services.feeds.poll_due()
    rows, _ = await services.news.list_articles(LIB, limit=None)
    ids = {r.source.title: r.source.article_id for r in rows}
    site.revise("wire", "a1", body=story("Borealis Energy", "it has cancelled the plan after a review"))
    site.publish("wire", site.entry("b1", "Ember Health news b1", story("Ember Health", "it hired 40 nurses"), day=9))
    (second,) = await services.feeds.poll_due(everything=True)
    rows_after, total = await services.news.list_articles(LIB, limit=None)
    passages = services.news.search(LIB, "Borealis Energy cancelled the plan after a review")
    site.feeds["wire"].version += 1  # same entries, a new ETag: the entries are seen already
    (third,) = await services.feeds.poll_due(everything=True)
    pages = [r.path for r in site.requests if r.path.startswith("/pages/")]
    assert len(first.added) == 3
    assert [s.title for s in second.added] == ["Ember Health news b1"] and second.updated == 1 and total == 4
    assert {r.source.title: r.source.article_id for r in rows_after}["Borealis Energy news a1"] == ids["Borealis Energy news a1"]
    assert any("cancelled the plan" in p.text for p in passages)
    assert not third.added and third.updated == 0 and not third.not_modified
    assert len(pages) == 5  # 3 first, the revised one and the new one; nothing for the seen entries


async def test_entry_whose_page_cannot_be_read_uses_the_feeds_summary(site, services):
    entries = wire_entries(site, 2)
    entries[1].page = False
    entries[1].summary = "Borealis Energy will build a solar farm near Tromsø, its chief executive told reporters."
    await services.feeds.follow(LIB, site.add_feed("wire", "Test Wire", entries))
    (report,) = await services.feeds.poll_due()
    passages = services.news.search(LIB, "Borealis solar farm near Tromsø")
    assert len(report.added) == 2
    summary = next(p for p in passages if p.source.title == "Borealis Energy news a1")
    assert "solar farm near Tromsø" in summary.text and SUMMARY_NOTE in summary.text
    assert summary.source.url == site.page_url("wire", "a1")


async def test_at_most_max_entries_a_poll_the_rest_the_next(site, tmp_path, embedder, encoding):
    s = Services(feed_settings(tmp_path, feed_max_entries=2), embedder, encoding)
    try:
        await s.feeds.follow(LIB, site.add_feed("wire", "Test Wire", wire_entries(site, 5)))
        (first,) = await s.feeds.poll_due()
        (second,) = await s.feeds.poll_due(everything=True)
        (third,) = await s.feeds.poll_due(everything=True)
    finally:
        s.close()
    assert (len(first.added), first.waiting) == (2, 3) and (len(second.added), second.waiting) == (2, 1)
    assert len(third.added) == 1 and third.waiting == 0
    assert not site.requests_for("wire")[1].headers.get("If-None-Match")  # leftovers: the whole feed again


@pytest.mark.parametrize("how,words", [
    ("malformed", "not a readable RSS or Atom feed"),
    ("html", "is a web page, not an RSS or Atom feed"),
    ("huge", "is too large"),
    ("slow", "did not answer within 2 s"),
    ("429", "HTTP 429"),
    ("empty", "is empty"),
])
async def test_broken_feed_is_reported_and_the_others_keep_polling(site, services, how, words):
    good = await services.feeds.follow(LIB, site.add_feed("good", "Good Wire", wire_entries(site, 1, "g")))
    bad = await services.feeds.follow(LIB, site.add_feed("bad", "Bad Wire", wire_entries(site, 2, "b")))
    await services.feeds.poll_due()
    site.break_feed("bad", how)
    site.publish("good", wire_entries(site, 2, "g")[1])
    started = time.time()
    reports = {r.feed.id: r for r in await services.feeds.poll_due(everything=True)}
    feeds = {f.id: f for f in await services.feeds.feeds(LIB)}
    _, total = await services.news.list_articles(LIB)
    assert len(reports[good.id].added) == 1 and reports[good.id].error is None
    assert words in reports[bad.id].error and "\n" not in reports[bad.id].error
    state = feeds[bad.id]
    assert state.last_error == reports[bad.id].error and state.failures == 1 and state.last_success is not None
    assert state.next_poll > started + 2 * 60 * 15 * 0.85  # backed off: twice the interval, give or take
    if how == "429":
        assert "asked to wait 120 s" in state.last_error
    assert total == 4  # the bad feed's articles stay
    site.break_feed("bad", None)
    site.publish("bad", wire_entries(site, 3, "b")[2])
    (recovered,) = [r for r in await services.feeds.poll_due(everything=True) if r.feed.id == bad.id]
    assert len(recovered.added) == 1 and recovered.feed.last_error is None and recovered.feed.failures == 0


async def test_retry_after_longer_than_the_backoff_is_honoured(site, services):
    site.retry_after = 6 * 3600
    bad = await services.feeds.follow(LIB, site.add_feed("bad", "Bad Wire", wire_entries(site, 1)))
    site.break_feed("bad", "429")
    started = time.time()
    (report,) = await services.feeds.poll_due()
    assert report.feed.id == bad.id and report.feed.next_poll >= started + 6 * 3600


@pytest.mark.parametrize("how", ["html", "malformed", "empty"])
async def test_following_something_that_is_not_a_feed_is_refused(site, services, how):
    url = site.add_feed("bad", "Bad Wire", [])
    site.break_feed("bad", how)
    with pytest.raises(FeedError) as err:
        await services.feeds.follow(LIB, url)
    assert "feed" in str(err.value) and not await services.feeds.feeds(LIB)


async def test_two_libraries_following_one_feed_stay_apart(site, services):
    url = site.add_feed("wire", "Test Wire", wire_entries(site, 2))
    a = await services.feeds.follow("guild-1", url)
    b = await services.feeds.follow("guild-2", url)
    with pytest.raises(Exception, match="already follows that feed"):
        await services.feeds.follow("guild-1", url)
    reports = await services.feeds.poll_due()
    assert {len(r.added) for r in reports} == {2}
    assert await services.feeds.unfollow("guild-2", a.id) is None  # not guild-2's feed
    assert [f.id for f in await services.feeds.feeds("guild-1")] == [a.id]
    assert (await services.feeds.unfollow("guild-2", b.id)).id == b.id
    assert [f.id for f in await services.feeds.feeds("guild-2")] == [] and len(await services.feeds.feeds()) == 1
    for library in ("guild-1", "guild-2"):
        assert (await services.news.list_articles(library))[1] == 2  # articles stay after unfollowing


def test_feed_store_persists_state(tmp_path):
    store = FeedStore(tmp_path / "feeds.sqlite3")
    feed = store.add("news", "https://example.com/feed", title=None, channel_id=5, now=100.0)
    store.record_success(feed.id, now=110.0, next_poll=200.0, etag='"x"', last_modified="Mon", title="Example")
    store.mark_seen(feed.id, [("k1", "f1", "u1")], now=110.0)
    store.close()
    reopened = FeedStore(tmp_path / "feeds.sqlite3")
    state = reopened.get(feed.id)
    kept = (state.etag, state.last_modified, state.title, state.channel_id, state.next_poll)
    assert kept == ('"x"', "Mon", "Example", 5, 200.0)
    assert reopened.seen(feed.id, ["k1", "k2"])["k1"].article_id == "u1" and reopened.due(150.0) == []
    reopened.close()


# -- the bot -------------------------------------------------------------------------------------
def feed_posts(fake, channel_id: int) -> list[str]:
    """What the bot posted in a channel by itself (not in answer to a command)."""
    return [m.content for m in fake.channel_messages(channel_id)
            if m.author.id == fake.bot_user.id and m.content.startswith(("📰", "…and"))]


async def test_bot_follows_a_feed_and_posts_its_new_articles(fake, llm, site, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url, feed_interval=0.02, feed_posts=2, fetch_timeout=2.0)
    entries = wire_entries(site, 3)
    entries[0].title = "Acme @everyone news <@3002>"
    url = site.add_feed("wire", "Test Wire", entries)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        refused = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "feed add", {"url": url})
        added = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "feed add", {"url": url, "channel": CHAN_A})
        await fake.wait_for(lambda: "Following" in content_of(fake, added), timeout=20)
        first = await fake.wait_for(lambda: len(feed_posts(fake, CHAN_A)) >= 3 and feed_posts(fake, CHAN_A), timeout=40)
        site.publish("wire", site.entry("n1", "Ember Health news n1", story("Ember Health", "it hired 40 nurses"), day=9))
        later = await fake.wait_for(lambda: len(feed_posts(fake, CHAN_A)) >= 4 and feed_posts(fake, CHAN_A), timeout=40)
        (feed,) = await bot.feeds.feeds(LIB_A)
        listing = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "feed list")
        elsewhere = await fake.send_slash_command(GUILD_B, CHAN_B, BOB, "feed list")
        wrong_server = await fake.send_slash_command(GUILD_B, CHAN_B, OWNER, "feed remove", {"id": feed.id})
        removal = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "feed remove", {"id": feed.id})
        for rec in (listing, elsewhere, wrong_server, removal):
            await wait_response(fake, rec, "edit_original")
        _, total = await bot.service.list_articles(LIB_A)
        remaining = await bot.feeds.feeds()
    assert "Manage Server" in ephemeral_text(refused)
    assert f"<#{CHAN_A}>" in content_of(fake, added) and "Test Wire" in content_of(fake, added)
    assert len(first) == 3 and first[2] == "…and 1 more new article from **Test Wire** (see `/articles`)."
    assert "@\u200beveryone" in first[0] and "<@\u200b3002>" in first[0] and "— Test Wire, 2026-11-03" in first[0]
    assert f"<{site.page_url('wire', 'a0')}>" in first[0]
    assert later[3].startswith("📰 **Ember Health news n1** — Test Wire, 2026-11-11")
    shown = content_of(fake, listing)
    assert f"`{feed.id}` **Test Wire** → <#{CHAN_A}>" in shown and "✅ checked <t:" in shown and "next check <t:" in shown
    assert "follows no feeds" in content_of(fake, elsewhere) and "follows no feed" in content_of(fake, wrong_server)
    assert "Stopped following **Test Wire**" in content_of(fake, removal) and remaining == []
    assert total == 4
    assert_never_pings(fake)


async def test_feed_list_on_discord_shows_a_failing_feed_in_one_line(fake, llm, site, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url, fetch_timeout=2.0, feed_interval=0.02)
    url = site.add_feed("bad", "Bad Wire", wire_entries(site, 1))
    async with running_bot(fake, settings, embedder, encoding) as bot:
        added = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "feed add", {"url": url})
        await fake.wait_for(lambda: "Following" in content_of(fake, added), timeout=20)
        site.break_feed("bad", "html")

        async def failed() -> bool:
            return any(f.last_error for f in await bot.feeds.feeds(LIB_A))

        await fake.wait_for(failed, timeout=30)
        listing = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "feed list")
        await wait_response(fake, listing, "edit_original")
    line = content_of(fake, listing).split("\n", 2)[2]
    assert re.match(r"  ⚠️ failed \d+× in a row: \S", line) and "is a web page, not an RSS or Atom feed" in line
    assert "\n" not in line.split(" · next check")[0]  # the error is one line


# -- the command line ----------------------------------------------------------------------------
NEWSBOT = Path(sys.executable).with_name("newsbot")


async def newsbot(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "CHROMA_", "OPENAI_", "DISCORD_"))}
    env |= {"HOME": str(tmp_path / "home"), "NEWSBOT_DATA_DIR": str(tmp_path / "data"), "NEWSBOT_SEED_DIR": "",
            "NEWSBOT_OFFLINE_DIR": str(OFFLINE_DIR),
            "NEWSBOT_ALLOW_PRIVATE_URLS": "true", "NEWSBOT_FETCH_TIMEOUT": "2", "COLUMNS": "300"}
    proc = await asyncio.create_subprocess_exec(str(NEWSBOT), *args, env=env, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_newsbot_feed_commands(site, tmp_path):
    url = site.add_feed("wire", "Test Wire", wire_entries(site, 2))
    site.add_feed("page", "Not a feed", [])
    site.break_feed("page", "html")
    code, out, err = await newsbot(tmp_path, "feed", "add", url, "--library", "wire")
    assert code == 0 and "Following Test Wire (feed 1) in library 'wire'" in out, err
    refused = await newsbot(tmp_path, "feed", "add", site.feed_url("page"))
    polled = await newsbot(tmp_path, "feed", "poll")
    again = await newsbot(tmp_path, "feed", "poll", "--all")
    nothing_due = await newsbot(tmp_path, "feed", "poll")
    listed = await newsbot(tmp_path, "feed", "list")
    articles = await newsbot(tmp_path, "list", "--library", "wire")
    wrong = await newsbot(tmp_path, "feed", "remove", "7")
    removed = await newsbot(tmp_path, "feed", "remove", "1", "--library", "wire")
    empty = await newsbot(tmp_path, "feed", "list", "--library", "wire")
    assert refused[0] == 1 and refused[2].strip().endswith("(often linked as RSS on the site).")
    assert refused[2].startswith("newsbot: ") and refused[2].count("\n") == 1 and "Traceback" not in refused[2]
    assert polled[0] == 0 and "feed 1 (Test Wire, library wire): 2 new, 0 updated" in polled[1], polled[2]
    assert "Acme Robotics news a0" in polled[1] and "Borealis Energy news a1" in polled[1]
    assert again[0] == 0 and "not modified since the last poll" in again[1]
    assert "No feed was due" in nothing_due[1]
    assert "Test Wire" in listed[1] and "wire" in listed[1] and "never" not in listed[1]
    assert "Acme Robotics news a0" in articles[1] and "Test Wire" in articles[1]
    assert wrong[0] == 1 and "No feed 7" in wrong[2]
    assert removed[0] == 0 and "Stopped following Test Wire (feed 1)" in removed[1]
    assert "Library 'wire' follows no feeds" in empty[1]
