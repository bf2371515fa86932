"""BM25 for the `milvus` backend: our analyser's terms as Milvus sees them, and exact scores for candidates.

Milvus's analysers do not know our normalisation (Vietnamese diacritics,
compounds such as Việt Nam/Vietnam, English stems), so the engine is given
the terms `textnorm` produced, one token per term, and its BM25 finds the
candidates. Their scores are then computed here, exactly as the local
backend computes them (`okapi` or `bm25+`, with the index's k1, b and
delta), from term counts that every version keeps (`TermCounts`): so both
backends rank a candidate alike, whatever BM25 variant or per-segment
statistics the engine uses (milvus-lite keeps statistics per segment).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.settings import BM25Params

_PLAIN = re.compile(r"[a-wyz0-9][a-z0-9]*")  # a term every Milvus tokenizer keeps whole as it is


def engine_token(term: str) -> str:
    """A term as one token that any Milvus analyser (standard, whitespace; lite or server) keeps whole:
    itself when it is plain ASCII, otherwise "x" and its UTF-8 bytes in hex (so that "中国", which the
    standard tokenizer would split into characters, stays one term; plain terms never start with "x")."""
    return term if _PLAIN.fullmatch(term) else "x" + term.encode("utf-8").hex()


def term_of(token: str) -> str:
    return bytes.fromhex(token[1:]).decode("utf-8") if token.startswith("x") else token


def engine_text(terms: Iterable[str]) -> str:
    """The text the engine's BM25 analyses: the terms as tokens, separated by spaces, repeats kept."""
    return " ".join(engine_token(t) for t in terms)


def terms_of(text: str) -> list[str]:
    return [term_of(token) for token in text.split()]


@dataclass
class TermCounts:
    """What BM25 needs of a version: how many chunks, how many terms in all, and in how many chunks each term occurs.

    Kept with each version and updated by the terms of the chunks an update adds and drops, so
    that neither a question nor an update reads every chunk. Also the version's `TermStats`.
    """

    chunks: int = 0
    length: int = 0
    df: dict[str, int] = field(default_factory=dict)

    def add(self, chunk_terms: Iterable[Sequence[str]], sign: int = 1) -> None:
        """Count chunks in (sign 1) or out (sign -1)."""
        for terms in chunk_terms:
            self.chunks += sign
            self.length += sign * len(terms)
            for term in set(terms):
                count = self.df.get(term, 0) + sign
                if count > 0:
                    self.df[term] = count
                else:
                    self.df.pop(term, None)

    def idf(self, term: str) -> float:
        """Lucene's always-positive idf (as the local backend's); an unseen term gets the idf of a term seen once."""
        df = max(self.df.get(term, 0), 1)
        return math.log(1 + (self.chunks - df + 0.5) / (df + 0.5))

    def knows(self, term: str) -> bool:
        return term in self.df

    def to_dict(self) -> dict[str, Any]:
        return {"chunks": self.chunks, "length": self.length, "df": self.df}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TermCounts:
        return cls(int(data["chunks"]), int(data["length"]), {str(k): int(v) for k, v in data["df"].items()})

    def copy(self) -> TermCounts:
        return TermCounts(self.chunks, self.length, dict(self.df))


def bm25_scores(query: Sequence[str], chunks: Sequence[Sequence[str]], counts: TermCounts, params: BM25Params) -> np.ndarray:
    """Each chunk's BM25 score for `query` (repeated terms count, unknown ones are ignored), as the local
    backend's postings give it: `okapi` is Robertson's idf clamped at zero with ATIRE's saturation;
    `bm25+` adds idf × delta per query term to every chunk."""
    scores = np.zeros(len(chunks), dtype=np.float64)
    known = [t for t in query if t in counts.df]
    if not known or not chunks:
        return scores.astype(np.float32)
    n = counts.chunks
    average = counts.length / n if n else 0.0
    idf: dict[str, float] = {}
    for term in set(known):
        df = counts.df[term]
        idf[term] = math.log((n + 1) / df) if params.method == "bm25+" else math.log(max((n - df + 0.5) / (df + 0.5), 1.0))
    weights = Counter(known)
    for row, terms in enumerate(chunks):
        tf = Counter(terms)
        norm = params.k1 * (1 - params.b + params.b * len(terms) / average) if average else params.k1
        scores[row] = sum(
            weight * idf[term] * tf[term] * (params.k1 + 1) / (tf[term] + norm) for term, weight in weights.items() if tf[term]
        )
    if params.method == "bm25+":
        scores += sum(weight * idf[term] * params.delta for term, weight in weights.items())
    return scores.astype(np.float32)
