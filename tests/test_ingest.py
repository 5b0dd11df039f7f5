"""Ingestion into a real Chroma in a temp dir: identity, dedupe, updates, refusals."""

import asyncio
from datetime import date

import pytest

from retrieval.errors import InputError
from retrieval.models import Article, IngestStatus
from retrieval.settings import PROJECT_ROOT
from tests.conftest import make_service, make_settings

BODY = (
    "Acme Robotics opened a new factory in Penang on 3 March 2024. The plant employs 400 people. "
    "Chief executive Mira Tan said the site would double output by 2026."
)


def test_adding_the_same_article_twice_changes_nothing(service):
    article = Article(title="Acme opens Penang plant", body=BODY, url="https://news.example/acme?utm_source=x", published=date(2024, 3, 3))
    first = service.ingest("default", [article])[0]
    count = service.store.count("default")
    again = Article(title="Acme opens Penang plant", body=BODY, url="https://NEWS.example/acme/", published=date(2024, 3, 3))
    second = service.ingest("default", [again])[0]
    assert first.status is IngestStatus.ADDED and second.status is IngestStatus.UNCHANGED
    assert first.article_id == second.article_id
    assert service.store.count("default") == count > 0


def test_a_changed_article_replaces_its_chunks(service):
    v1 = Article(title="Acme", body=BODY, url="https://news.example/acme")
    v2 = Article(title="Acme", body=BODY.replace("400", "650") + " Production starts in May.", url="https://news.example/acme")
    service.ingest("default", [v1])
    result = service.ingest("default", [v2])[0]
    assert result.status is IngestStatus.UPDATED
    chunks = list(service.store.iter_chunks("default"))
    assert chunks and all("650" in c.text or "400" not in c.text for c, _ in chunks)
    assert {c.content_hash for c, _ in chunks} == {v2.content_hash}


def test_an_interrupted_update_is_cleaned_up_on_the_next_add(service, embedder):
    """Simulate a crash after the new version was written but before the old one was deleted."""
    v1 = Article(title="Acme", body=BODY, url="https://news.example/acme")
    v2 = Article(title="Acme", body=BODY + " Extra paragraph.", url="https://news.example/acme")
    service.ingest("default", [v1])
    new_chunks = service.ingestor.chunk(v2)
    service.store.add("default", new_chunks, embedder.embed_batch([c.embed_text for c in new_chunks]))
    assert len(service.store.versions("default", v2.id)) == 2
    assert service.ingest("default", [v2])[0].status is IngestStatus.UPDATED
    assert list(service.store.versions("default", v2.id)) == [v2.content_hash]


def test_text_without_url_is_identified_by_its_normalised_text(service):
    a = service.ingest("default", [Article(title="A", body=BODY)])[0]
    b = service.ingest("default", [Article(title="A", body="  " + BODY.replace(" ", "  ") + "\n")])[0]
    assert a.article_id == b.article_id and b.status is IngestStatus.UNCHANGED


def test_libraries_are_separate_collections(service):
    service.ingest("guild-1", [Article(title="A", body=BODY)])
    assert service.store.count("guild-1") > 0
    assert service.store.count("guild-2") == 0
    assert service.search("guild-2", "Acme Penang factory") == []


def test_seeding_adds_the_bundled_articles_once(service, tmp_path, embedder, encoding):
    assert asyncio.run(service.ensure_seeded("default")) == []  # the fixture's settings have no seed folder
    seeded = make_service(make_settings(tmp_path, seed_dir=PROJECT_ROOT / "data"), embedder, encoding)
    results = asyncio.run(seeded.ensure_seeded("default"))
    assert len(results) == 16 and all(r.status is IngestStatus.ADDED for r in results)
    assert asyncio.run(seeded.ensure_seeded("default")) == []
    seeded.close()


@pytest.mark.parametrize("name", ["", "-bad", "has space", "x" * 70, "semi;colon"])
def test_bad_library_names_are_refused(service, name):
    with pytest.raises(InputError):
        service.ingest(name, [Article(title="A", body=BODY)])


async def test_bad_input_leaves_the_store_as_it_was(service):
    service.ingest("default", [Article(title="A", body=BODY)])
    before = service.store.count("default")
    for data, name in [(b"", "empty.txt"), (b"\x00\x01\x02binary\xff" * 100, "blob.txt"), ("café".encode("latin-1"), "latin.txt"), (b"x" * (service.settings.max_article_bytes + 1), "big.txt"), (b"{}", "x.pdf")]:
        with pytest.raises(InputError):
            await service.add_file("default", name, data)
    with pytest.raises(InputError):
        await service.add_text("default", "x" * 50_000_000)
    with pytest.raises(InputError):
        await service.add_text("default", "   \n ")
    assert service.store.count("default") == before
