"""Hybrid retrieval: BM25 and dense candidates, fused into one ranking of passages."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from assistant.embedder import Embedder
from assistant.fusion import best_first, reciprocal_rank_fusion, weighted_fusion
from assistant.records import Passage
from assistant.settings import SearchSettings
from assistant.store import StoredIndex
from assistant.textnorm import query_terms

Mode = Literal["hybrid", "bm25", "dense"]


@dataclass(frozen=True)
class Query:
    """What retrieval looks for: the question's own terms, and context carried from earlier turns."""

    text: str
    terms: list[str]
    context_terms: list[str] = field(default_factory=list)
    context_weight: float = 0.5
    dense_text: str = ""

    @classmethod
    def plain(cls, text: str) -> Query:
        return cls(text=text, terms=query_terms(text), dense_text=text)


class HybridRetriever:
    def __init__(self, index: StoredIndex, embedder: Embedder, settings: SearchSettings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def _lexical_scores(self, query: Query) -> np.ndarray:
        scores = self.index.bm25.scores(query.terms)
        if query.context_terms:
            scores = scores + query.context_weight * self.index.bm25.scores(query.context_terms)
        return scores

    def _allowed(self, doc_ids: Collection[str]) -> np.ndarray:
        ranges = self.index.chunks.ranges
        spans = [range(*ranges[d]) for d in doc_ids if d in ranges]
        return np.fromiter((i for span in spans for i in span), dtype=np.int64)

    def search(self, query: Query, k: int = 10, mode: Mode = "hybrid", doc_ids: Collection[str] | None = None) -> list[Passage]:
        """The `k` best passages for `query`, each with its fused and component scores.

        `doc_ids`, when given, restricts the search to those documents.
        """
        candidates = max(self.settings.candidates, k)
        lexical_all = self._lexical_scores(query)
        matching = self.index.bm25.matching(query.terms + query.context_terms)
        vector = self.embedder.encode_query(query.dense_text or query.text)
        if doc_ids is None:
            dense_ids, _ = self.index.vectors.search(vector, candidates)
        else:
            allowed = self._allowed(doc_ids)
            matching = np.intersect1d(matching, allowed)
            similarities = self.index.vectors.similarities(vector, allowed)
            dense_ids = best_first(allowed, similarities, candidates)
        lexical_ids = best_first(matching, lexical_all[matching], candidates)
        if mode == "bm25":
            pool = lexical_ids
        elif mode == "dense":
            pool = dense_ids
        else:
            pool = np.unique(np.concatenate([lexical_ids, dense_ids]))
        if len(pool) == 0:
            return []
        lexical = {int(i): float(lexical_all[i]) for i in pool}
        dense = dict(zip(map(int, pool), map(float, self.index.vectors.similarities(vector, pool)), strict=True))
        if mode == "bm25":
            ranked = sorted(lexical.items(), key=lambda item: (-item[1], item[0]))
        elif mode == "dense":
            ranked = sorted(dense.items(), key=lambda item: (-item[1], item[0]))
        elif self.settings.fusion == "rrf":
            ranked = reciprocal_rank_fusion([lexical_ids.tolist(), dense_ids.tolist()], self.settings.rrf_k)
        else:
            ranked = weighted_fusion(lexical, dense, self.settings.dense_weight)
        passages = []
        for rank, (chunk_id, score) in enumerate(ranked[:k], start=1):
            chunk = self.index.chunks[chunk_id]
            passages.append(
                Passage(
                    rank=rank,
                    chunk=chunk,
                    document=self.index.documents[chunk.doc_id],
                    score=score,
                    bm25_score=lexical[chunk_id],
                    dense_score=dense[chunk_id],
                )
            )
        return passages
