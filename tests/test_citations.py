from __future__ import annotations

import pytest

from retrieval.answer.citations import NOT_FOUND, number_sources, parse_citations, renumber, resolve_citations, strip_citations
from retrieval.models import Passage, Source


def _source(n: int) -> Source:
    return Source(article_id=f"a{n}", title=f"Article {n}")


def _passage(article: int, position: int, score: float = 1.0) -> Passage:
    return Passage(chunk_id=f"a{article}:{position}", source=_source(article), position=position, text="t", score=score)


@pytest.mark.parametrize(
    ("raw", "valid", "text", "cited"),
    [
        ("Biosyngen hosted the visit [1].", {1}, "Biosyngen hosted the visit [1].", [1]),
        ("Two sources agree [1, 2].", {1, 2}, "Two sources agree [1][2].", [1, 2]),
        ("Two sources agree [2][1].", {1, 2}, "Two sources agree [2][1].", [2, 1]),
        ("A range [1-3].", {1, 2, 3}, "A range [1][2][3].", [1, 2, 3]),
        ("An en dash range [2–3].", {1, 2, 3}, "An en dash range [2][3].", [2, 3]),
        ("Invented source [7].", {1, 2}, "Invented source.", []),
        ("Mixed [1, 7] then [7][2].", {1, 2}, "Mixed [1] then [2].", [1, 2]),
        ("Dropped mid-sentence [9] and more [1].", {1}, "Dropped mid-sentence and more [1].", [1]),
        ("Spelled out [Source 2] works.", {2}, "Spelled out [2] works.", [2]),
        ("Repeated [1][1] once [1, 1].", {1}, "Repeated [1] once [1].", [1]),
        ("No citations at all.", {1}, "No citations at all.", []),
        ("Years like [2021] are not sources [1].", {1}, "Years like are not sources [1].", [1]),
        ("Absurd range [1-99999].", {1}, "Absurd range [1].", [1]),
        ("Not numbers [a] stay [1].", {1}, "Not numbers [a] stay [1].", [1]),
    ],
)
def test_parse_citations(raw: str, valid: set[int], text: str, cited: list[int]) -> None:
    assert parse_citations(raw, valid) == (text, cited)


def test_first_use_order_counts_across_sentences() -> None:
    _, cited = parse_citations("First [3]. Second [1][3]. Third [2].", {1, 2, 3})
    assert cited == [3, 1, 2]


def test_renumber_follows_first_use() -> None:
    assert renumber("A [3]. B [1][3]. C [2].", [3, 1, 2]) == "A [1]. B [2][1]. C [3]."


def test_resolve_citations_drops_invented_and_renumbers_without_gaps() -> None:
    sources = {1: _source(1), 2: _source(2), 3: _source(3)}
    text, citations = resolve_citations("Fact from three [3]. Made up [9]. Fact from one [1].", sources)
    assert text == "Fact from three [1]. Made up. Fact from one [2]."
    assert [(c.number, c.source.article_id) for c in citations] == [(1, "a3"), (2, "a1")]


def test_resolve_citations_with_nothing_valid() -> None:
    text, citations = resolve_citations("PWNED @everyone [5]", {1: _source(1)})
    assert citations == ()
    assert text == "PWNED @everyone"


def test_number_sources_one_number_per_article_in_rank_order() -> None:
    passages = [_passage(2, 5), _passage(1, 0), _passage(2, 1), _passage(3, 2), _passage(1, 4)]
    numbered = number_sources(passages)
    assert [(n, s.article_id, [p.position for p in ps]) for n, s, ps in numbered] == [
        (1, "a2", [5, 1]),
        (2, "a1", [0, 4]),
        (3, "a3", [2]),
    ]


def test_strip_citations() -> None:
    assert strip_citations("It happened [1][2]. Then more [3, 4].") == "It happened. Then more."


def test_not_found_is_one_sentence() -> None:
    assert NOT_FOUND.endswith(".") and NOT_FOUND.count(".") == 1
