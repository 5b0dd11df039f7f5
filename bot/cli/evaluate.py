"""``newsbot eval multihop``: run the MultiHop-RAG evaluation and print its report (a table, or JSON)."""

from __future__ import annotations

import argparse
import asyncio
import json

from rich.console import Console
from rich.table import Table

from bot.cli.commands import open_service
from bot.cli.terminal import progress_bar
from retrieval.eval.answers import load_answer_queries
from retrieval.eval.multihop import checked_queries, prepare_library, run_multihop
from retrieval.eval.report import metric_names
from retrieval.settings import Settings


def cmd_eval(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    queries = checked_queries(args.queries, k=args.k, limit=args.limit)
    answer_queries = load_answer_queries(args.queries, limit=args.limit)
    service = open_service(settings, "eval")

    async def evaluate() -> dict:
        with progress_bar(console, "Ingesting the corpus") as update:
            built = await prepare_library(service, args.library, args.corpus, update)
        return await run_multihop(service, queries, corpus=args.corpus, library=args.library, library_info=built, k=args.k,
                                  answer_queries=answer_queries)

    try:
        report = asyncio.run(evaluate())
    finally:
        service.close()
    if args.json:
        console.out(json.dumps(report, indent=2), highlight=False)
    else:
        print_report(console, report)
    return 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def print_answers(console: Console, answers: dict) -> None:
    """The answer figures: refusals, accuracy per question type, and the published anchors."""
    table = Table(title=f"MultiHop-RAG answers ({answers['answered_by']})", box=None, pad_edge=False)
    for column in ("question type", "n", "named", "contains gold", "yes/no", "yes/no accuracy"):
        table.add_column(column, justify="left" if column == "question type" else "right")
    for kind, row in answers["accuracy"].items():
        table.add_row(kind.removesuffix("_query"), str(row["queries"]), str(row["named"]), _pct(row["accuracy"]),
                      str(row["yes_no"]), _pct(row["yes_no_accuracy"]))
    console.print(table)
    rejection, false = answers["negative_rejection"], answers["false_refusal"]
    lines = [
        f"null queries refused (negative rejection): {_pct(rejection['refused'])} of {rejection['null_queries']}; "
        f"answerable queries refused (false refusal): {_pct(false['refused'])} of {false['queries']}",
        f"citation check removed a sentence or citation in {_pct(answers['check_fired'])} of the answers given",
    ]
    if answers["answered_by"] == "extractive":
        lines.append("Yes/No answers are not scored: a quoted answer cannot say yes or no.")
    published = answers.get("published")
    if published:
        lines.append(
            f"published: MultiHop-RAG GPT-4 accuracy {published['multihop_gpt4_retrieved']:.2f} with retrieved chunks, "
            f"{published['multihop_gpt4_gold_evidence']:.2f} with the gold evidence (Table 6); RGB negative rejection, "
            f"ChatGPT: {published['rgb_chatgpt_rejection']:.4f}"
        )
    for line in lines:
        console.print(line, highlight=False, markup=False)


def print_report(console: Console, report: dict) -> None:
    k = report["k"]
    names = [n for f, n in metric_names(k).items() if f != "map_k"]  # MAP@10 is in the JSON
    table = Table(title=f"MultiHop-RAG retrieval (k={k})", box=None, pad_edge=False)
    table.add_column("question type")
    table.add_column("n", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    rows = report["metrics"]
    for kind, values in rows.items():
        label = kind.removesuffix("_query")
        style = "bold" if kind == "overall" else None
        table.add_row(label, str(values["queries"]), *(f"{values[n]:.4f}" for n in names), style=style)
    best = report.get("paper_best")
    if best:
        tens = [n for f, n in metric_names(10).items() if f != "map_k"]
        cells = [f"{best[n]:.4f}" if n in best and k == 10 else "—" for n in tens]
        table.add_row("paper best*", "", *cells, style="dim")
    console.print(table)
    if best:
        console.print(f"* {best['system']}: the best retrieval in MultiHop-RAG (Tang & Yang 2024), Table 5", highlight=False, markup=False)
    lib, s = report["library"], report["settings"]
    if s.get("reranked"):
        console.print(
            "Re-ranked by retrieval/search/ranker.json, which bench/train_ranker.py trains on MultiHop-RAG's development "
            "split: on those queries these figures are in-sample. Its cross-validated figures (articles unseen in "
            "training) are lower; bench/RESULTS.md has both.",
            highlight=False,
            markup=False,
        )
    how = "reused" if lib.get("reused") else f"built in {lib.get('ingest_seconds', 0):.1f} s"
    console.print(
        f"library: {lib.get('articles')} articles, {lib.get('chunks')} chunks ({how}); embedder {s['embedder']}, "
        f"chunks {s['chunk_tokens']}/{s['chunk_overlap']} tokens; search p50 {report['latency_ms']['p50']} ms, "
        f"p95 {report['latency_ms']['p95']} ms",
        highlight=False,
        markup=False,
    )
    if report.get("answers"):
        print_answers(console, report["answers"])
