"""BM25 over chunk terms, backed by bm25s's sparse score matrix.

bm25s precomputes every (term, chunk) score at build time, so a query costs
one sparse column sum. The variants offered are the ones rank_bm25 also
implements, so the tests can hold bm25s to that reference.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from assistant.settings import BM25Params

log = logging.getLogger(__name__)

# Our variant name -> bm25s (tf method, idf method). "okapi" is rank_bm25's
# BM25Okapi: ATIRE's saturation with Robertson's idf.
BM25S_VARIANTS = {"okapi": ("atire", "robertson"), "bm25+": ("bm25+", "bm25+")}


@dataclass(frozen=True)
class TermTable:
    """Every chunk's terms as ids into `vocab`, flat: chunk i holds ids[offsets[i]:offsets[i + 1]].

    Kept with each index generation so that BM25 can be rebuilt after an
    update without tokenising the unchanged chunks again.
    """

    ids: np.ndarray
    offsets: np.ndarray
    vocab: list[str]

    @classmethod
    def assemble(cls, parts: Sequence[tuple[TermTable, int, int] | list[str]], base: TermTable | None = None) -> TermTable:
        """A table of, in order, rows [start, stop) of `base` (given as (base, start, stop)) and new term lists.

        The vocabulary keeps only the terms still used.
        """
        vocab = list(base.vocab) if base is not None else []
        lookup = {term: i for i, term in enumerate(vocab)}
        pieces: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        for part in parts:
            if isinstance(part, tuple):
                table, start, stop = part
                pieces.append(table.ids[table.offsets[start] : table.offsets[stop]])
                lengths.append(np.diff(table.offsets[start : stop + 1]))
            else:
                pieces.append(np.fromiter((lookup.setdefault(t, len(lookup)) for t in part), dtype=np.int32, count=len(part)))
                lengths.append(np.array([len(part)], dtype=np.int64))
        vocab.extend(list(lookup)[len(vocab) :])
        ids = np.concatenate(pieces).astype(np.int32) if pieces else np.empty(0, dtype=np.int32)
        row_lengths = np.concatenate(lengths) if lengths else np.empty(0, dtype=np.int64)
        offsets = np.zeros(len(row_lengths) + 1, dtype=np.int64)
        np.cumsum(row_lengths, out=offsets[1:])
        used = np.bincount(ids, minlength=len(vocab)) > 0
        remap = (np.cumsum(used) - 1).astype(np.int32)
        return cls(ids=remap[ids], offsets=offsets, vocab=[t for t, u in zip(vocab, used, strict=True) if u])

    @classmethod
    def from_terms(cls, chunk_terms: Sequence[list[str]]) -> TermTable:
        return cls.assemble(chunk_terms)

    def save(self, folder: Path) -> None:
        np.save(folder / "terms.npy", self.ids)
        np.save(folder / "term_offsets.npy", self.offsets)
        (folder / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TermTable:
        return cls(
            ids=np.load(folder / "terms.npy"),
            offsets=np.load(folder / "term_offsets.npy"),
            vocab=json.loads((folder / "vocab.json").read_text(encoding="utf-8")),
        )


def score_matrix(table: TermTable, params: BM25Params) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """BM25 weight of every (term, chunk) pair as a CSC matrix (terms are columns), vectorised.

    Returns (data, indices, indptr, nonoccurrence): what bm25s stores. BM25+
    gives every chunk idf * delta for each query term, even without it; as in
    bm25s, that part lives in `nonoccurrence` (added once per query) and the
    stored weights are only the part a chunk earns by holding the term.
    bm25s's own builder loops over chunks in Python; this one does the same
    arithmetic on whole arrays, so rebuilding after an update stays fast.
    """
    chunks, vocabulary = len(table.offsets) - 1, len(table.vocab)
    lengths = np.diff(table.offsets)
    average = float(lengths.mean()) if chunks else 0.0
    owners = np.repeat(np.arange(chunks, dtype=np.int64), lengths)
    pairs, tf = np.unique(table.ids.astype(np.int64) * max(chunks, 1) + owners, return_counts=True)
    terms, docs = np.divmod(pairs, max(chunks, 1))
    df = np.bincount(terms, minlength=vocabulary).astype(np.float64)
    seen = df > 0
    idf = np.zeros(vocabulary)
    if params.method == "bm25+":
        idf[seen] = np.log((chunks + 1) / df[seen])
    else:  # okapi: Robertson's idf, clamped at zero for terms in more than half of the chunks
        idf[seen] = np.log(np.maximum((chunks - df[seen] + 0.5) / (df[seen] + 0.5), 1.0))
    norm = params.k1 * (1 - params.b + params.b * lengths[docs] / average) if chunks else np.empty(0)
    saturation = tf * (params.k1 + 1) / (tf + norm)
    data = idf[terms] * saturation
    nonoccurrence = (idf * params.delta).astype(np.float32) if params.method == "bm25+" else None
    indptr = np.zeros(vocabulary + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=vocabulary), out=indptr[1:])
    return data.astype(np.float32), docs.astype(np.int32), indptr, nonoccurrence


class BM25Index:
    def __init__(self, model: bm25s.BM25) -> None:
        self._model = model
        indptr = np.asarray(model.scores["indptr"])
        self._doc_freq = np.diff(indptr)
        self.size = int(model.scores["num_docs"])

    @classmethod
    def build(cls, chunk_terms: Sequence[list[str]], params: BM25Params) -> BM25Index:
        return cls.from_table(TermTable.from_terms(chunk_terms), params)

    @classmethod
    def from_table(cls, table: TermTable, params: BM25Params) -> BM25Index:
        """bm25s holding the matrix `score_matrix` builds: the state its own `index()` would leave."""
        tf_method, idf_method = BM25S_VARIANTS[params.method]
        model = bm25s.BM25(k1=params.k1, b=params.b, delta=params.delta, method=tf_method, idf_method=idf_method)
        data, indices, indptr, nonoccurrence = score_matrix(table, params)
        model.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": len(table.offsets) - 1}
        model.nonoccurrence_array = nonoccurrence
        model.vocab_dict = {term: i for i, term in enumerate(table.vocab)}
        model.unique_token_ids_set = set(model.vocab_dict.values())
        return cls(model)

    def _term_ids(self, terms: list[str]) -> list[int]:
        vocab = self._model.vocab_dict
        return [vocab[t] for t in terms if t and t in vocab]

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query `terms` (repeats count, as in rank_bm25)."""
        ids = self._term_ids(terms)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores_from_ids(ids))

    def matching(self, terms: list[str]) -> np.ndarray:
        """Ids of the chunks that contain at least one of `terms`."""
        indptr = self._model.scores["indptr"]
        indices = self._model.scores["indices"]
        hit = np.zeros(self.size, dtype=bool)
        for i in set(self._term_ids(terms)):
            hit[indices[indptr[i] : indptr[i + 1]]] = True
        return np.flatnonzero(hit)

    def idf(self, term: str) -> float:
        """Lucene's always-positive idf; an unseen term gets the idf of a term seen once."""
        term_id = self._model.vocab_dict.get(term)
        df = int(self._doc_freq[term_id]) if term_id is not None else 0
        return math.log(1 + (self.size - max(df, 1) + 0.5) / (max(df, 1) + 0.5))

    def knows(self, term: str) -> bool:
        return term in self._model.vocab_dict

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        model = bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0)
        return cls(model)
