"""Train newsbot's re-ranker on MultiHop-RAG's development split and write retrieval/search/ranker.json.

    pip install -e ".[train]"
    python bench/train_ranker.py [--corpus ...] [--queries ...] [--out retrieval/search/ranker.json] [--json]

Every dev query goes through the product's own search stages up to the fused candidates
(retrieval.search: candidates, fusion, features); a candidate is relevant when it holds one of the
query's gold facts.
A LambdaMART ranker (LightGBM) learns to order candidates from their features
(retrieval.search.features). The model is small on purpose (shallow trees, large leaves): the
dev queries reuse a few hundred facts, so a big model would learn those facts, not ranking.

The figures it prints are what to believe, not the in-sample ones: queries are split into
groups that share no article (linked by their evidence), three folds of groups, and each fold
is ranked by a model trained on the other two, so every figure comes from articles the model
never saw in training. ``newsbot eval multihop`` on the dev split after training reports the
in-sample figure (the model has seen those queries).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import zlib
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import CORPUS, QUERIES  # noqa: E402
from bot.cli.main import use_offline_tiktoken_cache  # noqa: E402
from retrieval.eval.multihop import load_queries, prepare_library  # noqa: E402
from retrieval.eval.scores import aggregate, score_query, squash  # noqa: E402
from retrieval.search.candidates import gather, read_question  # noqa: E402
from retrieval.search.features import FEATURES, candidate_signals, feature_matrix  # noqa: E402
from retrieval.search.fusion import fuse  # noqa: E402
from retrieval.search.params import SearchParams  # noqa: E402
from retrieval.search.trees import RANKER_MODEL  # noqa: E402
from retrieval.service import NewsService  # noqa: E402
from retrieval.settings import load_settings  # noqa: E402

# LightGBM settings (chosen by the same grouped cross-validation; see bench/RESULTS.md)
MODEL = dict(objective="lambdarank", n_estimators=200, learning_rate=0.05, num_leaves=4, min_child_samples=300,
             verbose=-1)
K, PER_ARTICLE = 10, 4


def collect(service: NewsService, library: str, queries, params: SearchParams):
    """Feature rows, labels and query index of every candidate, and each candidate's text and article."""
    rows, labels, owner, texts, articles = [], [], [], [], []
    index = service.keyword_index(library)
    pool = max(params.candidates, params.vector_pool)  # the vector pool the re-ranker sees
    for qi, q in enumerate(queries):
        qvec = np.asarray(service.embedder.embed(q.query), dtype=np.float32)
        question = read_question(index, q.query, params)
        found = gather(index, question, params, partial(service.store.nearest, library, qvec, pool))
        fused = fuse(index, question, found, params)
        signals = candidate_signals(index, question, [cid for cid, _ in fused], found.nearest, params)
        chunks, _ = service.store.get(library, list(signals.chunk_ids))
        text = {c.id: c.text for c in chunks}
        gold = [squash(f) for f in q.facts]
        rows.append(feature_matrix(signals))
        for cid, article in zip(signals.chunk_ids, signals.articles):
            flat = squash(text.get(cid, ""))
            labels.append(int(any(g in flat for g in gold)))
            owner.append(qi)
            texts.append(text.get(cid, ""))
            articles.append(article)
        if (qi + 1) % 250 == 0:
            print(f"  {qi + 1}/{len(queries)} queries", file=sys.stderr, flush=True)
    return np.concatenate(rows), np.array(labels), np.array(owner), texts, articles


def article_groups(queries_path: Path, queries) -> np.ndarray:
    """Fold number (0-2) per query: queries linked through a shared evidence article stay together."""
    raw = json.loads(Path(queries_path).read_text(encoding="utf-8"))
    by_qid = {int(r.get("qid", i)): r for i, r in enumerate(raw)}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    roots = []
    for q in queries:
        titles = [e["title"] for e in by_qid[q.qid]["evidence_list"]]
        for t in titles[1:]:
            parent[find(t)] = find(titles[0])
        roots.append(titles[0])
    roots = [find(t) for t in roots]
    sizes: dict[str, int] = {}
    for r in roots:
        sizes[r] = sizes.get(r, 0) + 1
    biggest = max(sizes, key=sizes.get)  # one group holds over half the queries: a fold of its own
    return np.array([0 if r == biggest else 1 + zlib.crc32(r.encode()) % 2 for r in roots])


