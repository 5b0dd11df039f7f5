"""Turning text, HTML, JSON and files into articles, and refusing bad input with clear messages."""

from __future__ import annotations

import json
import time
from datetime import date, datetime

import pytest

from retrieval.errors import InputError
from retrieval.ingest.dates import parse_date
from retrieval.ingest.decode import SUPPORTED_EXTENSIONS, decode_text, human_size
from retrieval.ingest.extract import (
    article_from_html,
    article_from_text,
    articles_from_file,
    articles_from_json,
    articles_from_path,
    iter_article_files,
)

LIMIT = 2_000_000

ARTICLE_HTML = """<!doctype html>
<html><head>
<title>Biosyngen hosts ASEAN consuls general | Gene Daily</title>
<meta property="og:title" content="Biosyngen hosts ASEAN consuls general">
<meta property="og:site_name" content="Gene Daily">
<meta property="article:published_time" content="2022-05-27T08:00:00Z">
<link rel="canonical" href="https://genedaily.example/2022/05/biosyngen-asean">
</head><body>
<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/contact">Contact</a></nav>
<article>
<h1>Biosyngen hosts ASEAN consuls general</h1>
<p>Consuls general from several ASEAN member states toured the Guangzhou laboratories of the cell
therapy company Biosyngen on Friday, meeting its research staff and management.</p>
<p>The visitors were shown the company's T-cell therapy programmes and discussed possible
cooperation on clinical research across Southeast Asia with the firm's leadership.</p>
</article>
<footer>Copyright 2022 Gene Daily. All rights reserved.</footer>
</body></html>
"""


