"""`newsbot eval multihop`: MultiHop-RAG retrieval quality through the product's own ingest and search.

Metrics follow the benchmark's ``retrieval_evaluate.py``: a retrieved passage "holds" a gold fact
when the fact, whitespace removed, is a substring of the passage, whitespace removed. Hits@K and
MRR@K look for any fact; FactRecall@K and AllFacts@K count every fact of a query.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.errors import InputError
from retrieval.ingest.extract import articles_from_json
from retrieval.models import Article
from retrieval.settings import PROJECT_ROOT, Settings

QUESTION_TYPES = ("comparison_query", "inference_query", "temporal_query")
# Code whose change alters the chunks a corpus becomes: a cached eval library built before is stale.
_CHUNK_CODE = ("retrieval/text/chunking.py", "retrieval/models.py", "retrieval/ingest/pipeline.py")


@dataclass(frozen=True)
class EvalQuery:
    qid: int
    query: str
    question_type: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class QueryScore:
    """One query's result: rank (1-based) of the first passage holding each fact, None when absent."""

    question_type: str
    fact_ranks: tuple[int | None, ...]
    map_sum: float  # the benchmark's average-precision numerator

    def hit(self, k: int) -> bool:
        return any(r is not None and r <= k for r in self.fact_ranks)

    def reciprocal_rank(self, k: int) -> float:
        ranks = [r for r in self.fact_ranks if r is not None and r <= k]
        return 1.0 / min(ranks) if ranks else 0.0

    def fact_recall(self, k: int) -> float:
        return sum(1 for r in self.fact_ranks if r is not None and r <= k) / len(self.fact_ranks)

    def all_facts(self, k: int) -> bool:
        return all(r is not None and r <= k for r in self.fact_ranks)


@dataclass(frozen=True)
class Metrics:
    queries: int
    hits4: float
    hits_k: float
    mrr_k: float
    map_k: float
    fact_recall_k: float
    all_facts_k: float


def squash(text: str) -> str:
    """The benchmark's comparison form: all whitespace removed."""
    return "".join(text.split())


def score_query(question_type: str, facts: Sequence[str], passages: Sequence[str], k: int = 10) -> QueryScore:
    """Ranks of the first of ``passages[:k]`` holding each (distinct) fact, and the MAP numerator."""
    gold = list(dict.fromkeys(squash(f) for f in facts if squash(f)))
    if not gold:
        raise ValueError("a query needs at least one non-empty fact")
    ranks: dict[str, int] = {}
    map_sum = 0.0
    for rank, text in enumerate(passages[:k], start=1):
        flat = squash(text)
        new = [g for g in gold if g not in ranks and g in flat]
        for g in new:
            ranks[g] = rank
        if any(g in flat for g in gold):
            map_sum += len(new) / rank  # retrieval_evaluate.py: newly found facts / rank
    return QueryScore(question_type, tuple(ranks.get(g) for g in gold), map_sum)


def aggregate(scores: Sequence[QueryScore], k: int = 10) -> Metrics:
    n = len(scores)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def mean(values) -> float:
        return sum(values) / n

    return Metrics(
        queries=n,
        hits4=mean(s.hit(4) for s in scores),
        hits_k=mean(s.hit(k) for s in scores),
        mrr_k=mean(s.reciprocal_rank(k) for s in scores),
        map_k=mean(s.map_sum / min(len(s.fact_ranks), k) for s in scores),
        fact_recall_k=mean(s.fact_recall(k) for s in scores),
        all_facts_k=mean(s.all_facts(k) for s in scores),
    )


def by_type(scores: Sequence[QueryScore], k: int = 10) -> dict[str, Metrics]:
    """Metrics per question type (in the benchmark's order, then any others), then ``overall``."""
    types = [t for t in QUESTION_TYPES if any(s.question_type == t for s in scores)]
    types += sorted({s.question_type for s in scores} - set(types))
    out = {t: aggregate([s for s in scores if s.question_type == t], k) for t in types}
    out["overall"] = aggregate(scores, k)
    return out


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


async def prepare_library(service, library: str, corpus: Path, progress: Callable[[int, int], None] | None = None) -> dict:
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


def evaluate(service, library: str, queries: Sequence[EvalQuery], k: int, params) -> tuple[list[QueryScore], list[float]]:
    """Every query through ``service.search``; returns scores and per-query latencies (seconds)."""
    scores, latencies = [], []
    for q in queries:
        started = time.perf_counter()
        passages = service.search(library, q.query, params)
        latencies.append(time.perf_counter() - started)
        scores.append(score_query(q.question_type, q.facts, [p.text for p in passages], k))
    return scores, latencies


def run_multihop_command(args, settings: Settings, console) -> int:
    from bot.cli.commands import progress_bar
    from retrieval.eval.report import build_report, print_report
    from retrieval.search.searcher import SearchParams
    from retrieval.service import NewsService

    if args.k < 4:
        raise InputError("--k must be at least 4 (Hits@4 is always reported).")
    queries = load_queries(args.queries, limit=args.limit)
    if not queries:
        raise InputError(f"No queries with evidence in {args.queries}.")
    service = NewsService.from_settings(settings)
    try:
        with progress_bar(console, "Ingesting the corpus") as update:
            library_info = asyncio.run(prepare_library(service, args.library, args.corpus, update))
        params = SearchParams(k=args.k, per_article=settings.passages_per_article, min_similarity=None)
        scores, latencies = evaluate(service, args.library, queries, args.k, params)
    finally:
        service.close()
    report = build_report(
        scores, latencies, k=args.k, settings=settings, params=asdict(params), library=library_info,
        embedder=service.embedder.description, corpus=args.corpus, reranked=settings.rerank and params.rerank,
    )
    if args.json:
        console.out(json.dumps(report, indent=2), highlight=False)
    else:
        print_report(console, report)
    return 0
