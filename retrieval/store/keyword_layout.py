"""What each slot of a keyword index's BM25 arrays holds (its chunk, publisher and day), and the
masks that restrict a search to some publishers, days or a period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

REMOVED = ("", "", None, None)  # the slot of a removed document


@dataclass(frozen=True)
class Layout:
    """Each slot's chunk id, publisher (a code into ``codes``; "" if none) and day (yyyymmdd, 0 if
    none). Publishers are codes so that restricting a search to some is an integer ``isin``."""

    chunk_ids: np.ndarray
    publisher_codes: np.ndarray
    codes: dict[str, int]
    days: np.ndarray

    @classmethod
    def of(cls, meta: Sequence[tuple[str, str, str | None, int | None]]) -> Layout:
        """From each slot's (chunk id, article id, publisher, day)."""
        codes: dict[str, int] = {}
        publisher_codes = np.array([codes.setdefault(m[2] or "", len(codes)) for m in meta], dtype=np.int32)
        return cls(
            chunk_ids=np.array([m[0] for m in meta], dtype=object),
            publisher_codes=publisher_codes,
            codes=codes,
            days=np.array([m[3] or 0 for m in meta], dtype=np.int64),
        )

    def facets(self, alive: np.ndarray) -> tuple[list[str], list[int]]:
        """The distinct publishers and days of the ``alive`` slots."""
        names = list(self.codes)
        publishers = {names[c] for c in np.unique(self.publisher_codes[alive]).tolist()}
        return sorted(publishers - {""}), sorted(set(self.days[alive].tolist()) - {0})

    def mask(self, publishers: Sequence[str], days: Sequence[int], since: date | None) -> np.ndarray:
        """Slots from one of ``publishers`` (if any), on one of ``days`` (if any) and of articles
        published on or after ``since`` (if given)."""
        mask = np.ones(len(self.days), dtype=bool)
        if publishers:
            mask &= np.isin(self.publisher_codes, [self.codes[p] for p in publishers if p in self.codes])
        if days:
            mask &= np.isin(self.days, list(days))
        if since is not None:  # an undated slot's day is 0: never on or after a date
            mask &= self.days >= int(since.strftime("%Y%m%d"))
        return mask
