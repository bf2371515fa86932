"""Index backends: where chunks, their vectors and terms live, and how they are searched.

A backend stores versions of an index. A version (`IndexVersion`) is what
a question is answered from: it never changes once opened, whatever a
writer does meanwhile. A writer holds the backend's lock (`writing`), builds
on the version in use, and `commit`s a new one, which becomes visible all at
once. The indexer decides what changed; a backend only stores and searches.

Two implementations: `local` (folders of plain files: immutable segments
of FAISS vectors and BM25 postings, versions behind a pointer) and `milvus` (collections in a Milvus server
that several app servers share; README, "Scaling out"). Adding one is a
module (or package), a line in `BACKENDS`, and the backend contract suite
(tests/contracts/test_backend_contract.py) passing against it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from assistant.answerers import TermStats
from assistant.records import Chunk, Document, Manifest
from assistant.registry import Registry
from assistant.segment import Span
from assistant.settings import SearchSettings

Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class SearchRequest:
    """A question as a backend searches for it: its terms, terms carried from earlier turns, and its vector."""

    terms: tuple[str, ...]
    vector: np.ndarray
    context_terms: tuple[str, ...] = ()
    context_weight: float = 0.5  # of the context's BM25 scores beside the question's own


@dataclass(frozen=True)
class Hit:
    """A chunk found by a search, with its fused score, both component scores, and the question's
    similarity to each of its sentences (the dense score is the best of them)."""

    chunk_id: int
    score: float
    bm25_score: float
    dense_score: float
    sentence_scores: tuple[float, ...] = ()


@dataclass(frozen=True)
class PreparedDocument:
    """A new or changed document, ready to store: its chunks, each chunk's terms, each sentence's vector in chunk order."""

    document: Document
    chunks: list[Chunk]
    terms: list[list[str]]
    vectors: np.ndarray


class FreshDocuments:
    """The new and changed documents of an update, prepared a batch at a time as the backend takes them, so that
    a build holds one batch of sentence vectors in memory, not the whole corpus's. Batches come in manifest
    order and can be taken once; which documents they hold is known from the start."""

    def __init__(self, doc_ids: Collection[str], batches: Iterable[list[PreparedDocument]]) -> None:
        self.doc_ids = frozenset(doc_ids)
        self._batches = iter(batches)

    @classmethod
    def ready(cls, documents: Iterable[PreparedDocument]) -> FreshDocuments:
        """Documents prepared already, as one batch."""
        batch = list(documents)
        return cls([d.document.doc_id for d in batch], [batch] if batch else [])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.doc_ids

    def __len__(self) -> int:
        return len(self.doc_ids)

    def batches(self) -> Iterator[list[PreparedDocument]]:
        return self._batches


@dataclass(frozen=True)
class IndexUpdate:
    """The next version: `manifest` lists every document. Those in `fresh` are (re)written; those in `removed`
    (of the previous version) are dropped; those in `touched` keep their chunks but take the manifest's record
    (their file's time changed, not their content); every other one is kept as the previous version holds it,
    so that a backend can apply an update in the time the change takes. The manifest's records of fresh
    documents (their chunk counts) and its chunk count are final once every batch of `fresh` has been taken."""

    manifest: Manifest
    fresh: FreshDocuments = field(default_factory=lambda: FreshDocuments.ready([]))
    removed: frozenset[str] = frozenset()
    touched: frozenset[str] = frozenset()


class IndexVersion(Protocol):
    """One immutable version of an index."""

    @property
    def name(self) -> str: ...

    @property
    def manifest(self) -> Manifest: ...

    @property
    def documents(self) -> Mapping[str, Document]:
        """Every document with its stored text, read on demand."""
        ...

    @property
    def stats(self) -> TermStats: ...

    def chunk(self, chunk_id: int) -> Chunk: ...

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order, with their ids in this version."""
        ...

    def missing_texts(self) -> set[str]:
        """The documents whose stored text is gone, so that an update stores them again from the corpus
        (a text that is there but damaged is found when read; a full rebuild rewrites it)."""
        ...

    def search(
        self, request: SearchRequest, k: int, mode: Mode, settings: SearchSettings, doc_ids: Collection[str] | None = None
    ) -> list[Hit]:
        """The `k` best chunks, best first; `doc_ids`, when given, restricts the search to those documents."""
        ...

    def sentence_vectors(self, doc_id: str) -> Iterator[tuple[Span, np.ndarray]]:
        """Each stored sentence of a document with its vector, so that an update re-embeds only new text."""
        ...


class IndexBackend(Protocol):
    name: str  # its line in BACKENDS

    @property
    def location(self) -> str:
        """Where the index is, as messages should name it."""
        ...

    def version_name(self) -> str:
        """The name of the version in use: cheap enough to check before every question. "" if there is none,
        or none is recorded as in use (a damaged pointer: `open()` then finds the one to answer from)."""
        ...

    def read_manifest(self) -> Manifest:
        """The manifest of the version in use, without loading the rest (raises NoIndexError if none)."""
        ...

    def open(self) -> IndexVersion:
        """The version in use, verified (raises NoIndexError, CorruptIndexError or IndexMismatchError)."""
        ...

    def writing(self, wait: float) -> AbstractContextManager[None]:
        """Hold the one writer's lock, waiting up to `wait` seconds (IndexBusyError after); clears what a killed writer left."""
        ...

    def commit(self, update: IndexUpdate, previous: IndexVersion | None) -> str:
        """Store `update` as the new version, built on `previous`, and switch to it atomically; returns its name."""
        ...


# An implementation: the index folder (a cache, for a backend that lives elsewhere) -> a backend.
BACKENDS: Registry[Callable[[Path], IndexBackend]] = Registry(
    "index backend", {"local": "assistant.backends.local:LocalBackend", "milvus": "assistant.backends.milvus:MilvusBackend"}
)


def backend_names() -> tuple[str, ...]:
    return BACKENDS.names()


def open_backend(name: str, index_dir: Path) -> IndexBackend:
    return BACKENDS.get(name)(index_dir)
