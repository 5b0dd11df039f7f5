"""PDF and Word (.docx) press releases: read from files, folders, `newsbot add` and `/add file:`;
scanned, encrypted and broken files refused with one line, nothing stored. Every fixture is made here."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from retrieval.errors import InputError
from retrieval.ingest.extract import articles_from_file, iter_article_files
from retrieval.models import IngestStatus
from tests.bot_fixtures import ALICE, CHAN_A, GUILD_A, LIB_A, bot_settings, content_of, ephemeral_text, running_bot
from tests.processes import newsbot, user_env

LIMIT = 2_000_000
HEADLINE = "Biosyngen hosts ASEAN consuls general in Guangzhou"
BODY = [
    "Consuls general from six ASEAN countries toured the Guangzhou site of Biosyngen on 27 May 2022.",
    "The visitors heard how the company develops cell therapies against solid tumours.",
]
SCANNED = "scan.pdf has no text layer (a scanned image?); paste the text or use an OCR'd PDF."


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(lines: list[str], title: str | None = None) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, one per line); ``title``: its /Title."""
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 750 Td", *(f"({_escape(line)}) Tj T*" for line in lines), "ET"]
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title is not None:
        objects.append(b"<< /Title (" + _escape(title).encode("latin-1") + b") >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title is not None else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


def blank_pdf(password: str | None = None) -> bytes:
    """One empty page (what a scan without OCR looks like to a text reader); encrypted with ``password``."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def word_file(paragraphs: list[tuple[str | None, str]], *, title: str | None = None, table: bool = False) -> bytes:
    """A .docx of (style, text) paragraphs (style None: Normal), optionally a two-column table."""
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    for style, text in paragraphs:
        document.add_paragraph(text, style=style)
    if table:
        grid = document.add_table(rows=2, cols=2)
        for r, row in enumerate([("Visitors", "6 consuls general"), ("Site", "Guangzhou")]):
            for c, text in enumerate(row):
                grid.cell(r, c).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def refusal(name: str, data: bytes, **kwargs: object) -> str:
    with pytest.raises(InputError) as info:
        articles_from_file(name, data, max_bytes=kwargs.pop("max_bytes", LIMIT), **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_pdf_title_comes_from_its_metadata_and_the_text_from_its_text_layer():
    [article] = articles_from_file("release.pdf", text_pdf([HEADLINE, *BODY], title="Press release: " + HEADLINE),
                                   max_bytes=LIMIT)
    assert article.title == "Press release: " + HEADLINE
    assert article.body.splitlines() == [HEADLINE, *BODY]


def test_pdf_without_a_title_is_titled_by_its_first_line_which_metadata_repeating_it_drops():
    [untitled] = articles_from_file("release.pdf", text_pdf([HEADLINE, *BODY]), max_bytes=LIMIT)
    [same] = articles_from_file("release.pdf", text_pdf([HEADLINE, *BODY], title=HEADLINE), max_bytes=LIMIT)
    [junk] = articles_from_file("release.pdf", text_pdf([HEADLINE, *BODY], title="Microsoft Word - pr_v3.docx"),
                                max_bytes=LIMIT)
    assert untitled.title == same.title == junk.title == HEADLINE
    assert untitled.body.splitlines() == same.body.splitlines() == BODY


def test_docx_title_is_its_first_heading_and_tables_are_read():
    data = word_file([(None, "FOR IMMEDIATE RELEASE"), ("Title", HEADLINE), (None, BODY[0]), ("Heading 2", "About"),
                      (None, BODY[1])], table=True)
    [article] = articles_from_file("release.docx", data, max_bytes=LIMIT, publisher="Biosyngen", published="2022-05-28")
    assert article.title == HEADLINE
    assert article.body.split("\n\n") == ["FOR IMMEDIATE RELEASE", HEADLINE, BODY[0], "About", BODY[1],
                                          "Visitors | 6 consuls general", "Site | Guangzhou"]
    assert (article.publisher, str(article.published)) == ("Biosyngen", "2022-05-28")


def test_docx_title_from_its_properties_or_an_opening_heading_left_out_of_the_text():
    [by_property] = articles_from_file("a.docx", word_file([(None, *BODY[:1])], title=HEADLINE), max_bytes=LIMIT)
    [by_heading] = articles_from_file("b.docx", word_file([("Heading 1", HEADLINE), (None, BODY[0])]), max_bytes=LIMIT)
    [given] = articles_from_file("c.docx", word_file([("Heading 1", HEADLINE), (None, BODY[0])]), max_bytes=LIMIT,
                                 title="Given")
    assert by_property.title == by_heading.title == HEADLINE and given.title == "Given"
    assert by_property.body == by_heading.body == BODY[0]


def test_unreadable_documents_are_refused_with_one_line_each():
    assert refusal("scan.pdf", blank_pdf()) == SCANNED
    assert refusal("locked.pdf", blank_pdf(password="s3cret")).startswith("locked.pdf is an encrypted PDF")
    broken = text_pdf(BODY)[:60]
    assert refusal("broken.pdf", broken).startswith("broken.pdf is not a readable PDF file")
    assert refusal("old.docx", b"\xd0\xcf\x11\xe0 an old binary .doc").startswith("old.docx is not a readable Word")
    assert refusal("empty.docx", word_file([])).startswith("empty.docx has no text in it.")
    assert refusal("zero.pdf", b"") == "The file zero.pdf is empty. Send the article text itself."
    for message in (refusal("scan.pdf", blank_pdf()), refusal("broken.pdf", broken)):
        assert "\n" not in message and "Traceback" not in message


def test_an_encrypted_pdf_with_an_empty_password_opens():
    # Many PDFs are encrypted only to restrict printing: readers open them without asking.
    writer = PdfWriter(clone_from=io.BytesIO(text_pdf([HEADLINE, *BODY])))
    writer.encrypt("", "owner-only", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    [article] = articles_from_file("open.pdf", out.getvalue(), max_bytes=LIMIT)
    assert article.title == HEADLINE


def test_documents_have_the_size_limit_of_other_files():
    data = text_pdf([HEADLINE, *BODY])
    assert "is too large" in refusal("release.pdf", data, max_bytes=len(data) - 1)


def test_folders_include_documents(tmp_path):
    (tmp_path / "a.pdf").write_bytes(text_pdf(BODY))
    (tmp_path / "b.docx").write_bytes(word_file([(None, BODY[0])]))
    (tmp_path / "c.doc").write_bytes(b"old Word")
    assert [p.name for p in iter_article_files(tmp_path)] == ["a.pdf", "b.docx"]


async def test_a_document_added_again_is_unchanged_and_a_refused_one_stores_nothing(service):
    data = word_file([("Title", HEADLINE), (None, BODY[0])])
    [first] = await service.add_file("default", "release.docx", data)
    [again] = await service.add_file("default", "copy.docx", data)
    assert (first.status, again.status, again.article_id) == (IngestStatus.ADDED, IngestStatus.UNCHANGED, first.article_id)
    before = service.store.count("default")
    for name, bad in [("scan.pdf", blank_pdf()), ("locked.pdf", blank_pdf("pw")), ("x.docx", b"not a zip")]:
        with pytest.raises(InputError):
            await service.add_file("default", name, bad)
    assert service.store.count("default") == before


def test_newsbot_add_reads_documents_and_names_each_one_it_cannot(tmp_path):
    files = {"release.pdf": text_pdf([HEADLINE, *BODY]), "note.docx": word_file([("Title", "Biosyngen note"),
             (None, BODY[1])]), "scan.pdf": blank_pdf(), "broken.pdf": text_pdf(BODY)[:300]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = user_env(tmp_path / "home", NEWSBOT_SEED_DIR="", COLUMNS="200")
    added = newsbot(["add", *(str(tmp_path / n) for n in files)], env, tmp_path)
    listed = newsbot(["list"], env, tmp_path)
    assert added.code == 1 and added.out.count("added ") == 2, added.err
    scan, broken = added.err.strip().splitlines()  # and nothing else: no pypdf warnings, no traceback
    assert scan.endswith(SCANNED) and "broken.pdf is not a readable PDF file" in broken
    assert HEADLINE in listed.out and "Biosyngen note" in listed.out and "scan" not in listed.out


async def test_discord_add_file_reads_a_docx_and_refuses_a_scan_in_one_line(fake, llm, tmp_path: Path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    docx_file = ("release.docx", word_file([("Title", HEADLINE), (None, BODY[0])]), "application/octet-stream")
    async with running_bot(fake, settings, embedder, encoding) as bot:
        good = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "add", attachments={"file": docx_file})
        await fake.wait_for(lambda: "**1 article**" in content_of(fake, good), timeout=30)
        scan = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "add",
                                             attachments={"file": ("scan.pdf", blank_pdf(), "application/pdf")})
        await fake.wait_for(lambda: ephemeral_text(scan), timeout=30)
        stats = await bot.service.stats(LIB_A)
    assert HEADLINE in content_of(fake, good)
    assert SCANNED in ephemeral_text(scan) and "\n" not in ephemeral_text(scan)
    assert stats.articles == 1 and fake.rejections == []
