"""What following feeds costs: the time of one poll round, and the memory subscriptions hold.

1. A poll of 20 feeds x 20 entries against the loopback news site of the tests
   (tests/fakes/feed_server.py): every entry's page fetched and extracted, the 400 articles
   chunked, embedded (MiniLM, as configured) and stored in Chroma in a temp dir. Then the same round
   again, which the feeds answer with 304.
2. The resident memory (VmRSS) of this process, which holds what the bot holds (NewsService and
   FeedService): before following any feed, after following 100 (each checked once, as /feed add
   does), after polling them all (2 entries each, pages 404: the feeds' summaries are used), and
   after a second round (all 304).

    python bench/feeds.py [--feeds 20] [--entries 20] [--subscriptions 100] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.cli.main import use_offline_tiktoken_cache  # noqa: E402
from retrieval.embed.minilm import MiniLMEmbedder, resolve_model_dir  # noqa: E402
from retrieval.feeds.service import FeedService  # noqa: E402
from retrieval.text.tokens import get_encoding  # noqa: E402
from tests.conftest import OFFLINE_DIR, make_service, make_settings  # noqa: E402
from tests.fakes.feed_server import FeedServer, story  # noqa: E402


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def entries(site: FeedServer, feed: int, n: int, *, pages: bool = True) -> list:
    return [site.entry(f"e{i}", f"Company {feed}-{i} update",
                       story(f"Company {feed}-{i}", f"it will open site {feed}-{i} next year"), day=i, page=pages)
            for i in range(n)]


async def poll_round(site: FeedServer, tmp: Path, embedder, encoding, feeds: int, per_feed: int) -> dict:
    settings = make_settings(tmp / "round", allow_private_urls=True)
    news = make_service(settings, embedder, encoding)
    service = FeedService(settings, news)
    try:
        for f in range(feeds):
            await service.follow("bench", site.add_feed(f"round{f}", f"Wire {f}", entries(site, f, per_feed)))
        start = time.perf_counter()
        first = await service.poll_due()
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        second = await service.poll_due(everything=True)
        second_s = time.perf_counter() - start
        _, articles = await news.list_articles("bench")
    finally:
        service.close()
        news.close()
    assert all(not r.error for r in first + second), [r.error for r in first + second if r.error]
    return {"feeds": feeds, "entries_per_feed": per_feed, "articles_added": sum(len(r.added) for r in first),
            "articles_stored": articles, "first_poll_s": round(first_s, 2),
            "per_article_ms": round(1000 * first_s / max(articles, 1), 1),
            "second_poll_304_s": round(second_s, 3), "not_modified": sum(r.not_modified for r in second)}


async def memory(site: FeedServer, tmp: Path, embedder, encoding, subscriptions: int) -> dict:
    settings = make_settings(tmp / "memory", allow_private_urls=True)
    news = make_service(settings, embedder, encoding)
    service = FeedService(settings, news)
    out = {"subscriptions": subscriptions, "rss_mb_services_only": round(rss_mb(), 1)}
    try:
        for f in range(subscriptions):
            url = site.add_feed(f"sub{f}", f"Sub {f}", entries(site, 1000 + f, 2, pages=False))
            await service.follow(f"guild-{f % 10}", url)
        out["rss_mb_after_following"] = round(rss_mb(), 1)
        start = time.perf_counter()
        await service.poll_due()
        out["poll_all_s"] = round(time.perf_counter() - start, 2)
        out["rss_mb_after_polling"] = round(rss_mb(), 1)
        await service.poll_due(everything=True)
        out["rss_mb_after_second_round_304"] = round(rss_mb(), 1)
    finally:
        service.close()
        news.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    use_offline_tiktoken_cache(None, OFFLINE_DIR)
    embedder = MiniLMEmbedder(resolve_model_dir(None, OFFLINE_DIR))
    embedder.warm()
    encoding = get_encoding()
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-feeds-") as tmp:
        async with FeedServer() as site:
            # memory first: its "before" is a process that has polled nothing yet
            results = {"memory": await memory(site, Path(tmp), embedder, encoding, args.subscriptions),
                       "poll": await poll_round(site, Path(tmp), embedder, encoding, args.feeds, args.entries)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for part, values in results.items():
        print(part)
        for key, value in values.items():
            print(f"  {key:32} {value}")


if __name__ == "__main__":
    asyncio.run(main())
