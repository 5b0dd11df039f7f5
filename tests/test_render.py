"""bot.render: Discord-sized pieces, clean splits, sources, neutralised mentions."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest

from bot.render import (
    MAX_CONTENT,
    SOURCES_HEADER,
    ZWSP,
    answer_text_from_message,
    neutralize_mentions,
    render_answer,
    render_articles,
    render_ingest,
    render_progress,
    render_stats,
    source_line,
    split_text,
    status_text,
)
from retrieval.answer.answerer import AnswerStatus, Stage
from retrieval.models import (
    Answer,
    AnswerMode,
    ArticleSummary,
    Citation,
    IngestResult,
    IngestStatus,
    LibraryStats,
    Source,
)

CITATION = re.compile(r"\[\d+(?:, \d+)*\]")
URL = re.compile(r"https?://[^\s>]+")
WORDS = "the consuls general of ASEAN visited Biosyngen in Guangzhou to discuss cell therapy and cooperation".split()


def source(n: int, **kw: object) -> Source:
    values: dict[str, object] = {
        "article_id": f"u{n:015d}",
        "title": f"Article number {n}",
        "publisher": "GeneOnline",
        "url": f"https://news.example.com/2022/05/{n}/story",
        "published": date(2022, 5, 27),
    }
    values.update(kw)
    return Source(**values)  # type: ignore[arg-type]


def long_text(seed: int, sentences: int) -> str:
    rng = random.Random(seed)
    out = []
    for i in range(sentences):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30)))
        cite = rng.choice(["[1]", "[2]", "[1, 2]", "[12]", ""])
        url = rng.choice(["", f" (see https://example.org/path/{i}?q={'x' * rng.randint(1, 60)})"])
        sep = rng.choice([" ", " ", "\n", "\n\n"])
        out.append(f"{words.capitalize()}{url} {cite}.{sep}")
    return "".join(out)


def test_source_line_format_and_no_preview() -> None:
    line = source_line(Citation(1, source(1, title="Biosyngen hosts ASEAN consuls")))
    assert (
        line == "[1] Biosyngen hosts ASEAN consuls — GeneOnline, 2022-05-27 <https://news.example.com/2022/05/1/story>"
    )
    bare = source_line(Citation(3, source(3, publisher=None, url=None, published=None)))
    assert bare == "[3] Article number 3"


@pytest.mark.parametrize("seed", range(12))
def test_split_keeps_citations_and_urls_whole(seed: int) -> None:
    text = long_text(seed, 160)
    chunks = split_text(text, 500)
    assert len(chunks) > 3
    assert all(0 < len(c) <= 500 for c in chunks)
    assert [m.group() for c in chunks for m in CITATION.finditer(c)] == CITATION.findall(text)
    assert [m.group() for c in chunks for m in URL.finditer(c)] == URL.findall(text)
    assert all(not re.match(r"\s*\[\d", c) for c in chunks), "a piece starts with a citation"
    # nothing is lost but whitespace at the cuts
    assert "".join("".join(chunks).split()) == "".join(text.split())


def test_split_prefers_paragraphs() -> None:
    para = ("word " * 150).strip() + "."
    text = "\n\n".join([para] * 4)
    chunks = split_text(text, 2000)
    assert chunks == [f"{para}\n\n{para}", f"{para}\n\n{para}"]


def test_split_without_spaces_is_hard_but_bounded() -> None:
    text = "x" * 4500
    assert [len(c) for c in split_text(text, 2000)] == [2000, 2000, 500]


def test_split_steps_back_before_a_url_that_would_be_cut() -> None:
    text = "a" * 1990 + "https://example.com/" + "b" * 100
    chunks = split_text(text, 2000)
    assert chunks[0] == "a" * 1990
    assert chunks[1].startswith("https://example.com/")


def test_neutralize_mentions() -> None:
    text = "Hi @everyone and @HERE, ping <@123> <@!456> <@&789> but keep email a@here.com? no"
    out = neutralize_mentions(text)
    assert "@everyone" not in out and "@HERE" not in out
    assert "<@1" not in out and "<@!" not in out and "<@&" not in out
    assert out.replace(ZWSP, "") == text


def test_final_answer_has_note_and_sources() -> None:
    answer = Answer(
        text="ASEAN consuls visited Biosyngen on 27 May 2022 [1]. They discussed cooperation [2].",
        citations=(Citation(1, source(1)), Citation(2, source(2, url=None))),
        mode=AnswerMode.EXTRACTIVE,
        note="The language model is unavailable right now, so this answer quotes the articles directly.",
    )
    (content,) = render_answer(answer, final=True)
    body, sources = content.split(SOURCES_HEADER)
    assert body.startswith(answer.text)
    assert "-# The language model is unavailable" in body
    assert sources.strip().splitlines() == [source_line(c) for c in answer.citations]
    assert answer_text_from_message(content) == answer.text


def test_streaming_render_shows_status_not_sources() -> None:
    answer = Answer(text="Partial text [1", citations=(Citation(1, source(1)),), mode=AnswerMode.LLM)
    (content,) = render_answer(answer, final=False, status="Writing the answer…")
    assert content.endswith("-# Writing the answer…") and SOURCES_HEADER not in content
    assert render_progress("", "Searching the articles…") == ["-# Searching the articles…"]


def test_mentions_neutralised_in_answer_and_titles() -> None:
    answer = Answer(
        text="@everyone look <@42>",
        citations=(Citation(1, source(1, title="Big news @here <@&7>")),),
        mode=AnswerMode.LLM,
    )
    content = "\n".join(render_answer(answer, final=True))
    assert not re.search(r"@(everyone|here)|<@[!&]?\d", content)


@pytest.mark.parametrize("body_len", [1500, 1990, 2600, 7000])
def test_long_answer_with_many_sources_fits_every_limit(body_len: int) -> None:
    text = long_text(body_len, 400)[:body_len].rstrip()
    cites = tuple(
        Citation(n, source(n, title=f"A rather long headline about item {n} " + "x" * 120)) for n in range(1, 16)
    )
    answer = Answer(text=text, citations=cites, mode=AnswerMode.LLM, note="note")
    chunks = render_answer(answer, final=True)
    assert all(len(c) <= MAX_CONTENT for c in chunks)
    lines = [line for c in chunks for line in c.splitlines()]
    for c in cites:  # every source line whole, on one line, in order
        assert source_line(c) in lines
    joined = "\n".join(chunks)
    assert joined.index(SOURCES_HEADER) < joined.index(source_line(cites[0]))
    header_chunk = next(c for c in chunks if SOURCES_HEADER in c)
    assert not header_chunk.rstrip().endswith(SOURCES_HEADER), "header separated from its first source"
    assert "".join(answer_text_from_message("\n".join(chunks)).split()).startswith("".join(text.split())[:500])


def test_huge_title_is_clipped_to_fit() -> None:
    line = source_line(Citation(1, source(1, title="T" * 5000)))
    assert len(line) <= 400 and line.endswith("<https://news.example.com/2022/05/1/story>")


def test_render_ingest_words() -> None:
    results = [
        IngestResult("u1", "First", IngestStatus.ADDED, 3),
        IngestResult("u2", "Second", IngestStatus.UPDATED, 1),
        IngestResult("u3", "Third @everyone", IngestStatus.UNCHANGED, 2),
    ]
    text = render_ingest(results)
    assert "3 articles" in text and "1 new, 1 updated, 1 already there" in text
    assert "First — 3 chunks, new" in text and "Second — 1 chunk, updated" in text
    assert "@everyone" not in text
    many = render_ingest([IngestResult(f"u{i}", "x" * 200, IngestStatus.ADDED, 1) for i in range(200)])
    assert len(many) <= MAX_CONTENT and "more." in many


def test_render_articles_and_stats() -> None:
    items = [ArticleSummary(source(1), 4), ArticleSummary(source(2, url=None), 2)]
    page = render_articles(items, total=12, page=2, pages=2)
    assert "page 2/2 (12 in all)" in page and "`u000000000000001`" in page and "4 chunks" in page
    assert "no articles" in render_articles([], total=0, page=1, pages=1)
    stats = render_stats(LibraryStats("guild-1", 3, 17, "minilm"), questions=5, up=2, down=1)
    assert "Articles: 3" in stats and "Chunks: 17" in stats and "Questions answered: 5" in stats
    assert "👍 2" in stats and "👎 1" in stats


def test_a_full_page_of_long_articles_shows_every_row() -> None:
    items = [
        ArticleSummary(
            source(
                n,
                title="A headline that goes on and on " * 8,
                publisher="P" * 80,
                url=f"https://www.very-long-host-name-{n}.example.com/{'p' * 300}",
            ),
            12,
        )
        for n in range(10)
    ]
    page = render_articles(items, total=25, page=1, pages=3)
    assert len(page) <= MAX_CONTENT
    rows = page.splitlines()[1:]
    assert [r.split("`")[1] for r in rows] == [i.source.article_id for i in items]
    assert all(r.endswith("· 12 chunks · very-long-host-name-%d.example.com" % n) for n, r in enumerate(rows))


def test_each_stage_has_its_words_and_a_retry_says_why_and_which() -> None:
    assert status_text(AnswerStatus(Stage.SEARCHING)) == "Searching the articles…"
    assert status_text(AnswerStatus(Stage.WRITING)) == "Writing the answer…"
    assert status_text(AnswerStatus(Stage.QUOTING)) == "Quoting the articles…"
    retry = [status_text(AnswerStatus(Stage.RETRYING, reason, 1, 3)) for reason in ("rate limited", "timed out", "broken reply")]
    assert retry == [
        "The model is busy, retrying (1/3)…",
        "The model is slow to answer, retrying (1/3)…",
        "The model's reply failed, retrying (1/3)…",
    ]
