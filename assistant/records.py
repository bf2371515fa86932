"""The records that flow through the pipeline and reach users.

Each user-facing record's `to_dict()` is exactly the JSON that the CLI prints
and the web API returns, so the two can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from assistant.segment import Span


@dataclass(frozen=True)
class Document:
    """An article as read from the corpus; `text` is kept exactly as decoded."""

    doc_id: str
    path: str
    title: str
    text: str
    sha256: str
    body_start: int = 0  # where the text after any front matter begins


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one document, with their offsets."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    sentences: tuple[Span, ...]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score and both component scores."""

    rank: int
    chunk: Chunk
    document: Document
    score: float
    bm25_score: float
    dense_score: float

    @property
    def text(self) -> str:
        return self.document.text[self.chunk.start : self.chunk.end]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.document.doc_id,
            "path": self.document.path,
            "title": self.document.title,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "text": self.text,
            "score": round(self.score, 6),
            "bm25_score": round(self.bm25_score, 6),
            "dense_score": round(self.dense_score, 6),
        }


@dataclass(frozen=True)
class Source:
    """One quoted sentence of an answer: `quote == document text[start:end]`."""

    n: int
    doc_id: str
    path: str
    title: str
    quote: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "doc_id": self.doc_id,
            "path": self.path,
            "title": self.title,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 6),
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    sources: list[Source] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "sources": [s.to_dict() for s in self.sources],
        }

    def to_json(self) -> str:
        """The one-line JSON that `assistant ask --json` prints and the web `/ask` endpoint returns."""
        return json.dumps(self.to_dict(), ensure_ascii=False)
