"""Hybrid search on the bundled articles, in a real Chroma."""

import pytest

from retrieval.models import Passage
from retrieval.search import SearchParams
from retrieval.settings import PROJECT_ROOT
from tests.conftest import make_service, make_settings


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, embedder, encoding):
    svc = make_service(make_settings(tmp_path_factory.mktemp("search"), seed_dir=PROJECT_ROOT / "data"), embedder, encoding)
    svc.ensure_seeded("default")
    yield svc
    svc.close()


def test_returns_typed_passages_with_sources(seeded):
    passages = seeded.search("default", "Who visited Biosyngen?")
    assert passages and all(isinstance(p, Passage) for p in passages)
    top = passages[0]
    assert "Biosyngen" in top.source.title and top.source.url.startswith("https://")
    assert top.source.published is not None and top.similarity is not None


def test_names_are_found_by_keyword_even_when_embeddings_miss_them(seeded):
    passages = seeded.search("default", "Loh Tuck Keat")
    assert passages, "a rare name must not be dismissed as irrelevant"
    assert "Loh Tuck Keat" in passages[0].text or "Loh" in passages[0].text
    assert "CSGKC" in " ".join(p.text for p in seeded.search("default", "CSGKC"))


def test_at_most_n_passages_per_article(seeded):
    passages = seeded.search("default", "Biosyngen", SearchParams(k=10, per_article=2, min_similarity=None))
    per_article = {}
    for p in passages:
        per_article[p.source.article_id] = per_article.get(p.source.article_id, 0) + 1
    assert max(per_article.values()) <= 2 and len(per_article) >= 3


@pytest.mark.parametrize("question", ["What is the capital of France?", "recipe for banana bread", "Who won the 2018 football world cup?"])
def test_unrelated_questions_find_nothing_relevant(seeded, question):
    assert seeded.search("default", question) == []


def test_retrieval_chooses_the_visit_article_over_the_later_biosyngen_news(seeded):
    passages = seeded.search("default", "Which consuls general came to Biosyngen and when?")
    assert "consuls" in passages[0].source.title.lower()
