"""MultiHop-RAG retrieval quality through the product's own ingest and search: the benchmark's
files read, its corpus built into a throw-away library (reused while nothing that shapes the
chunks changed), every query searched and scored (``retrieval.eval.scores``), and the report."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import InputError
from retrieval.eval.answers import AnswerQuery, answer_all, answer_anchors, answer_report
from retrieval.eval.report import build_report, find_paper_results
from retrieval.eval.scores import EvalQuery, QueryScore, score_query
from retrieval.ingest.extract import articles_from_json
from retrieval.models import Article
from retrieval.search.params import SearchParams
from retrieval.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from retrieval.service import NewsService

# Code whose change alters the chunks a corpus becomes: a cached eval library built before is stale.
_CHUNK_CODE = ("retrieval/text/chunking.py", "retrieval/models.py", "retrieval/ingest/pipeline.py")


# -- reading the benchmark's files -----------------------------------------------------------
def _read_json(path: Path, what: str) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"There is no {what} file at {path}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"Could not read the {what} file {path} ({type(exc).__name__}).") from None


def load_corpus(path: Path, *, max_article_bytes: int) -> list[Article]:
    """The corpus as Articles, through the same JSON reader ``newsbot add file.json`` uses."""
    return articles_from_json(_read_json(path, "corpus"), max_bytes=max_article_bytes)


def load_queries(path: Path, *, limit: int | None = None) -> list[EvalQuery]:
    """Queries with evidence (null queries have none and are skipped, as in the benchmark)."""
    data = _read_json(path, "queries")
    if not isinstance(data, list):
        raise InputError(f"{path} should hold a list of queries.")
    if limit is not None:
        data = data[:limit]  # like retrieval_evaluate.py --limit: the first N records, nulls then dropped
    out = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            raise InputError(f"Query record {index} in {path} has no 'query' text.")
        facts = tuple(e["fact"] for e in item.get("evidence_list") or [] if isinstance(e, dict) and e.get("fact"))
        if item.get("question_type") == "null_query" or not facts:
            continue
        out.append(EvalQuery(int(item.get("qid", index)), item["query"], str(item.get("question_type")), facts))
    return out


# -- the throw-away library ------------------------------------------------------------------
def fingerprint(corpus: Path, settings: Settings, embedder_name: str) -> str:
    h = hashlib.sha256(Path(corpus).read_bytes())
    h.update(f"|{settings.chunk_tokens}|{settings.chunk_overlap}|{embedder_name}|".encode())
    for name in _CHUNK_CODE:
        h.update((PROJECT_ROOT / name).read_bytes())
    return h.hexdigest()[:20]


def _marker(settings: Settings, library: str, identity: str) -> Path:
    return settings.data_dir / "eval" / identity / f"{library}.json"


async def prepare_library(service: NewsService, library: str, corpus: Path, progress: Callable[[int, int], None] | None = None) -> dict:
    """Build ``library`` from the corpus unless it was built already with the same fingerprint."""
    settings = service.settings
    stamp = fingerprint(corpus, settings, service.embedder.name)
    marker = _marker(settings, library, service.identity)
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        recorded = {}
    if recorded.get("fingerprint") == stamp and recorded.get("chunks") == await service.count(library) > 0:
        return {**recorded, "reused": True}
    articles = load_corpus(corpus, max_article_bytes=settings.max_article_bytes)
    await service.drop(library)
    started = time.perf_counter()
    results = await service.add_articles(library, articles, progress)
    seconds = time.perf_counter() - started
    info = {
        "fingerprint": stamp,
        "articles": len({r.article_id for r in results}),
        "chunks": await service.count(library),
        "ingest_seconds": round(seconds, 2),
    }
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(info))
    return {**info, "reused": False}


def evaluate(service: NewsService, library: str, queries: Sequence[EvalQuery], k: int, params: SearchParams) -> tuple[list[QueryScore], list[float]]:
    """Every query through ``service.search``; returns scores and per-query latencies (seconds)."""
    scores, latencies = [], []
    for q in queries:
        started = time.perf_counter()
        passages = service.search(library, q.query, params)
        latencies.append(time.perf_counter() - started)
        scores.append(score_query(q.question_type, q.facts, [p.text for p in passages], k))
    return scores, latencies


def checked_queries(path: Path, *, k: int, limit: int | None = None) -> list[EvalQuery]:
    """The queries to evaluate, refusing a ``k`` below 4 and a file without any query with evidence."""
    if k < 4:
        raise InputError("--k must be at least 4 (Hits@4 is always reported).")
    queries = load_queries(path, limit=limit)
    if not queries:
        raise InputError(f"No queries with evidence in {path}.")
    return queries


async def run_multihop(
    service: NewsService, queries: Sequence[EvalQuery], *, corpus: Path, library: str, library_info: dict, k: int,
    answer_queries: Sequence[AnswerQuery] = (),
) -> dict:
    """Search every query in ``library`` (built by ``prepare_library``, which gave ``library_info``),
    answer every one of ``answer_queries`` as a user would be answered, and return the report."""
    settings = service.settings
    params = SearchParams(k=k, per_article=settings.passages_per_article, min_similarity=None)
    scores, latencies = await asyncio.to_thread(evaluate, service, library, queries, k, params)
    report = build_report(
        scores, latencies, k=k, settings=settings, params=asdict(params), library=library_info,
        embedder=service.embedder.description, corpus=corpus, reranked=settings.rerank and params.rerank,
    )
    if answer_queries:
        answered = await answer_all(service, library, answer_queries)
        report["answers"] = answer_report(answered, answer_anchors(find_paper_results(corpus, settings)))
    return report
