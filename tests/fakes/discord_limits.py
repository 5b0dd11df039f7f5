"""Discord's size limits on a message payload (create or edit, from any route), answered
like Discord: HTTP 400, code 50035 "Invalid Form Body", and ``errors`` nested by field path,
e.g. ``{"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000
or fewer in length."}]}}`` (discord.py shows it as "In content: Must be 2000 or fewer in length.").

Length is counted in Unicode code points (Python's ``len``), as Discord's API does (Discord
staff in discord-api-docs#1315: "Our API uses Python 3, so the API calculates length based on
the number of codepoints"); an emoji outside the BMP is 1, not 2 as in UTF-16.

Enforced: ``content`` (2,000) and embeds (at most 10; title 256, description 4,096, 25 fields
with name 256 / value 1,024, footer text 2,048, author name 256; those texts together at most
6,000 over all embeds of the message). Component limits are not checked.
"""

from __future__ import annotations

from typing import Any

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_EMBED_FIELDS = 25
# (path inside one embed, limit); the texts these paths name also count toward MAX_EMBED_TOTAL
_EMBED_TEXTS = ((("title",), 256), (("description",), 4096), (("footer", "text"), 2048),
                (("author", "name"), 256))
_FIELD_TEXTS = (("name", 256), ("value", 1024))

Errors = dict[str, Any]


def _max_length(limit: int) -> Errors:
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}


def _text(obj: Any, path: tuple[str, ...]) -> str:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj if isinstance(obj, str) else ""


def _embed_errors(embeds: list[Any]) -> Errors:
    if len(embeds) > MAX_EMBEDS:
        return _max_length(MAX_EMBEDS)
    errors: Errors = {}
    total = 0
    for i, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            continue
        found: Errors = {}
        for path, limit in _EMBED_TEXTS:
            size = len(_text(embed, path))
            total += size
            if size > limit:
                node = found
                for key in path[:-1]:
                    node = node.setdefault(key, {})
                node[path[-1]] = _max_length(limit)
        fields = embed.get("fields") or []
        if len(fields) > MAX_EMBED_FIELDS:
            found["fields"] = _max_length(MAX_EMBED_FIELDS)
        for j, fld in enumerate(fields):
            for key, limit in _FIELD_TEXTS:
                size = len(_text(fld, (key,)))
                total += size
                if size > limit:
                    found.setdefault("fields", {}).setdefault(str(j), {})[key] = _max_length(limit)
        if found:
            errors[str(i)] = found
    if not errors and total > MAX_EMBED_TOTAL:
        return {"_errors": [{"code": "MAX_EMBED_SIZE_EXCEEDED",
                             "message": f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"}]}
    return errors


def message_errors(payload: Any) -> Errors | None:
    """The ``errors`` object Discord answers for a message payload over its limits, else None."""
    if not isinstance(payload, dict):
        return None
    errors: Errors = {}
    content = payload.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        errors["content"] = _max_length(MAX_CONTENT)
    embeds = payload.get("embeds")
    if isinstance(embeds, list) and (found := _embed_errors(embeds)):
        errors["embeds"] = found
    return errors or None
