"""Words of questions and passages: tokenising, light stemming, stopwords, coverage, month names.

Two vocabularies live here. The keyword index and search cut text into ``tokens`` (stemmed) and
questions into ``query_terms`` (without ``STOPWORDS``). The extractive answer weighs sentences
against a question with its own, different choices (``sentence_words``, ``content_words`` without
``ANSWER_STOPWORDS``, ``prefix_stem``): changing either vocabulary would change rankings or
answers, so they are kept apart on purpose."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

_TOKEN = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)


_UNDOUBLE = re.compile(r"([bdfgkmnprt])\1$")


@lru_cache(maxsize=200_000)  # news reuses its words: stemming each distinct word once halves indexing time
def stem(word: str) -> str:
    """Light English stemming, so inflections meet: plurals, possessives, -ed, -ing and a final
    -e go (``turbines``, ``turbine`` -> ``turbin``; ``shipped`` -> ``ship``; ``stories`` -> ``story``)."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")) and len(word) > 5:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = _UNDOUBLE.sub(r"\1", word[: -len(suffix)])
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` (the unit both documents and questions are cut into)."""
    return [stem(w) for w in _TOKEN.findall(text.lower())]


def term_counts(text: str, skip: frozenset[str] = frozenset()) -> tuple[Counter[str], int]:
    """Counts of the words worth indexing, and the length of ``text`` in words (for BM25's norm)."""
    words = tokens(text)
    return Counter(w for w in words if w not in skip), len(words)


_WORD = re.compile(r"[\w][\w'’.-]*[\w]|[\w]", re.UNICODE)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    did does tell said says say according report reported reports article articles news also per via""".split()
)


def query_terms(text: str) -> list[str]:
    """Content words of a question, lower-cased, without stopwords or duplicates."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        word = word.strip("'’.-")
        if word and word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


def term_coverage(terms: Sequence[str], text: str) -> float:
    """Share of ``terms`` whose words all occur in ``text`` (stemmed), 0.0 when there are no terms."""
    if not terms:
        return 0.0
    words = set(tokens(text))
    return sum(1 for t in terms if all(w in words for w in tokens(t))) / len(terms)


MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


# -- the extractive answer's words -------------------------------------------------------------
_SENTENCE_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
ANSWER_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on
    once only or other our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours tell say said says also did does anything something know""".split()
)


def sentence_words(text: str) -> list[str]:
    """The words of a sentence as written (letters and digits, inner apostrophes kept)."""
    return _SENTENCE_WORD.findall(text)


def content_words(text: str) -> list[str]:
    """Lower-cased ``sentence_words`` without ``ANSWER_STOPWORDS``, a final 's dropped."""
    out = []
    for word in sentence_words(text):
        low = re.sub(r"['’]s$", "", word.lower())
        if low not in ANSWER_STOPWORDS and (len(low) > 1 or low.isdigit()):
            out.append(low)
    return out


def prefix_stem(word: str) -> str:
    """Crude stem for half-credit matches: "industries" ~ "industrial", "visited" ~ "visitors"."""
    return word[:5] if len(word) > 5 else word
