"""Publication dates as people and feeds write them."""

from __future__ import annotations

import re
from datetime import date, datetime
from email.utils import parsedate_to_datetime

from retrieval.errors import InputError

DateLike = date | str | None
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T\s])")
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%Y/%m/%d", "%Y.%m.%d")


def parse_date(value: str | date | datetime | None) -> date | None:
    """ISO dates and timestamps, ``May 27, 2022``, ``27 May 2022``, RFC 2822; anything else -> None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    if m := _ISO_DATE.match(text):
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    for candidate in (cleaned, cleaned.replace(".", "")):
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(candidate, fmt).date()
            except ValueError:
                continue
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return None


def published_date(value: str | None) -> date | None:
    """A publication date a person typed: None when blank, an InputError when ``parse_date``
    cannot read it."""
    if value is None or not value.strip():
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise InputError(f"“{value}” is not a date.", hint="Write the publication date as YYYY-MM-DD.")
    return parsed
