"""Token-bounded chunks that end on sentence boundaries, with overlap."""

from __future__ import annotations

import re
from collections.abc import Callable

import tiktoken

from retrieval.models import Article, Chunk

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "pte", "ltd", "inc", "co", "corp", "jr", "sr", "vs", "no",
    "u.s", "u.k", "e.g", "i.e", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "gen", "gov", "sen", "rep", "mt", "approx", "est", "dept", "fig",
}
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split into sentences, keeping abbreviations such as ``Mr.`` and ``Pte. Ltd.`` intact."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            head = paragraph[start : match.start()]
            last_word = head.rsplit(None, 1)[-1] if head.split() else ""
            stem = last_word.rstrip(".!?\"'”’)]").lower()
            if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
                continue
            sentences.append(paragraph[start : match.end()].strip())
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


def _split_long(sentence: str, limit: int, encoding: tiktoken.Encoding) -> list[str]:
    tokens = encoding.encode(sentence, disallowed_special=())
    if len(tokens) <= limit:
        return [sentence]
    return [encoding.decode(tokens[i : i + limit]).strip() for i in range(0, len(tokens), limit)]


def _pack(sentences: list[str], sizes: list[int], max_tokens: int, overlap: int) -> list[list[int]]:
    """Greedy packing of sentence indexes; each new chunk repeats trailing sentences up to ``overlap``."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        if current and total + size > max_tokens:
            groups.append(current)
            carry: list[int] = []
            carried = 0
            for j in reversed(current):
                if carried + sizes[j] > overlap or carried + sizes[j] + size > max_tokens:
                    break
                carry.insert(0, j)
                carried += sizes[j]
            current, total = carry, carried
        current.append(i)
        total += size
    if current:
        groups.append(current)
    return groups


def chunk_article(
    article: Article,
    *,
    encoding: tiktoken.Encoding,
    max_tokens: int = 200,
    overlap_tokens: int = 40,
    fits: Callable[[str], bool] | None = None,
) -> list[Chunk]:
    """Chunk an article's body; ``fits`` (e.g. the embedder's window check) forces smaller chunks."""
    limit = max_tokens
    while True:
        texts = _chunk_texts(article.body, encoding, limit, min(overlap_tokens, limit // 3))
        chunks = [_make_chunk(article, i, text, len(texts)) for i, text in enumerate(texts)]
        if fits is None or limit <= 16 or all(fits(c.embed_text) for c in chunks):
            return chunks
        limit = int(limit * 0.8)


def _chunk_texts(body: str, encoding: tiktoken.Encoding, max_tokens: int, overlap: int) -> list[str]:
    pieces = [p for s in split_sentences(body) for p in _split_long(s, max_tokens, encoding) if p]
    sizes = [len(encoding.encode(p, disallowed_special=())) + 1 for p in pieces]
    return [" ".join(pieces[i] for i in group) for group in _pack(pieces, sizes, max_tokens, overlap)]


def _make_chunk(article: Article, position: int, text: str, parts: int) -> Chunk:
    content_hash = article.content_hash
    return Chunk(
        id=f"{article.id}-{content_hash[:8]}-{position:04d}",
        source=article.source,
        position=position,
        text=text,
        content_hash=content_hash,
        parts=parts,
    )
