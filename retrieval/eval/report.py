"""The MultiHop-RAG report as data: metrics per question type and overall, the paper's best beside
them, the settings and the library used, and search latency. ``newsbot eval multihop`` prints it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from retrieval.eval.scores import Metrics, QueryScore, by_type
from retrieval.settings import Settings

PAPER_SYSTEM = "voyage-02 + bge-reranker-large"
_TABLE5_COLUMNS = {"MRR@10": "mrr_k", "MAP@10": "map_k", "Hits@10": "hits_k", "Hits@4": "hits4"}


def find_paper_results(corpus: Path, settings: Settings) -> Path | None:
    """``paper_results.json`` beside the corpus's folder (``bench/``), else in the offline folder."""
    candidates = [Path(corpus).resolve().parent.parent / "paper_results.json", Path(corpus).resolve().parent / "paper_results.json"]
    if settings.offline_dir is not None:
        candidates.append(Path(settings.offline_dir) / "bench" / "paper_results.json")
    return next((p for p in candidates if p.is_file()), None)


def paper_best(path: Path | None) -> dict | None:
    """The paper's best retrieval (Table 5, with reranker) as {metric field: value}, or None."""
    if path is None:
        return None
    try:
        table = json.loads(path.read_text(encoding="utf-8"))["multihop_rag"]["table5_retrieval"]
        columns = table["columns"]
        row = table["with_bge_reranker_large"]["voyage-02"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {_TABLE5_COLUMNS[c]: float(v) for c, v in zip(columns, row) if c in _TABLE5_COLUMNS}


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def metric_names(k: int) -> dict[str, str]:
    return {
        "hits4": "Hits@4",
        "hits_k": f"Hits@{k}",
        "mrr_k": f"MRR@{k}",
        "map_k": f"MAP@{k}",
        "fact_recall_k": f"FactRecall@{k}",
        "all_facts_k": f"AllFacts@{k}",
    }


def _named(metrics: Metrics, k: int) -> dict[str, float | int]:
    values = {"queries": metrics.queries}
    values.update({name: round(getattr(metrics, field), 4) for field, name in metric_names(k).items()})
    return values


def build_report(
    scores: Sequence[QueryScore],
    latencies: Sequence[float],
    *,
    k: int,
    settings: Settings,
    params: dict,
    library: dict,
    embedder: str,
    corpus: Path,
    reranked: bool = False,
) -> dict:
    table = by_type(scores, k)
    best = paper_best(find_paper_results(corpus, settings))
    return {
        "benchmark": "MultiHop-RAG",
        "k": k,
        "metrics": {name: _named(m, k) for name, m in table.items()},
        "paper_best": None if best is None else {"system": PAPER_SYSTEM, **{metric_names(10)[f]: v for f, v in best.items()}},
        "settings": {
            "embedder": embedder,
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "search": params,
            "reranked": reranked,
        },
        "library": library,
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.50) * 1000, 1),
            "p95": round(_percentile(latencies, 0.95) * 1000, 1),
        },
    }
