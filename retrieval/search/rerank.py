"""Stage 3, re-ranking: the fused candidates ordered by a learned ranker from their feature rows.

The features (retrieval.search.features) describe each candidate relative to the question; the
ranker is any ``Ranker`` (params.py), as shipped the LambdaMART trees of ``ranker.json``
(retrieval.search.trees, trained by bench/train_ranker.py).
"""

from __future__ import annotations

import numpy as np

from retrieval.search.features import CandidateSignals, feature_matrix
from retrieval.search.fusion import Ranked
from retrieval.search.params import Ranker


def rerank(ranker: Ranker, signals: CandidateSignals, fused: Ranked) -> tuple[Ranked, np.ndarray | None]:
    """The candidates ``signals`` describes (``fused``, in that order) ordered by the ranker's
    scores, ties in fused order; with the gate's word coverage of each (``term_share``) in the
    same new order. Fewer than two candidates stay as they are."""
    if len(signals.chunk_ids) < 2:
        return fused, signals.term_share
    scores = ranker.predict(feature_matrix(signals))
    order = np.argsort(-scores, kind="stable")
    share = None if signals.term_share is None else signals.term_share[order]
    return [(signals.chunk_ids[i], float(scores[i])) for i in order], share
