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
_BM25S_METHODS = {"okapi": ("atire", "robertson"), "bm25+": ("bm25+", "bm25+")}


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

    def rows(self) -> list[list[int]]:
        bounds = self.offsets.tolist()
        flat = self.ids.tolist()
        return [flat[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]

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
        tf_method, idf_method = _BM25S_METHODS[params.method]
        model = bm25s.BM25(k1=params.k1, b=params.b, delta=params.delta, method=tf_method, idf_method=idf_method)
        model.index((table.rows(), {term: i for i, term in enumerate(table.vocab)}), show_progress=False)
        return cls(model)

    def _term_ids(self, terms: list[str]) -> list[int]:
        vocab = self._model.vocab_dict
        return [vocab[t] for t in terms if t and t in vocab]

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query `terms` (repeats count, as in rank_bm25)."""
        ids = self._term_ids(terms)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return self._model.get_scores_from_ids(ids)

    def matching(self, terms: list[str]) -> np.ndarray:
        """Ids of the chunks that contain at least one of `terms`."""
        indptr = self._model.scores["indptr"]
        indices = self._model.scores["indices"]
        parts = [indices[indptr[i] : indptr[i + 1]] for i in set(self._term_ids(terms))]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

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
