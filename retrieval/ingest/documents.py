"""PDF and Word (.docx) files -> their text and title: the PDF's text layer (pypdf), the Word
document's paragraphs and tables (python-docx). Scanned, encrypted and broken files are refused with
one line saying what to do.

Neither format's dates are used: a file's creation or modification date is not the day the news was
published (templates are reused, files re-saved), so such articles are dated by ``--published``."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from retrieval.errors import InputError

# Metadata titles that only name the file or the program that wrote it.
_JUNK_TITLE = re.compile(r"^(?:untitled|document\d*|microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|pdf|rtf|odt))$",
                         re.IGNORECASE)
_TITLE_STYLES = ("title", "heading")


@dataclass(frozen=True)
class DocumentText:
    """What a document holds: its text, and a title when its metadata or styles name one."""

    text: str
    title: str | None = None


def _meta_title(value: object) -> str | None:
    title = " ".join(str(value or "").split())
    return title if title and not _JUNK_TITLE.match(title) else None


def _unreadable(name: str, kind: str, hint: str) -> InputError:
    return InputError(f"{name} is not a readable {kind} file (damaged, or another kind of file renamed).", hint=hint)


def read_pdf(name: str, data: bytes) -> DocumentText:
    """The text layer of every page, pages apart by a blank line; the /Title metadata as title."""
    from pypdf import PdfReader  # imported here: only PDFs need it
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted with an empty password (only to restrict printing or copying): they open.
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("needs a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = _meta_title(reader.metadata.title if reader.metadata else None)
    except (FileNotDecryptedError, DependencyError):
        raise InputError(f"{name} is an encrypted PDF, which newsbot cannot open.",
                         hint="Save a copy without a password, or paste the article text.") from None
    except Exception:  # pypdf raises many kinds of error (and plain ValueError, KeyError…) on broken files
        raise _unreadable(name, "PDF", "Open it and save it again as PDF, or paste the article text.") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text.split():
        raise InputError(f"{name} has no text layer (a scanned image?); paste the text or use an OCR'd PDF.")
    first, _, rest = text.partition("\n")
    if title is not None and " ".join(first.split()) == title and rest.strip():
        text = rest.strip()  # the headline printed on the page as well as in the metadata
    return DocumentText(text, title)


def _docx_blocks(document: object) -> list[tuple[str, str]]:
    """(style name, text) of each paragraph and table row, in document order."""
    from docx.table import Table

    blocks = []
    for item in document.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(item, Table):
            for row in item.rows:
                cells = list(dict.fromkeys(c.text.strip() for c in row.cells))  # merged cells repeat
                blocks.append(("table", " | ".join(c for c in cells if c)))
        else:
            blocks.append((item.style.name if item.style is not None else "", item.text))
    return [(style, text.strip()) for style, text in blocks if text.strip()]


def read_docx(name: str, data: bytes) -> DocumentText:
    """Paragraphs and table rows as text; the title from the document's properties, else its first
    Title- or Heading-styled paragraph (left out of the text when it opens the document)."""
    import docx  # imported here: only Word files need it

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = _docx_blocks(document)
        title = _meta_title(document.core_properties.title)
    except Exception:  # a zip that is not a Word document raises KeyError, a damaged part ValueError…
        hint = "Save it from Word as .docx (an old .doc file too), or paste the article text."
        raise _unreadable(name, "Word (.docx)", hint) from None
    if title is None:
        title = next((text for style, text in blocks if style.lower().startswith(_TITLE_STYLES)), None)
    if blocks and title is not None and " ".join(blocks[0][1].split()) == title:
        blocks = blocks[1:]
    text = "\n\n".join(text for _, text in blocks)
    if not text.split():
        raise InputError(f"{name} has no text in it.", hint="Check that it is the right file, or paste the article text.")
    return DocumentText(text, title)


def read_document(name: str, ext: str, data: bytes) -> DocumentText:
    """The text of a ``.pdf`` or ``.docx`` file (``ext``, one of decode.DOCUMENT_EXTENSIONS) named ``name``."""
    return read_pdf(name, data) if ext == ".pdf" else read_docx(name, data)
