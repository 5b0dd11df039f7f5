"""Retrieval latency (question -> ranked passages, no LLM) at the corpus size and at ~100k chunks.

    python bench/query.py [--scale 100000] [--limit N] [--data-dir DIR] [--json]

1. The MultiHop-RAG corpus in a library (built once, reused while corpus and settings are unchanged;
   it is the library `newsbot eval multihop` builds, so --data-dir can point at that data dir).
2. Every dev question through NewsService.search with the product's settings: p50/p95, and the
   question embedding alone.
3. The same at ~``--scale`` chunks: the corpus's chunks added again under new ids (same text,
   same vectors: re-ingesting without re-embedding) until the library is that big; then what a
   restarted service pays to load that library's keyword index, and whether the loop stalls.
4. Peak RSS of the process.

The bot's responsiveness while an ingest runs is measured by bench/responsiveness.py.
Targets (2 cores): p95 <= 50 ms at 100k chunks, question embedding <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.measure import CORPUS, QUERIES, LoopLag, peak_rss_mb, percentile_ms  # noqa: E402
from bot.cli.main import use_offline_tiktoken_cache  # noqa: E402
from retrieval.eval.multihop import load_queries, prepare_library  # noqa: E402
from retrieval.models import Source  # noqa: E402
from retrieval.service import NewsService  # noqa: E402
from retrieval.settings import load_settings  # noqa: E402

# BASE is the library `newsbot eval multihop` builds: pointing --data-dir at its data dir reuses it.
BASE, SCALED = "eval-multihop", "bench-scaled"


def latencies(service: NewsService, library: str, questions: list[str]) -> dict:
    service.search(library, questions[0])  # first search loads the keyword arrays: not a query cost
    total, embed = [], []
    for q in questions:
        started = time.perf_counter()
        service.embedder.embed(q)
        embed.append(time.perf_counter() - started)
        started = time.perf_counter()
        service.search(library, q)
        total.append(time.perf_counter() - started)
    return {
        "chunks": service.store.count(library),
        "queries": len(questions),
        "search_p50_ms": percentile_ms(total, 0.5),
        "search_p95_ms": percentile_ms(total, 0.95),
        "embed_p50_ms": percentile_ms(embed, 0.5),
        "embed_p95_ms": percentile_ms(embed, 0.95),
    }


def build_scaled(service: NewsService, target: int) -> dict:
    """Copies of the corpus library's chunks (new ids, same text and vectors) up to ``target``."""
    have = service.store.count(SCALED)
    base = list(service.store.iter_chunks(BASE, with_embeddings=True))
    copies = max(1, round(target / len(base)))
    started = time.perf_counter()
    if have != copies * len(base):
        service.store.drop(SCALED)
        for copy in range(copies):
            chunks = []
            for chunk, _ in base:
                src = chunk.source
                source = Source(f"{src.article_id}x{copy}", src.title, src.publisher, src.url, src.published)
                chunks.append(replace(chunk, id=f"{chunk.id}-x{copy}", source=source))
            for start in range(0, len(chunks), 5000):
                vectors = np.stack([v for _, v in base[start : start + 5000]])
                service.store.add(SCALED, chunks[start : start + 5000], vectors)
    added = time.perf_counter() - started
    started = time.perf_counter()
    service.keyword_index(SCALED).sync()
    service.search(SCALED, "warm up")
    return {"copies": copies, "add_s": round(added, 1), "keyword_index_s": round(time.perf_counter() - started, 1)}


async def cold_load(settings, library: str) -> dict:
    """A fresh service's first look at ``library`` (loading its keyword arrays) in a worker thread,
    while the event loop ticks every 5 ms: what the first question after a bot restart costs."""
    service = NewsService.from_settings(settings)
    async with LoopLag(0.005) as lag:
        started = time.perf_counter()
        await asyncio.to_thread(service.keyword_index(library).facets)
        seconds = time.perf_counter() - started
    service.close()
    return {"load_s": round(seconds, 2), "loop_lag_max_ms": lag.max_ms}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-bench")
    parser.add_argument("--scale", type=int, default=100_000, help="chunks in the scaled library (0: skip)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N query records")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    settings = load_settings(data_dir=args.data_dir, seed_dir=None, llm_disabled=True)
    use_offline_tiktoken_cache(settings.tiktoken_cache_dir, settings.offline_dir)
    service = NewsService.from_settings(settings)
    questions = [q.query for q in load_queries(args.queries, limit=args.limit)]
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
    log(f"building/reusing the corpus library in {args.data_dir} ...")
    info = asyncio.run(prepare_library(service, BASE, args.corpus))
    out: dict = {"settings": {"top_k": settings.top_k, "chunk_tokens": settings.chunk_tokens}, "corpus_library": info}
    out["corpus"] = latencies(service, BASE, questions)
    log(f"corpus ({out['corpus']['chunks']} chunks): search p50 {out['corpus']['search_p50_ms']} ms, "
        f"p95 {out['corpus']['search_p95_ms']} ms; question embedding p50 {out['corpus']['embed_p50_ms']} ms, "
        f"p95 {out['corpus']['embed_p95_ms']} ms")
    if args.scale:
        log(f"building/reusing the ~{args.scale:,}-chunk library ...")
        out["scaled_build"] = build_scaled(service, args.scale)
        out["scaled"] = latencies(service, SCALED, questions)
        s = out["scaled"]
        log(f"scaled ({s['chunks']:,} chunks): search p50 {s['search_p50_ms']} ms, p95 {s['search_p95_ms']} ms; "
            f"question embedding p50 {s['embed_p50_ms']} ms, p95 {s['embed_p95_ms']} ms")
        out["scaled_cold_load"] = c = asyncio.run(cold_load(settings, SCALED))
        log(f"a restarted service loading the scaled library's keyword index: {c['load_s']} s in a worker thread, "
            f"event-loop lag max {c['loop_lag_max_ms']} ms")
    out["peak_rss_mb"] = peak_rss_mb()
    log(f"peak RSS {out['peak_rss_mb']:.0f} MB")
    service.close()
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