def refusal(func, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    return str(info.value)


# ---- parse_date -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-05-27", date(2022, 5, 27)),
        ("2022-05-27T08:00:00Z", date(2022, 5, 27)),
        ("2023-11-27T08:45:59+00:00", date(2023, 11, 27)),
        ("May 27, 2022", date(2022, 5, 27)),
        ("27 May 2022", date(2022, 5, 27)),
        ("May 27th, 2022", date(2022, 5, 27)),
        ("Sep. 5, 2022", date(2022, 9, 5)),
        ("Fri, 27 May 2022 08:00:00 GMT", date(2022, 5, 27)),
        ("2022/05/27", date(2022, 5, 27)),
        (date(2021, 1, 2), date(2021, 1, 2)),
        (datetime(2021, 1, 2, 23, 59), date(2021, 1, 2)),
        ("2022-13-40", None),
        ("last Tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


def test_human_size():
    assert human_size(50_000_000) == "50.0 MB"
    assert human_size(2_000_000) == "2.0 MB"
    assert human_size(1_500) == "1.5 KB"
    assert human_size(12) == "12 bytes"


# ---- decode_text -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t \r\n", b"\xef\xbb\xbf  \n"])
def test_decode_refuses_empty(data):
    assert "is empty" in refusal(decode_text, data, what="the file a.txt", max_bytes=LIMIT)


def test_decode_refuses_binary_with_nul_bytes():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    message = refusal(decode_text, png, what="the file photo.txt", max_bytes=LIMIT)
    assert "binary" in message and "photo.txt" in message


def test_decode_refuses_control_heavy_bytes_without_nul():
    data = b"ab\x01\x02\x03\x04cd\x05\x06" * 100
    assert "binary" in refusal(decode_text, data, what="the upload", max_bytes=LIMIT)


def test_decode_refuses_latin1_and_says_what_to_do():
    data = "Caf\u00e9 Society reports record sales".encode("latin-1")
    message = refusal(decode_text, data, what="the file news.txt", max_bytes=LIMIT)
    assert "not UTF-8" in message and "position 3" in message and "UTF-8 encoding" in message


def test_decode_refuses_utf16():
    data = "Acme reports record sales".encode("utf-16")
    assert "UTF-16" in refusal(decode_text, data, what="the file news.txt", max_bytes=LIMIT)


def test_decode_accepts_utf8_with_bom():
    assert decode_text("\ufeffCaf\u00e9 news".encode("utf-8"), what="x", max_bytes=LIMIT) == "Caf\u00e9 news"


def test_decode_refuses_50_mb_quickly_with_sizes_in_message():
    data = b"a" * 50_000_000
    start = time.perf_counter()
    message = refusal(decode_text, data, what="the file huge.txt", max_bytes=LIMIT)
    assert time.perf_counter() - start < 0.5
    assert "50.0 MB is over the 2.0 MB limit" in message


# ---- article_from_text ---------------------------------------------------------------------------


def test_text_paste_of_50_mb_is_refused_quickly():
    text = "word " * 10_000_000
    start = time.perf_counter()
    message = refusal(article_from_text, text, max_bytes=LIMIT)
    assert time.perf_counter() - start < 1.0
    assert "50.0 MB is over the 2.0 MB limit" in message


@pytest.mark.parametrize("text", ["", "   ", "\n\r\n\t  \n"])
def test_text_refuses_empty(text):
    assert "empty" in refusal(article_from_text, text, max_bytes=LIMIT)


def test_text_title_from_short_first_line_which_leaves_the_body():
    text = "Acme buys Widget Co\r\n\r\n\r\n\r\nAcme agreed to buy Widget Co.  \r\nThe deal closes in May.\r\n\r\nMore."
    article = article_from_text(text, max_bytes=LIMIT)
    assert article.title == "Acme buys Widget Co"
    assert article.body == "Acme agreed to buy Widget Co.\nThe deal closes in May.\n\nMore."


def test_text_title_falls_back_to_first_words_when_first_line_is_long():
    first = "Acme Corporation said on Friday that it had agreed to buy " + "the rival firm " * 20
    article = article_from_text(first + "\n\nSecond paragraph.", max_bytes=LIMIT)
    assert article.title == "Acme Corporation said on Friday that it had…"
    assert article.body.startswith("Acme Corporation said on Friday")
    assert article.body.endswith("Second paragraph.")


def test_text_of_one_line_keeps_it_as_the_body():
    article = article_from_text("Acme bought Widget Co for two billion dollars.", max_bytes=LIMIT)
    assert article.body == "Acme bought Widget Co for two billion dollars."
    assert article.title == "Acme bought Widget Co for two billion dollars."


def test_text_given_metadata_is_used():
    article = article_from_text(
        "Line one\n\nLine two", title="  Real   title ", url="https://x.example/a", publisher="Wire",
        published="May 27, 2022", max_bytes=LIMIT,
    )
    assert (article.title, article.body) == ("Real title", "Line one\n\nLine two")
    assert (article.url, article.publisher, article.published) == ("https://x.example/a", "Wire", date(2022, 5, 27))


# ---- article_from_html ---------------------------------------------------------------------------


def test_html_extracts_text_title_date_and_site_name():
    article = article_from_html(ARTICLE_HTML, url="https://genedaily.example/a", max_bytes=LIMIT)
    assert article.title == "Biosyngen hosts ASEAN consuls general"
    assert article.publisher == "Gene Daily"
    assert article.published == date(2022, 5, 27)
    assert article.url == "https://genedaily.example/a"
    assert "Guangzhou laboratories" in article.body and "\n\n" in article.body
    assert not article.body.startswith("Biosyngen hosts")  # the headline is not repeated in the body
    assert "All rights reserved" not in article.body and "About us" not in article.body


def test_html_overrides_win_and_saved_page_uses_canonical_link():
    article = article_from_html(ARTICLE_HTML, url=None, max_bytes=LIMIT, title="Mine", publisher="Me",
                                published="2020-01-02")
    assert (article.title, article.publisher, article.published) == ("Mine", "Me", date(2020, 1, 2))
    assert article.url == "https://genedaily.example/2022/05/biosyngen-asean"


@pytest.mark.parametrize(
    "html", ["", "<html><body></body></html>", "<html><body><nav><a href='/'>Home</a></nav></body></html>"]
)
def test_html_without_article_text_is_refused(html):
    assert "no article text found" in refusal(article_from_html, html, url=None, max_bytes=LIMIT).lower()


# ---- articles_from_json --------------------------------------------------------------------------


def test_json_single_object():
    data = {"title": "Acme results", "url": "https://n.example/1", "published_at": "2023-11-27T08:45:59+00:00",
            "source": "Wire", "body": "Acme's revenue rose."}
    [article] = articles_from_json(json.dumps(data), max_bytes=LIMIT)
    assert article.title == "Acme results" and article.body == "Acme's revenue rose."
    assert (article.url, article.publisher, article.published) == ("https://n.example/1", "Wire", date(2023, 11, 27))


def test_json_list_with_aliases_from_bytes():
    items = [
        {"title": "One", "text": "First body.", "publisher": "P1", "date": "May 1, 2022"},
        {"content": "Untitled second article\n\nIts body.", "published": "2022-06-02"},
    ]
    articles = articles_from_json(json.dumps(items).encode(), max_bytes=LIMIT)
    assert [a.title for a in articles] == ["One", "Untitled second article"]
    assert [a.body for a in articles] == ["First body.", "Its body."]
    assert [a.publisher for a in articles] == ["P1", None]
    assert [a.published for a in articles] == [date(2022, 5, 1), date(2022, 6, 2)]


def test_json_invalid_reports_line_and_column():
    message = refusal(articles_from_json, '[\n  {"title": "x",\n   "body": }\n]', max_bytes=LIMIT)
    assert "not valid JSON" in message and "line 3" in message and "column 12" in message


@pytest.mark.parametrize("bad_item", [{"title": "No body"}, {"title": "Blank", "body": "  "}])
def test_json_missing_body_names_the_item(bad_item):
    items = [{"title": "Fine", "body": "Fine body."}, bad_item]
    message = refusal(articles_from_json, json.dumps(items), max_bytes=LIMIT)
    assert "index 1" in message and "'body'" in message


@pytest.mark.parametrize("data", ["[]", '["just a string"]', '{"title": "x", "body": ["a", "b"]}'])
def test_json_other_shapes_are_refused(data):
    refusal(articles_from_json, data, max_bytes=LIMIT)


# ---- files and folders ---------------------------------------------------------------------------


def test_markdown_heading_is_the_title():
    [article] = articles_from_file("note.md", b"# Acme opens a lab\n\nAcme opened a lab in Lyon.\n", max_bytes=LIMIT)
    assert (article.title, article.body) == ("Acme opens a lab", "Acme opened a lab in Lyon.")


def test_text_file_with_overrides():
    [article] = articles_from_file("a.txt", b"Headline\n\nBody.", max_bytes=LIMIT, publisher="Wire",
                                   published="2022-05-27")
    assert (article.title, article.body, article.publisher) == ("Headline", "Body.", "Wire")
    assert article.published == date(2022, 5, 27)


def test_html_file_is_extracted():
    [article] = articles_from_file("saved.HTM", ARTICLE_HTML.encode(), max_bytes=LIMIT)
    assert article.title == "Biosyngen hosts ASEAN consuls general" and "Guangzhou" in article.body


def test_json_file_overrides_apply_only_when_given():
    data = json.dumps([{"title": "A", "body": "a", "source": "S"}, {"title": "B", "body": "b"}]).encode()
    plain = articles_from_file("batch.json", data, max_bytes=LIMIT)
    assert [(a.title, a.publisher) for a in plain] == [("A", "S"), ("B", None)]
    forced = articles_from_file("batch.json", data, max_bytes=LIMIT, publisher="Forced")
    assert [(a.title, a.publisher) for a in forced] == [("A", "Forced"), ("B", "Forced")]


@pytest.mark.parametrize("name", ["report.odt", "photo.png", "README"])
def test_unsupported_file_type_lists_supported_ones(name):
    message = refusal(articles_from_file, name, b"whatever", max_bytes=LIMIT)
    assert all(ext in message for ext in SUPPORTED_EXTENSIONS)


def test_binary_file_with_text_extension_is_refused():
    assert "binary" in refusal(articles_from_file, "x.txt", b"\x00\x01\x02" * 50, max_bytes=LIMIT)


def test_path_reads_file_and_refuses_big_file_before_reading(tmp_path):
    good = tmp_path / "news.txt"
    good.write_text("Acme hires\n\nAcme hired 50 people.", encoding="utf-8")
    [article] = articles_from_path(good, max_bytes=LIMIT)
    assert article.title == "Acme hires"
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(50_000_000)  # sparse: refused from its size, never read
    start = time.perf_counter()
    assert "50.0 MB is over the 2.0 MB limit" in refusal(articles_from_path, huge, max_bytes=LIMIT)
    assert time.perf_counter() - start < 0.5


def test_path_refuses_missing_file_and_folder(tmp_path):
    assert "no file" in refusal(articles_from_path, tmp_path / "gone.txt", max_bytes=LIMIT)
    assert "folder" in refusal(articles_from_path, tmp_path, max_bytes=LIMIT)


def test_iter_article_files_sorted_supported_and_not_hidden(tmp_path):
    for rel in ["b.txt", "a.md", "c.pdf", "c.odt", ".hidden.txt", ".git/x.txt", "sub/d.json", "sub/e.HTML", "z.htm"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_article_files(tmp_path)]
    assert found == ["a.md", "b.txt", "c.pdf", "sub/d.json", "sub/e.HTML", "z.htm"]
    refusal(iter_article_files, tmp_path / "b.txt")


def test_a_folder_readme_is_not_an_article(tmp_path):
    (tmp_path / "README.md").write_text("# About these files\n\nNotes for maintainers.")
    (tmp_path / "story.txt").write_text("Acme opens a plant\n\nAcme opened a plant in Penang on Monday.")
    assert [p.name for p in iter_article_files(tmp_path)] == ["story.txt"]
