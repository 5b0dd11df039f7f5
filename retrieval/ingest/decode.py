"""Bytes from a file, an upload or standard input -> checked text: size, emptiness, binary data and
encoding are refused with a message that says what to do."""

from __future__ import annotations

from retrieval.errors import InputError

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".json")
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


def too_big(size: int, max_bytes: int, what: str) -> InputError:
    return InputError(
        f"{cap(what)} is too large: {human_size(size)} is over the {human_size(max_bytes)} limit.",
        hint="Split it into smaller articles or trim it, then try again.",
    )


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
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{cap(what)} is UTF-16 text, not UTF-8.", hint="Save it with UTF-8 encoding and try again.")
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if b"\x00" in data or controls > _BINARY_SHARE * len(data):
        raise InputError(
            f"{cap(what)} looks like a binary file, not text.",
            hint=f"Send the article as plain text, Markdown, HTML or JSON. {SUPPORTED_HINT}",
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
