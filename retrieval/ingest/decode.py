"""Bytes from a file, an upload or standard input -> checked text: size, emptiness, binary data and
encoding are refused with a message that says what to do."""

from __future__ import annotations

from typing import BinaryIO

from retrieval.errors import InputError

TEXT_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".json")
DOCUMENT_EXTENSIONS = (".pdf", ".docx")  # read by retrieval.ingest.documents, not as text
SUPPORTED_EXTENSIONS = TEXT_EXTENSIONS + DOCUMENT_EXTENSIONS
SUPPORTED_LIST = ", ".join(SUPPORTED_EXTENSIONS[:-1]) + " or " + SUPPORTED_EXTENSIONS[-1]  # ".txt, … or .docx"
SUPPORTED_HINT = "Supported file types: " + ", ".join(SUPPORTED_EXTENSIONS) + "."
# Control bytes other than tab, newline, vertical tab, form feed, carriage return and escape.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27)) + b"\x7f"
_BINARY_SHARE = 0.05


def human_size(n: int) -> str:
    """``2_000_000`` -> ``"2.0 MB"`` (decimal units, as file managers show them)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def cap(what: str) -> str:
    return what[:1].upper() + what[1:]


def too_big(size: int | None, max_bytes: int, what: str) -> InputError:
    """``size`` None: only known to be over the limit (a stream read up to it)."""
    limit = human_size(max_bytes)
    if size is None:
        sizes = f"it is over the {limit} limit ({max_bytes:,} bytes)"
    elif human_size(size) == limit:  # "2.0 MB is over the 2.0 MB limit" says nothing
        sizes = f"{size:,} bytes is over the {max_bytes:,}-byte limit"
    else:
        sizes = f"{human_size(size)} is over the {limit} limit"
    return InputError(f"{cap(what)} is too large: {sizes}.", hint="Split it into smaller articles or trim it, then try again.")


def read_limited(stream: BinaryIO, *, what: str, max_bytes: int) -> bytes:
    """At most ``max_bytes`` from ``stream`` (standard input, say); more is refused unread."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_big(None, max_bytes, what)
    return data


def _utf16_without_bom(data: bytes) -> bool:
    """Text in UTF-16 without a byte order mark: in most of its characters one byte of the two is
    NUL (Latin script), and the whole decodes as UTF-16 into printable text."""
    if len(data) < 4 or len(data) % 2 or b"\x00" not in data:
        return False
    for encoding, high_bytes in (("utf-16-le", data[1::2]), ("utf-16-be", data[0::2])):
        if high_bytes.count(0) * 2 < len(high_bytes):
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        readable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
        if readable >= 0.95 * len(text):
            return True
    return False


def empty(what: str) -> InputError:
    return InputError(f"{cap(what)} is empty.", hint="Send the article text itself.")


def decode_text(data: bytes, *, what: str, max_bytes: int) -> str:
    """Strict UTF-8 text from bytes; refuses oversized, empty, binary and non-UTF-8 input."""
    if len(data) > max_bytes:
        raise too_big(len(data), max_bytes, what)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise empty(what)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_without_bom(data):
        raise InputError(f"{cap(what)} is UTF-16 text, not UTF-8.", hint="Save it with UTF-8 encoding and try again.")
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if b"\x00" in data or controls > _BINARY_SHARE * len(data):
        raise InputError(
            f"{cap(what)} looks like a binary file, not text.",
            hint=f"Send the article as plain text, Markdown, HTML, JSON, PDF or Word (.docx). {SUPPORTED_HINT}",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{cap(what)} is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}).",
            hint="Save it with UTF-8 encoding and try again.",
        ) from None
    if not text.strip():
        raise empty(what)
    return text
