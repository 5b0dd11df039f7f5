"""What the command line shows: answers with their sources, the answer as it streams, progress bars."""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from bot.render import status_text
from retrieval.answer.answerer import AnswerDelta, AnswerDone, AnswerReset, AnswerStatus
from retrieval.ingest.gather import ReadFailure
from retrieval.models import Answer, IngestResult
from retrieval.recent import LatestArticles

# C0 and C1 control characters but newline and tab (ESC starts the terminal's escape sequences, BEL
# ends some), and lone surrogates (bytes of a file name that were not UTF-8).
_SOURCE_LINE = re.compile(r"\[\d+\] ")
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` safe to write to a terminal: every control character (but newline and tab) and every
    undecodable byte becomes U+FFFD, so an article's title cannot move the cursor, clear the
    screen or retitle the window."""
    return _UNPRINTABLE.sub("\ufffd", text)


@contextmanager
def progress_bar(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    """A bar for work that reports ``(done, total)``, drawn from the first report on (work that
    turns out to be nothing shows nothing); never drawn when output is not a terminal."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    progress = Progress(*columns, console=console, transient=True, disable=not console.is_terminal)
    task: list[TaskID] = []

    def update(done: int, total: int) -> None:
        if not task:
            progress.start()
            task.append(progress.add_task(label, total=total))
        progress.update(task[0], completed=done, total=total)

    try:
        yield update
    finally:
        if task:
            progress.stop()


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


def wrap_lines(text: str, width: int) -> str:
    """``text`` wrapped at word boundaries to ``width`` columns, each line keeping its indent (a
    source's title continues under it); a word longer than that (a URL) stays whole on its own line."""
    lines = []
    for line in text.split("\n"):
        indent = line[: len(line) - len(line.lstrip(" "))]
        hanging = "    " if _SOURCE_LINE.match(line) else indent
        lines += textwrap.wrap(line.lstrip(" "), width, initial_indent=indent, subsequent_indent=hanging,
                               break_long_words=False, break_on_hyphens=False) or [""]
    return "\n".join(lines)


def print_answer(console: Console, answer: Answer) -> None:
    """The answer and its sources, wrapped to the terminal (80 columns when output is not one)."""
    text = wrap_lines(printable(format_answer(answer)), console.width)
    console.print(text, highlight=False, markup=False, soft_wrap=True)


async def show_stream(console: Console, events: AsyncIterable[object], *, live: bool) -> Answer:
    """Follow the answer events; with ``live``, show the status or the text so far until it is done."""
    partial, status = "", ""
    with Live(Text(""), console=console, transient=True, auto_refresh=False, redirect_stdout=False) as view:
        async for event in events:
            if isinstance(event, AnswerStatus):
                status = status_text(event)
            elif isinstance(event, AnswerDelta):
                partial += event.text
            elif isinstance(event, AnswerReset):
                partial = ""
            elif isinstance(event, AnswerDone):
                return event.answer
            if live:
                view.update(Text(printable(partial or status), style="dim" if not partial else ""), refresh=True)
    raise RuntimeError("the answer stream ended without an answer")


def print_ingest(console: Console, results: list[IngestResult]) -> None:
    for r in results:
        line = f"{r.status.value:9} {r.article_id}  {r.title}  ({r.chunks} chunks)"
        console.print(printable(line), highlight=False, markup=False)


def print_failures(console: Console, failures: list[ReadFailure]) -> None:
    """One line for each file, folder or link that could not be read, naming it."""
    for f in failures:
        line = f.reason if f.source in f.reason else f"{f.source}: {f.reason}"  # a URL's reason names it
        console.print(printable(f"newsbot: {line}"), highlight=False, markup=False, soft_wrap=True)


def print_latest(console: Console, result: LatestArticles) -> None:
    """``newsbot latest``: what period it covers, then each article's date, title and publisher, and
    its link on the next line (whole, so the terminal can open it)."""
    def say(line: str) -> None:
        console.print(printable(line), highlight=False, markup=False, soft_wrap=True)

    count = len(result.articles)
    if not result.rows:
        say(f"No articles {result.period()}.")
    else:
        undated = f", then {len(result.undated)} with no date" if result.undated else ""
        say(f"{count} article{'s' if count != 1 else ''} {result.period()}, newest first{undated}:")
    for row in result.rows:
        s = row.source
        publisher = f" — {s.publisher}" if s.publisher else ""
        say(f"{s.published.isoformat() if s.published else 'no date':10}  {s.title}{publisher}")
        if s.url:
            say(f"{'':10}  {s.url}")
    if result.undated_skipped:
        say(f"{result.undated_skipped} matching article{'s have' if result.undated_skipped != 1 else ' has'} no date, "
            "so not listed; `newsbot list` shows every article.")
