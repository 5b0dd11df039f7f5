"""Pure functions that turn answers and library data into Discord message contents.

Every function returns text that fits Discord's 2,000-character message limit, split at clean
places (never inside a ``[n]`` citation, a URL or a source line), with mention syntax
neutralised so that nothing the articles or the model wrote can ping anyone.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from urllib.parse import urlsplit

from retrieval.answer.answerer import AnswerStatus, Stage
from retrieval.models import (
    Answer,
    ArticleSummary,
    Citation,
    IngestResult,
    IngestStatus,
    LibraryStats,
)

MAX_CONTENT = 2000
STAGE_WORDS = {
    Stage.SEARCHING: "Searching the articles…",
    Stage.WRITING: "Writing the answer…",
    Stage.QUOTING: "Quoting the articles…",
}
# why a model's attempt failed (retrieval.errors reasons) -> how a retry line begins
_RETRY_LEAD = {"rate limited": "The model is busy", "timed out": "The model is slow to answer"}
SOURCES_HEADER = "**Sources**"
ZWSP = "\u200b"

_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
# spans a cut must not fall inside: citations like [1] or [1, 2], URLs, masked links
_PROTECTED = re.compile(
    r"\[\d+(?:\s*[,–-]\s*\d+)*\]"
    r"|\[[^\]\n]{0,200}\]\(<?https?://[^\s)]+>?\)"
    r"|<https?://[^\s>]+>"
    r"|https?://\S+"
)
_CITATION_AHEAD = re.compile(r"\s*\[\d")
_BREAKS = (re.compile(r"\n[ \t]*\n\s*"), re.compile(r"\n\s*"), re.compile(r"(?<=[.!?;:\]])\s+"), re.compile(r"\s+"))


def status_text(status: AnswerStatus) -> str:
    """An answer's stage in words: ``Searching the articles…``, ``The model is busy, retrying (1/3)…``."""
    if status.stage is Stage.RETRYING:
        lead = _RETRY_LEAD.get(status.reason or "", "The model's reply failed")
        return f"{lead}, retrying ({status.attempt}/{status.max_attempts})…"
    return STAGE_WORDS[status.stage]


def neutralize_mentions(text: str) -> str:
    """Defuse ``@everyone``, ``@here`` and ``<@id>``/``<@!id>``/``<@&id>`` with a zero-width space."""
    text = _MASS_MENTION.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return text.replace("<@", f"<@{ZWSP}")


def _best_cut(text: str, limit: int) -> int:
    """Where to cut ``text`` (head = ``text[:cut]``) so that the head fits in ``limit``."""
    spans = [m.span() for m in _PROTECTED.finditer(text, 0, min(len(text), limit + 2100))]
    starts = [start for start, _ in spans]

    def allowed(gap: re.Match[str]) -> bool:
        i = bisect_left(starts, gap.start()) - 1  # the last span starting before the gap
        inside = i >= 0 and gap.start() < spans[i][1]
        # keep a citation with the sentence it supports: never start a piece with "[n]"
        return not inside and not _CITATION_AHEAD.match(text, gap.end())

    floor = limit // 3
    for pattern in _BREAKS:
        for gap in reversed(list(pattern.finditer(text, floor, limit + 1))):
            if allowed(gap):
                return gap.start()
    # no clean break: cut hard, stepping back to the start of a protected span we would split
    for start, end in spans:
        if 0 < start < limit < end:
            return start
    return limit


