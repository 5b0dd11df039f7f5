"""The parsed question every search stage reads (pure: no library, no model)."""

import pytest

from retrieval.search import Question
from retrieval.search.question import MIN_FOCUS_TERMS, Words
from retrieval.text.terms import query_terms, tokens

PUBLISHERS = ["TechCrunch", "The Verge", "Fortune", "The Age"]


def test_terms_and_stems_are_cut_once_in_question_order():
    q = Question.parse("Did TechCrunch's turbines story say the turbine shipped to e-commerce firms?")
    assert q.text == "Did TechCrunch's turbines story say the turbine shipped to e-commerce firms?"
    assert q.terms == ("techcrunch's", "turbines", "story", "turbine", "shipped", "e-commerce", "firms")
    assert q.words.term_stems == (
        ("techcrunch",), ("turbin",), ("story",), ("turbin",), ("ship",), ("e", "commerc"), ("firm",))
    # a stem two terms share is there twice: it weighs twice in the keyword search, as it always has
    assert q.stems == ("techcrunch", "turbin", "story", "turbin", "ship", "e", "commerc", "firm")
    assert q.terms == tuple(query_terms(q.text)) and q.stems == tuple(s for t in q.terms for s in tokens(t))


def test_the_question_is_a_frozen_value():
    q = Question.parse("Who visited Biosyngen?")
    with pytest.raises(AttributeError):
        q.words = Words.of("something else")  # type: ignore[misc]
    assert q == Question.parse("Who visited Biosyngen?") and hash(q) == hash(Question.parse("Who visited Biosyngen?"))


def test_clauses_are_the_parts_of_a_question_with_content_words():
    question = ("Which company, covered by TechCrunch, is accused of harming news publishers' revenues "
                "and plans no further measures for YouTube, while The Verge reports its search deals?")
    clauses = Question.parse(question).clauses
    assert [c.text for c in clauses] == [
        "covered by TechCrunch",
        "is accused of harming news publishers' revenues",
        "plans no further measures for YouTube",
        "The Verge reports its search deals",
    ]
    assert clauses[1].terms == ("accused", "harming", "publishers", "revenues")  # "news" is a stopword
    assert clauses[1].stems == ("accus", "harm", "publisher", "revenu")
    assert [c.text for c in Question.parse("Who visited Biosyngen?").clauses] == ["Who visited Biosyngen"]
    # no clause has two content words: the whole question is the one clause
    assert Question.parse("Who?").clauses == (Question.parse("Who?").words,)


def test_a_question_names_no_source_until_read_against_a_library():
    text = "Did TechCrunch say the board acted alone, while Fortune said investors were surprised?"
    assert Question.parse(text).sources == ()
    assert Question.parse(text).with_sources([], []).sources == ()  # a library without publishers


def test_named_sources_carry_their_part_of_the_question_into_their_sub_search():
    text = ("Did the TechCrunch report published on November 18, 2023 say the board acted alone, "
            "while Fortune said investors were surprised, as reported by The Age?")
    q = Question.parse(text).with_sources(PUBLISHERS, [20231118])
    assert [(s.publishers, s.days) for s in q.sources] == [(("TechCrunch",), (20231118,)), (("Fortune",), ()),
                                                          (("The Age",), ())]
    techcrunch = q.sources[0]
    assert techcrunch.focus.text == "report published on November 18, 2023 say the board acted alone"
    # its sub-search: the whole question's stems, then those of its part
    assert techcrunch.stems == (*q.stems, *techcrunch.focus.stems)
    assert techcrunch.focus.stems[:3] == ("publish", "november", "18")
    assert q.words == Question.parse(text).words  # reading the library changes nothing else


def test_a_short_part_about_a_source_does_not_weigh_in_its_sub_search():
    q = Question.parse("What did The Verge report?").with_sources(PUBLISHERS, [])
    (verge,) = q.sources
    assert len(verge.focus.terms) < MIN_FOCUS_TERMS and verge.stems == q.stems


def test_a_day_no_publisher_claims_is_a_source_of_its_own():
    q = Question.parse("What happened on November 18, 2023 at OpenAI?").with_sources(PUBLISHERS, [20231118])
    assert [(s.publishers, s.days, s.focus.text) for s in q.sources] == [((), (20231118,), "")]
    assert q.sources[0].stems == q.stems
