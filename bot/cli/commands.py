"""The ``newsbot`` command line (everything except ``newsbot run``, which bot/cli.py adds)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from retrieval.answer.answerer import AnswerDelta, AnswerDone, AnswerReset, AnswerStatus
from retrieval.errors import ConfigError, NewsbotError
from retrieval.models import Answer, IngestResult
from retrieval.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings, Console], int]


def build_parser(extra: Sequence[tuple[str, str]] = ()) -> argparse.ArgumentParser:
    """The parser for every core command; ``extra`` adds (name, help) commands without arguments."""
    parser = argparse.ArgumentParser(prog="newsbot", description="Answers questions about company news, with citations.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--library", default="default", help="library (one Chroma collection) to use; default: default")
        return p

    ask = command("ask", "answer a question from the articles")
    ask.add_argument("question", nargs="+", help="the question")
    ask.add_argument("--no-stream", action="store_true", help="print the answer only when it is complete")
    add = command("add", "add articles from URLs, files, folders or - (standard input)")
    add.add_argument("targets", nargs="+", metavar="URL|FILE|DIR|-")
    add.add_argument("--title")
    add.add_argument("--published", help="publication date, e.g. 2022-05-27")
    add.add_argument("--source", help="publisher name")
    command("list", "list the articles in the library")
    rm = command("remove", "remove an article by its id (see `newsbot list`)")
    rm.add_argument("article_id")
    command("stats", "article and chunk counts")
    command("reindex", "rebuild the library with the configured embedder")
    ev = sub.add_parser("eval", help="measure retrieval quality on a benchmark", description="Measure retrieval quality.")
    ev_sub = ev.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    mh = ev_sub.add_parser("multihop", help="MultiHop-RAG (Tang & Yang 2024): Hits@4/10, MRR@10, FactRecall@10, AllFacts@10")
    mh.add_argument("--corpus", type=Path, required=True, help="corpus.json")
    mh.add_argument("--queries", type=Path, required=True, help="queries JSON (query, question_type, evidence_list)")
    mh.add_argument("--k", type=int, default=10)
    mh.add_argument("--json", action="store_true", help="print JSON instead of a table")
    mh.add_argument("--library", default="eval-multihop", help="throw-away library used for the corpus")
    mh.add_argument("--limit", type=int, default=None, help="evaluate only the first N queries")
    for name, help_text in extra:
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


@contextmanager
def progress_bar(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _service(settings: Settings):
    from retrieval.service import NewsService

    return NewsService.from_settings(settings)


def format_answer(answer: Answer) -> str:
    lines = [answer.text]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            lines.append(f"[{c.number}] {c.source.label()}" + (f"\n    {c.source.url}" if c.source.url else ""))
    if answer.note:
        lines += ["", f"Note: {answer.note}"]
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    service = _service(settings)
    with progress_bar(console, "Adding the bundled articles") as update:
        asyncio.run(service.ensure_seeded(args.library, update))
    question = " ".join(args.question)
    stream = console.is_terminal and not args.no_stream

    async def run() -> Answer:
        partial, status = "", ""
        with Live(Text(""), console=console, transient=True, auto_refresh=False, redirect_stdout=False) as live:
            async for event in service.ask(args.library, question):
                if isinstance(event, AnswerStatus):
                    status = event.text
                elif isinstance(event, AnswerDelta):
                    partial += event.text
                elif isinstance(event, AnswerReset):
                    partial = ""
                elif isinstance(event, AnswerDone):
                    return event.answer
                if stream:
                    live.update(Text(partial or status, style="dim" if not partial else ""), refresh=True)
        raise RuntimeError("the answer stream ended without an answer")

    answer = asyncio.run(run())
    console.print(format_answer(answer), highlight=False, markup=False, soft_wrap=True)
    service.close()
    return 0


def _report(console: Console, results: list[IngestResult]) -> None:
    for r in results:
        console.print(f"{r.status.value:9} {r.article_id}  {r.title}  ({r.chunks} chunks)", highlight=False, markup=False)


def cmd_add(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from retrieval.ingest.extract import article_from_text, decode_text

    overrides = {"title": args.title, "publisher": args.source, "published": args.published}
    service = _service(settings)
    articles = []
    for target in args.targets:
        if target == "-":
            data = sys.stdin.buffer.read(settings.max_article_bytes + 1)
            text = decode_text(data, what="standard input", max_bytes=settings.max_article_bytes)
            articles.append(article_from_text(text, max_bytes=settings.max_article_bytes, **overrides))
        elif target.startswith(("http://", "https://")):
            articles.append(asyncio.run(service.read_url(target, **overrides)))
        else:
            path = Path(target)
            if not path.exists():
                raise NewsbotError(f"No such file or folder: {target}")
            articles.extend(asyncio.run(service.read_paths([path], **overrides)))
    with progress_bar(console, "Adding articles") as update:
        results = asyncio.run(service.add_articles(args.library, articles, update))
    _report(console, results)
    service.close()
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    service = _service(settings)
    rows, _ = asyncio.run(service.list_articles(args.library, limit=None))
    table = Table("id", "published", "publisher", "title", "chunks", box=None, pad_edge=False)
    for r in rows:
        s = r.source
        table.add_row(s.article_id, s.published.isoformat() if s.published else "", s.publisher or "", s.title, str(r.chunks))
    console.print(table if rows else f"Library '{args.library}' is empty.")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    service = _service(settings)
    if asyncio.run(service.remove(args.library, args.article_id)):
        console.print(f"Removed {args.article_id}.")
        return 0
    console.print(f"No article {args.article_id} in library '{args.library}'.")
    return 1


def cmd_stats(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    service = _service(settings)
    s = asyncio.run(service.stats(args.library))
    console.print(f"library {s.library}: {s.articles} articles, {s.chunks} chunks, embedder {s.embedder}")
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    service = _service(settings)
    with progress_bar(console, "Re-embedding chunks") as update:
        written = asyncio.run(service.reindex(args.library, update))
    console.print(f"Rebuilt library '{args.library}' with {service.embedder.name}: {written} chunks.")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from retrieval.eval.multihop import run_multihop_command

    return run_multihop_command(args, settings, console)


HANDLERS: dict[str, Handler] = {
    "eval": cmd_eval,
    "ask": cmd_ask,
    "add": cmd_add,
    "list": cmd_list,
    "remove": cmd_remove,
    "stats": cmd_stats,
    "reindex": cmd_reindex,
}


def run_command(args: argparse.Namespace, handlers: dict[str, Handler] = HANDLERS) -> int:
    """Run one parsed command; every NewsbotError becomes one clear line on stderr."""
    err = Console(stderr=True)
    try:
        settings = load_settings()
        return handlers[args.command](args, settings, Console())
    except ConfigError as exc:
        err.print(f"newsbot: {exc}", highlight=False, markup=False, soft_wrap=True)
        return 2
    except NewsbotError as exc:
        err.print(f"newsbot: {exc}", highlight=False, markup=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser().parse_args(argv))
