"""Fusing a lexical and a dense ranking into one, and cutting a ranking to its best. Pure functions.

Ties are broken by id so that a ranking never depends on dict order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def min_max(scores: Mapping[int, float]) -> dict[int, float]:
    """Scale scores to [0, 1]. With no spread there is no evidence either way: all 0."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high <= low:
        return {i: 0.0 for i in scores}
    return {i: (s - low) / (high - low) for i, s in scores.items()}


def weighted_fusion(
    lexical: Mapping[int, float],
    dense: Mapping[int, float],
    dense_weight: float,
) -> list[tuple[int, float]]:
    """Convex combination of min-max normalised scores over the candidates of both.

    Both maps must score the same candidates (a candidate missing from one
    counts as that map's minimum).
    """
    lexical_n, dense_n = min_max(lexical), min_max(dense)
    ids = set(lexical_n) | set(dense_n)
    fused = {i: (1 - dense_weight) * lexical_n.get(i, 0.0) + dense_weight * dense_n.get(i, 0.0) for i in ids}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Sum of 1 / (k + rank) over the rankings an id appears in (rank from 1).

    `k` damps the head of each list: the larger it is, the more a document
    found by both retrievers beats one found first by only one.
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def best_first(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The `k` ids of highest score, best first, ties by position: a stable sort's first `k`, without sorting all.

    At 100k chunks a common question word matches most of them; sorting
    only those that can make the cut keeps the cost near linear.
    """
    if len(ids) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = np.flatnonzero(scores >= kth)
        ids, scores = ids[keep], scores[keep]
    return ids[np.argsort(-scores, kind="stable")][:k]
