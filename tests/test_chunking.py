import asyncio
from datetime import date

from retrieval.models import Article
from retrieval.service import NewsService
from retrieval.settings import PROJECT_ROOT
from retrieval.text.chunking import chunk_article, split_sentences


def test_sentences_keep_abbreviations_together():
    text = "On 27 May, Mr. Loh Tuck Keat visited Singapore Biosyngen Pte. Ltd. in Guangzhou. Dr. Han spoke. Then lunch."
    assert split_sentences(text) == [
        "On 27 May, Mr. Loh Tuck Keat visited Singapore Biosyngen Pte. Ltd. in Guangzhou.",
        "Dr. Han spoke.",
        "Then lunch.",
    ]


def test_chunks_are_token_bounded_end_on_sentences_and_overlap(encoding):
    sentences = [f"Sentence number {i} says that the company shipped {i * 7} units to customers." for i in range(60)]
    article = Article(title="Shipments", body=" ".join(sentences), url="https://example.com/a", publisher="Wire", published=date(2024, 1, 2))
    chunks = chunk_article(article, encoding=encoding, max_tokens=80, overlap_tokens=20)
    assert len(chunks) > 5
    for chunk in chunks:
        assert len(encoding.encode(chunk.text)) <= 80
        assert chunk.text.endswith(".")
        assert chunk.source == article.source
    assert [c.position for c in chunks] == list(range(len(chunks)))
    # consecutive chunks share their boundary sentence(s)
    for a, b in zip(chunks, chunks[1:]):
        assert a.text.split(". ")[-1].rstrip(".") in b.text
    assert len({c.id for c in chunks}) == len(chunks)


def test_a_sentence_longer_than_the_budget_is_cut_by_tokens(encoding):
    article = Article(title="Run-on", body="word " * 1000)
    chunks = chunk_article(article, encoding=encoding, max_tokens=100, overlap_tokens=10)
    assert all(len(encoding.encode(c.text)) <= 100 for c in chunks)
    assert sum(c.text.count("word") for c in chunks) >= 1000


def test_no_chunk_exceeds_the_embedding_window(service: NewsService, embedder):
    """all-MiniLM-L6-v2 silently truncates past 256 word-pieces: every chunk must fit, titles included."""
    articles = asyncio.run(service.read_paths([PROJECT_ROOT / "data"]))
    hostile = [
        Article(title="数字 " * 30, body="中国广州的生物科技公司在2022年5月27日接待了东盟国家的总领事。" * 80),
        Article(title="Figures", body=" ".join(f"{i:,}.{i % 97}%" for i in range(3000))),
        Article(title="Identifiers", body=" ".join(f"SKU-{i:08x}-QX{i * 31 % 1000:03d}" for i in range(2000))),
    ]
    checked = 0
    for article in articles + hostile:
        for chunk in service.ingestor.chunk(article):
            assert embedder.count_tokens(chunk.embed_text) <= embedder.max_tokens, chunk.text[:80]
            checked += 1
    assert checked > 40
