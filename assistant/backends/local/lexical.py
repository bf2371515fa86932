"""BM25 over segments: postings per segment, scored at query time with the statistics of the whole index.

A segment stores, per term, the chunks that hold it and how often (`Postings`,
compressed sparse columns, memory-mapped). Nothing that depends on the rest
of the index is baked in: idf needs the document frequency over every live
chunk of every segment and length normalisation the average length over
them, and both change whenever a segment is added or a document deleted.
`BM25Index` therefore computes them when asked, from the postings and the
live-row masks, so that an index of many segments with deletions scores
exactly as one freshly built segment would (tests/test_reindex.py). The
formulas are rank_bm25's BM25Okapi and BM25Plus, which the tests hold it to
(tests/test_bm25_parity.py). bm25s, which precomputes the whole score matrix,
cannot keep these statistics global across segments (README, "Segments").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.backends.local.tables import mapped, utf8_array
from assistant.settings import BM25Params

_ARRAYS = ("vocab", "indptr", "rows", "counts", "lengths")


@dataclass(frozen=True)
class Postings:
    """One segment's terms: term t occurs `counts[j]` times in chunk `rows[j]` for j in indptr[t]:indptr[t + 1];
    chunk i holds `lengths[i]` terms in all. `vocab` holds the terms as UTF-8, sorted (code-point order), so that
    finding one is a binary search in a memory-mapped array: opening a segment parses no vocabulary (as JSON,
    it was half of opening a 200k-chunk segment)."""

    vocab: np.ndarray
    indptr: np.ndarray
    rows: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_terms(cls, chunk_terms: Sequence[list[str]]) -> Postings:
        lookup: dict[str, int] = {}
        ids = np.fromiter(
            (lookup.setdefault(t, len(lookup)) for terms in chunk_terms for t in terms),
            dtype=np.int64,
            count=sum(map(len, chunk_terms)),
        )
        lengths = np.fromiter(map(len, chunk_terms), dtype=np.int64, count=len(chunk_terms))
        owners = np.repeat(np.arange(len(chunk_terms), dtype=np.int64), lengths)
        return cls._from_pairs(list(lookup), ids, owners, lengths)

    @classmethod
    def _from_pairs(cls, vocab: list[str], terms: np.ndarray, rows: np.ndarray, lengths: np.ndarray) -> Postings:
        """Postings of (term, row) occurrences, one pair per occurrence."""
        vocab, terms = _sorted_terms(vocab, terms)
        width = max(len(lengths), 1)
        pairs, counts = np.unique(terms * width + rows, return_counts=True)
        return cls._from_sorted(vocab, *np.divmod(pairs, width), counts, lengths)

    @classmethod
    def _from_sorted(
        cls, vocab: list[str], terms: np.ndarray, rows: np.ndarray, counts: np.ndarray, lengths: np.ndarray
    ) -> Postings:
        """Postings of distinct (term, row) pairs sorted by term then row; terms without any are dropped."""
        per_term = np.bincount(terms, minlength=len(vocab))
        used = per_term > 0
        indptr = np.zeros(int(used.sum()) + 1, dtype=np.int64)
        np.cumsum(per_term[used], out=indptr[1:])
        return cls(
            vocab=utf8_array(term for term, keep in zip(vocab, used.tolist(), strict=True) if keep),
            indptr=indptr,
            rows=rows.astype(np.int32),
            counts=counts.astype(np.int32),
            lengths=lengths.astype(np.int32),
        )

    @classmethod
    def merge(cls, parts: Sequence[tuple[Postings, np.ndarray]]) -> Postings:
        """The postings of the rows each part's mask keeps, parts in order, rows numbered anew from 0."""
        lookup: dict[str, int] = {}
        terms, rows, counts, lengths = [], [], [], []
        offset = 0
        for postings, keep in parts:
            renumber = np.where(keep, np.cumsum(keep) - 1 + offset, -1)
            remap = np.array([lookup.setdefault(t, len(lookup)) for t in postings.terms], dtype=np.int64)
            owners = np.repeat(remap, np.diff(postings.indptr))
            new_rows = renumber[postings.rows]
            live = new_rows >= 0
            terms.append(owners[live])
            rows.append(new_rows[live])
            counts.append(np.asarray(postings.counts)[live])
            lengths.append(np.asarray(postings.lengths)[keep])
            offset += int(keep.sum())
        empty = np.empty(0, dtype=np.int64)
        vocab, all_terms = _sorted_terms(list(lookup), np.concatenate(terms) if terms else empty)
        all_rows = np.concatenate(rows) if rows else empty
        order = np.lexsort((all_rows, all_terms))
        return cls._from_sorted(
            vocab,
            all_terms[order],
            all_rows[order],
            (np.concatenate(counts) if counts else empty)[order],
            np.concatenate(lengths) if lengths else empty,
        )

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def terms(self) -> list[str]:
        return [bytes(term).decode() for term in self.vocab]

    def of(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows that hold `term` and how often."""
        key = term.encode()
        i = int(self.vocab.searchsorted(key))
        if i >= len(self.vocab) or self.vocab[i] != key:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
        start, stop = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.rows[start:stop], self.counts[start:stop]

    def save(self, folder: Path) -> None:
        folder.mkdir()
        for name in _ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, folder: Path) -> Postings:
        vocab, indptr, rows, counts, lengths = (mapped(folder / f"{name}.npy") for name in _ARRAYS)
        return cls(vocab, indptr, rows, counts, lengths)


def _sorted_terms(vocab: list[str], terms: np.ndarray) -> tuple[list[str], np.ndarray]:
    """`vocab` sorted, and the term ids in `terms` renumbered to match."""
    order = sorted(range(len(vocab)), key=vocab.__getitem__)
    rank = np.empty(len(vocab), dtype=np.int64)
    rank[order] = np.arange(len(vocab), dtype=np.int64)
    return [vocab[i] for i in order], rank[terms] if len(terms) else terms


@dataclass(frozen=True)
class LexicalPart:
    """A segment's postings as the index sees them: its live rows, and where its rows start among all."""

    postings: Postings
    live: np.ndarray | None  # None: every row is live
    base: int


class BM25Index:
    """BM25 over the live rows of several segments, with document frequencies and average length over all of them.

    Rows are numbered across segments (segment i's row r is base_i + r); deleted rows never score.
    """

    def __init__(self, parts: Sequence[LexicalPart], params: BM25Params) -> None:
        self.parts = list(parts)
        self.params = params
        self.size = sum(p.postings.size for p in self.parts)  # every row, deleted ones included
        lengths = [np.asarray(p.postings.lengths)[p.live] if p.live is not None else p.postings.lengths for p in self.parts]
        self.live_count = int(sum(len(x) for x in lengths))
        total = float(sum(int(np.sum(x, dtype=np.int64)) for x in lengths))
        self.average_length = total / self.live_count if self.live_count else 0.0
        norms = [self._norm(p.postings.lengths) for p in self.parts]
        self._norms = np.concatenate(norms) if norms else np.empty(0)  # k1·(1 − b + b·length/average) per row
        # A question asks about a term several times (scores, matching, idf) and follow-ups repeat terms.
        self._postings = lru_cache(maxsize=4096)(self._find_postings)

    @classmethod
    def build(cls, chunk_terms: Sequence[list[str]], params: BM25Params) -> BM25Index:
        """One segment of `chunk_terms`, all live: what the tests hold to rank_bm25."""
        return cls([LexicalPart(Postings.from_terms(chunk_terms), None, 0)], params)

    def _norm(self, lengths: np.ndarray) -> np.ndarray:
        k1, b = self.params.k1, self.params.b
        if not self.average_length:
            return np.full(len(lengths), k1)
        return k1 * (1 - b + b * np.asarray(lengths, dtype=np.float64) / self.average_length)

    def _find_postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The live rows (numbered across segments, ascending) that hold `term`, and how often."""
        rows_found, counts_found = [], []
        for part in self.parts:
            rows, counts = part.postings.of(term)
            if len(rows) and part.live is not None:
                keep = part.live[rows]
                rows, counts = rows[keep], counts[keep]
            if len(rows):
                rows_found.append(part.base + rows.astype(np.int64))
                counts_found.append(counts)
        if not rows_found:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
        return np.concatenate(rows_found), np.concatenate(counts_found)

    def doc_freq(self, term: str) -> int:
        return len(self._postings(term)[0])

    def _bm25_idf(self, df: int) -> float:
        if self.params.method == "bm25+":
            return math.log((self.live_count + 1) / df)
        return math.log(max((self.live_count - df + 0.5) / (df + 0.5), 1.0))  # okapi: clamped at zero

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every row for the query `terms` (repeats count, as in rank_bm25)."""
        total = np.zeros(self.size, dtype=np.float64)
        k1 = self.params.k1
        for term, repeats in Counter(t for t in terms if t).items():
            rows, counts = self._postings(term)
            if not len(rows):
                continue
            idf = self._bm25_idf(len(rows))
            tf = counts.astype(np.float64)
            total[rows] += repeats * idf * tf * (k1 + 1) / (tf + self._norms[rows])
            if self.params.method == "bm25+":  # every chunk earns idf·delta per query term, holding it or not
                total += repeats * idf * self.params.delta
        return total.astype(np.float32)

    def matching(self, terms: list[str]) -> np.ndarray:
        """Ids of the live rows that hold at least one of `terms`, in order."""
        hit = np.zeros(self.size, dtype=bool)
        for term in set(terms):
            hit[self._postings(term)[0]] = True
        return np.flatnonzero(hit)

    def idf(self, term: str) -> float:
        """Lucene's always-positive idf; an unseen term gets the idf of a term seen once."""
        df = max(self.doc_freq(term), 1)
        return math.log(1 + (self.live_count - df + 0.5) / (df + 0.5))

    def knows(self, term: str) -> bool:
        return bool(len(self._postings(term)[0]))