def split_text(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters at paragraph, line, sentence or
    word boundaries, never inside a citation marker or a URL."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = max(1, _best_cut(rest, limit))
        head = rest[:cut].rstrip()
        if head:
            chunks.append(head)
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def _pack(chunks: list[str], blocks: Sequence[str], limit: int) -> list[str]:
    """Append whole ``blocks`` (lines that must stay intact) after ``chunks``, opening new
    messages when a block does not fit."""
    out = list(chunks)
    for block in blocks:
        if out and len(out[-1]) + 1 + len(block) <= limit:
            out[-1] = f"{out[-1]}\n{block}"
        elif len(block.lstrip("\n")) <= limit:
            out.append(block.lstrip("\n"))
        else:
            out.extend(split_text(block, limit))
    return out


def clip(text: str, size: int) -> str:
    """``text`` on one line, cut to ``size`` characters with "…" when longer."""
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


def source_line(citation: Citation, *, limit: int = 400) -> str:
    """``[1] Title — Publisher, 2022-05-27 <url>``; angle brackets stop Discord's link preview."""
    src = citation.source
    url = src.url.replace(">", "%3E").replace(" ", "%20") if src.url else None
    tail = f" <{url}>" if url else ""
    head = f"[{citation.number}] "
    label = clip(src.label(), max(20, limit - len(head) - len(tail)))
    return neutralize_mentions(f"{head}{label}{tail}")


def _status(text: str) -> str:
    return f"-# {text}"


def render_progress(text: str, status: str, *, limit: int = MAX_CONTENT) -> list[str]:
    """What a message shows while an answer streams: the text so far and a status line."""
    body = split_text(neutralize_mentions(text), limit)
    return _pack(body, [("\n" if body else "") + _status(status)], limit)


def render_answer(
    answer: Answer, *, final: bool, status: str = STAGE_WORDS[Stage.WRITING], limit: int = MAX_CONTENT
) -> list[str]:
    """Render an answer as message contents of at most ``limit`` characters each.

    ``final`` adds the note and the numbered sources; otherwise a status line ends the last piece.
    """
    if not final:
        return render_progress(answer.text, status, limit=limit)
    body = split_text(neutralize_mentions(answer.text), limit)
    blocks: list[str] = []
    if answer.note:
        blocks.append(("\n" if body else "") + _status(neutralize_mentions(" ".join(answer.note.split()))))
    lines = [source_line(c, limit=min(400, limit)) for c in answer.citations]
    if lines:
        first = f"\n{SOURCES_HEADER}\n{lines[0]}"
        blocks.append(first if len(first) <= limit else lines[0])
        blocks.extend(lines[1:])
    out = _pack(body, blocks, limit)
    return out or ["I have no answer to show."]


def answer_text_from_message(content: str) -> str:
    """Recover the answer text from a rendered message (status, note and sources removed)."""
    kept: list[str] = []
    for line in content.replace(ZWSP, "").splitlines():
        if line.strip() == SOURCES_HEADER:
            break
        if line.startswith("-# "):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


_STATUS_WORDS = {IngestStatus.ADDED: "new", IngestStatus.UPDATED: "updated", IngestStatus.UNCHANGED: "already there"}


def render_ingest(results: Sequence[IngestResult], *, limit: int = MAX_CONTENT, shown: int = 15) -> str:
    """``Added 2 articles:`` and one line per article: title, chunks, new/updated/already there."""
    if not results:
        return "Nothing was added: no article was found in the input."
    counts = {s: sum(1 for r in results if r.status is s) for s in IngestStatus}
    summary = ", ".join(f"{n} {_STATUS_WORDS[s]}" for s, n in counts.items() if n)
    noun = "article" if len(results) == 1 else "articles"
    head = f"**{len(results)} {noun}** ({summary}):"
    lines = []
    for r in results[:shown]:
        chunks = "chunk" if r.chunks == 1 else "chunks"
        title = clip(r.title, 150)
        lines.append(
            neutralize_mentions(f"• {title} — {r.chunks} {chunks}, {_STATUS_WORDS[r.status]} · `{r.article_id}`")
        )
    return _fit(head, lines, len(results), limit)


def _fit(head: str, lines: Sequence[str], total: int, limit: int) -> str:
    """``head`` and as many ``lines`` as fit in ``limit``, then "…and N more." for the rest."""
    out = head
    for i, line in enumerate(lines):
        rest = total - i - 1
        tail = f"\n…and {rest} more." if rest else ""
        if len(out) + 1 + len(line) + len(tail) > limit:
            return f"{out}\n…and {total - i} more."
        out = f"{out}\n{line}"
    if total > len(lines):
        out += f"\n…and {total - len(lines)} more."
    return out


def render_articles(
    items: Sequence[ArticleSummary], *, total: int, page: int, pages: int, limit: int = MAX_CONTENT
) -> str:
    """One page of ``/articles``."""
    if total == 0:
        return "This library has no articles yet. Add some with `/add`."
    if not items:
        return f"Page {page} is empty; the library has {pages} page{'s' if pages != 1 else ''}."
    head = f"**Articles** — page {page}/{pages} ({total} in all)"
    room = (limit - len(head)) // len(items) - 1  # every row fits: paging never skips one
    lines = []
    for item in items:
        src = item.source
        host = (urlsplit(src.url).hostname or "").removeprefix("www.") if src.url else ""
        prefix = f"`{src.article_id}` "
        tail = f" · {item.chunks} chunk{'s' if item.chunks != 1 else ''}" + (f" · {clip(host, 40)}" if host else "")
        label = neutralize_mentions(" ".join(src.label().split()))
        lines.append(prefix + clip(label, max(room - len(prefix) - len(tail), 8)) + tail)
    return "\n".join([head, *lines])[:limit]


def render_stats(stats: LibraryStats, *, questions: int, up: int, down: int) -> str:
    """``/stats``: articles, chunks, questions answered and 👍/👎 counts."""
    return (
        f"**Library stats**\n"
        f"Articles: {stats.articles}\n"
        f"Chunks: {stats.chunks}\n"
        f"Questions answered: {questions}\n"
        f"Feedback: 👍 {up} · 👎 {down}\n"
        f"-# Embedder: {neutralize_mentions(stats.embedder)}"
    )
