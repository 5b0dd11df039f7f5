"""Ingestion speed on the MultiHop-RAG corpus, three ways over the same chunks, in one process:

  model    the bare embedding model on every chunk (newsbot's MiniLM, length-sorted batches):
           the floor for this hardware
  newsbot  NewsService.ingest into a fresh library: chunking, dedupe look-ups, embedding, Chroma
           writes (then, reported apart, building the keyword index on the first search)
  chroma   the straightforward way: collection.add(documents=...) with Chroma's default
           embedding function (the same model, every text padded to 256 word-pieces)

    python bench/ingest.py [--corpus ../shared/bench/multihop/corpus.json] [--limit N] [--json]

Targets: newsbot <= 1.15 x model, chroma >= 1.5 x newsbot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import CORPUS, peak_rss_mb  # noqa: E402
from bot.cli.main import use_offline_tiktoken_cache  # noqa: E402
from retrieval.components import build_embedder  # noqa: E402
from retrieval.eval.multihop import load_corpus  # noqa: E402
from retrieval.service import NewsService  # noqa: E402
from retrieval.settings import load_settings  # noqa: E402


def chroma_default_add(folder: Path, chunks, model_dir: Path, batch: int = 5000) -> float:
    """Seconds for collection.add(documents=...) with Chroma's default embedding model.

    One ONNXMiniLM_L6_V2 instance is reused (Chroma's DefaultEmbeddingFunction makes a new one,
    reloading the model, on every call), and batches are as large as Chroma takes, so the
    comparison is of the embedding work itself.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

    client = chromadb.PersistentClient(path=str(folder), settings=ChromaSettings(anonymized_telemetry=False))
    function = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
    if model_dir.name == function.EXTRACTED_FOLDER_NAME:  # the model files newsbot uses: no download
        function.DOWNLOAD_PATH = model_dir.parent
    col = client.create_collection("bench", embedding_function=function, metadata={"hnsw:space": "cosine"})
    col.add(ids=["warm-up"], documents=["warm-up"])  # load the model outside the timing, as for newsbot
    col.delete(ids=["warm-up"])
    started = time.perf_counter()
    for i in range(0, len(chunks), batch):
        part = chunks[i : i + batch]
        col.add(
            ids=[c.id for c in part],
            documents=[c.embed_text for c in part],
            metadatas=[{"article_id": c.source.article_id, "position": c.position} for c in part],
        )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--skip-chroma", action="store_true", help="leave out Chroma's default embedding function")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="newsbot-bench-ingest-") as tmp:
        settings = load_settings(data_dir=Path(tmp) / "newsbot", seed_dir=None)
        use_offline_tiktoken_cache(settings.tiktoken_cache_dir, settings.offline_dir)
        service = NewsService.from_settings(settings)
        articles = load_corpus(args.corpus, max_article_bytes=settings.max_article_bytes)[: args.limit]
        bare = build_embedder(settings)  # the exact model, as articles are embedded with
        bare.embed_batch(["warm-up"])  # load the model outside every timing

        started = time.perf_counter()
        chunks = [c for a in articles for c in service.ingestor.chunk(a)]
        chunk_seconds = time.perf_counter() - started
        texts = [c.embed_text for c in chunks]

        started = time.perf_counter()
        bare.embed_batch(texts)
        model_seconds = time.perf_counter() - started

        started = time.perf_counter()
        results = service.ingest("bench", articles)
        ingest_seconds = time.perf_counter() - started
        started = time.perf_counter()
        service.keyword_index("bench").sync()
        index_seconds = time.perf_counter() - started
        stored = service.store.count("bench")
        service.close()

        chroma_seconds = None
        if not args.skip_chroma:
            chroma_seconds = chroma_default_add(Path(tmp) / "chroma-default", chunks, bare.model_dir)

    n_art, n_chunks = len(results), len(chunks)
    wordpieces = [bare.count_tokens(t) for t in texts]
    figures = {
        "articles": n_art,
        "chunks": n_chunks,
        "stored_chunks": stored,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "mean_wordpieces": round(sum(wordpieces) / max(1, len(wordpieces)), 1),
        "cpus": os.cpu_count(),
        "chunking_s": round(chunk_seconds, 2),
        "model_s": round(model_seconds, 2),
        "newsbot_ingest_s": round(ingest_seconds, 2),
        "keyword_index_s": round(index_seconds, 2),
        "chroma_default_s": None if chroma_seconds is None else round(chroma_seconds, 2),
        "newsbot_articles_per_s": round(n_art / ingest_seconds, 1),
        "newsbot_chunks_per_s": round(n_chunks / ingest_seconds, 1),
        "model_chunks_per_s": round(n_chunks / model_seconds, 1),
        "chroma_chunks_per_s": None if chroma_seconds is None else round(n_chunks / chroma_seconds, 1),
        "newsbot_over_model": round(ingest_seconds / model_seconds, 3),
        "chroma_over_newsbot": None if chroma_seconds is None else round(chroma_seconds / ingest_seconds, 2),
        "peak_rss_mb": peak_rss_mb(),
    }
    figures["targets_met"] = {
        "newsbot <= 1.15 x model": figures["newsbot_over_model"] <= 1.15,
        "chroma >= 1.5 x newsbot": None if chroma_seconds is None else figures["chroma_over_newsbot"] >= 1.5,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"corpus: {n_art} articles -> {n_chunks} chunks ({settings.chunk_tokens}/{settings.chunk_overlap} tokens, "
          f"{figures['mean_wordpieces']} word-pieces each on average), {figures['cpus']} CPUs")
    print(f"{'':28}{'seconds':>9}{'articles/s':>12}{'chunks/s':>10}")
    rows = [("bare model (floor)", model_seconds), ("newsbot ingest", ingest_seconds)]
    if chroma_seconds is not None:
        rows.append(("chroma default add", chroma_seconds))
    for label, secs in rows:
        print(f"{label:28}{secs:9.1f}{n_art / secs:12.1f}{n_chunks / secs:10.1f}")
    print(f"chunking {chunk_seconds:.1f} s (inside newsbot ingest); keyword index built on first search in {index_seconds:.1f} s")
    print(f"newsbot / model = {figures['newsbot_over_model']:.3f} (target <= 1.15)")
    if chroma_seconds is not None:
        print(f"chroma default / newsbot = {figures['chroma_over_newsbot']:.2f}x (target >= 1.5)")
    print(f"peak RSS {figures['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
