"""Reading publishers, days and parts out of questions (pure functions, no model)."""

from retrieval.search.hints import SourceHint, find_days, find_publishers, name_variants, source_hints

PUBLISHERS = [
    "TechCrunch",
    "The Verge",
    "Fortune",
    "The Age",
    "Cnbc | World Business News Leader",
    "The Independent - Life and Style",
    "The Independent - Sports",
]


def test_short_names_of_long_publisher_names():
    assert name_variants("Cnbc | World Business News Leader") == {"Cnbc | World Business News Leader", "Cnbc"}
    assert "The Independent" in name_variants("The Independent - Sports")


def test_publishers_are_found_longest_first_and_only_as_proper_names():
    q = "Did The Independent - Life and Style agree with CNBC, unlike the age of the reports in The Independent?"
    found = [pubs for _, _, pubs in find_publishers(q, PUBLISHERS)]
    assert found == [
        ("The Independent - Life and Style",),
        ("Cnbc | World Business News Leader",),
        ("The Independent - Life and Style", "The Independent - Sports"),
    ]
    assert find_publishers("a fortune was made in the age of steam", PUBLISHERS) == []


def test_days_with_and_without_a_year():
    known = [20231005, 20221005, 20231118]
    assert [d for _, d in find_days("published on October 5th, 2023 and on 2023-11-18", known)] == [(20231005,), (20231118,)]
    assert find_days("the report of October 5", known)[0][1] == (20221005, 20231005)
    assert find_days("on May 40 or in May", known) == []  # no such day; a month alone names no day


def test_a_publisher_takes_the_day_after_it_and_the_part_it_belongs_to():
    q = ("Did the TechCrunch report published on November 18, 2023 say the board acted alone, "
         "while Fortune said investors were surprised, as reported by The Age?")
    hints = source_hints(q, PUBLISHERS, [20231118])
    assert hints[0] == SourceHint(("TechCrunch",), (20231118,), "report published on November 18, 2023 say the board acted alone")
    assert hints[1].publishers == ("Fortune",) and hints[1].focus.startswith("said investors were surprised")
    # a name that closes its part takes the words back to the previous name or break
    assert hints[2].publishers == ("The Age",) and hints[2].focus == "said investors were surprised, as reported by"


def test_a_day_no_publisher_claims_is_a_hint_of_its_own():
    hints = source_hints("What happened on November 18, 2023 at OpenAI?", PUBLISHERS, [20231118])
    assert hints == [SourceHint((), (20231118,), "")]