def metrics(queries, order_of, texts, articles, owner) -> dict:
    by_query: dict[int, list[int]] = {}
    for i, qi in enumerate(owner):
        by_query.setdefault(int(qi), []).append(i)
    scores = []
    for qi, q in enumerate(queries):
        picked, per = [], {}
        for i in order_of(np.array(by_query.get(qi, []), dtype=np.int64)):
            a = articles[i]
            if per.get(a, 0) >= PER_ARTICLE:
                continue
            per[a] = per.get(a, 0) + 1
            picked.append(texts[i])
            if len(picked) >= K:
                break
        scores.append(score_query(q.question_type, q.facts, picked, K))
    m = aggregate(scores, K)
    return {"Hits@4": m.hits4, "Hits@10": m.hits_k, "MRR@10": m.mrr_k, "FactRecall@10": m.fact_recall_k,
            "AllFacts@10": m.all_facts_k}


def fit(x, y, owner):
    from lightgbm import LGBMRanker

    order = np.argsort(owner, kind="stable")
    x, y, owner = x[order], y[order], owner[order]
    _, groups = np.unique(owner, return_counts=True)
    model = LGBMRanker(**MODEL)
    model.fit(x, y, group=groups)
    return model


def to_tree_file(model) -> dict:
    """LightGBM's dump as retrieval.search.trees's JSON (split nodes in order, leaves as ~index)."""
    trees = []
    for info in model.booster_.dump_model()["tree_info"]:
        feature, threshold, left, right, value = [], [], [], [], []

        def walk(node: dict) -> int:
            if "leaf_value" in node or "split_index" not in node:
                value.append(float(node.get("leaf_value", 0.0)))
                return ~(len(value) - 1)
            if node.get("decision_type", "<=") != "<=":
                raise ValueError(f"unsupported split {node.get('decision_type')}")
            at = len(feature)
            feature.append(int(node["split_feature"]))
            threshold.append(float(node["threshold"]))
            left.append(0)
            right.append(0)
            left[at] = walk(node["left_child"])
            right[at] = walk(node["right_child"])
            return at

        walk(info["tree_structure"])
        trees.append({"feature": feature, "threshold": threshold, "left": left, "right": right, "value": value})
    return {"features": list(FEATURES), "trees": trees, "trained_with": {k: v for k, v in MODEL.items() if k != "verbose"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--library", default="eval-multihop", help="the eval library (built if missing)")
    parser.add_argument("--out", type=Path, default=RANKER_MODEL)
    parser.add_argument("--limit", type=int, default=None, help="only the first N queries")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from retrieval.search.trees import TreeEnsemble

    settings = load_settings(rerank=False)  # candidates come from the fused search either way
    use_offline_tiktoken_cache(settings.tiktoken_cache_dir, settings.offline_dir)
    service = NewsService.from_settings(settings)
    started = time.perf_counter()
    try:
        asyncio.run(prepare_library(service, args.library, args.corpus))
        queries = load_queries(args.queries, limit=args.limit)
        params = SearchParams(k=K, per_article=PER_ARTICLE, min_similarity=None)
        x, y, owner, texts, articles = collect(service, args.library, queries, params)
    finally:
        service.close()
    folds = article_groups(args.queries, queries)[owner]

    def ranked_by(scores):
        return lambda rows: rows[np.argsort(-scores[rows], kind="stable")]

    fused = -x[:, FEATURES.index("fused_rank")]
    held_out = np.zeros(len(y))
    for f in range(3):
        train = folds != f
        held_out[~train] = fit(x[train], y[train], owner[train]).predict(x[~train])
    model = fit(x, y, owner)
    tree_file = to_tree_file(model)
    ensemble = TreeEnsemble.from_dict(tree_file)
    drift = float(np.abs(ensemble.predict(x) - model.predict(x)).max())
    if drift > 1e-6:
        raise SystemExit(f"the exported trees disagree with LightGBM by {drift}")
    args.out.write_text(json.dumps(tree_file, separators=(",", ":")) + "\n", encoding="utf-8")

    report = {
        "queries": len(queries),
        "candidates": int(len(y)),
        "relevant": int(y.sum()),
        "fused (no re-ranking)": metrics(queries, ranked_by(fused), texts, articles, owner),
        "re-ranked, grouped 3-fold cross-validation": metrics(queries, ranked_by(held_out), texts, articles, owner),
        "re-ranked, in-sample (trained on these queries)": metrics(
            queries, ranked_by(ensemble.predict(x)), texts, articles, owner),
        "model": str(args.out),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['queries']} queries, {report['candidates']} candidates ({report['relevant']} hold a gold fact)")
    print(f"{'':50s}" + "".join(f"{k:>15s}" for k in ("Hits@4", "Hits@10", "MRR@10", "FactRecall@10", "AllFacts@10")))
    for name in ("fused (no re-ranking)", "re-ranked, grouped 3-fold cross-validation",
                 "re-ranked, in-sample (trained on these queries)"):
        print(f"{name:50s}" + "".join(f"{v:15.4f}" for v in report[name].values()))
    print(f"wrote {args.out} ({len(tree_file['trees'])} trees) in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
