"""The `local` backend: one machine's index folder of plain files.

Versions are generations on disk (store.py): chunk arrays and shared text
blobs (tables.py), sentence vectors with chunk means in FAISS (dense.py),
and a bm25s score matrix rebuilt from a stored term table (lexical.py).
Searching fuses BM25 and dense candidates in this process (fusion.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.backends import Hit, IndexUpdate, IndexVersion, Mode, SearchRequest
from assistant.backends.local.dense import VectorIndex
from assistant.backends.local.lexical import BM25Index, TermTable
from assistant.backends.local.store import (
    StoredIndex,
    current_generation,
    load_index,
    load_terms,
    pointer_state,
    read_manifest,
    remove_leftovers,
    repair_pointer,
    write_generation,
    writer_lock,
)
from assistant.backends.local.tables import ChunkTable
from assistant.fusion import best_first, reciprocal_rank_fusion, weighted_fusion
from assistant.records import Chunk, Document, Manifest
from assistant.segment import Span
from assistant.settings import SearchSettings


class LocalVersion:
    """A generation loaded for answering: arrays memory-mapped, texts read when quoted."""

    def __init__(self, stored: StoredIndex) -> None:
        self.stored = stored

    @property
    def name(self) -> str:
        return self.stored.location.name

    @property
    def manifest(self) -> Manifest:
        return self.stored.manifest

    @property
    def documents(self) -> Mapping[str, Document]:
        return self.stored.documents

    @property
    def stats(self) -> BM25Index:
        return self.stored.bm25

    @property
    def vectors(self) -> VectorIndex:
        return self.stored.vectors

    def chunk(self, chunk_id: int) -> Chunk:
        return self.stored.chunks[chunk_id]

    def missing_texts(self) -> set[str]:
        return self.stored.documents.missing()

    def sentence_vectors(self, doc_id: str) -> Iterator[tuple[Span, np.ndarray]]:
        chunks = self.stored.chunks
        start, stop = chunks.ranges[doc_id]
        first, last = int(chunks.sentence_offsets[start]), int(chunks.sentence_offsets[stop])
        vectors = self.stored.vectors.sentence_vectors
        for row in range(first, last):
            begin, end = chunks.sentences[row]
            yield (int(begin), int(end)), vectors[row]

    def _allowed(self, doc_ids: Collection[str]) -> np.ndarray:
        ranges = self.stored.chunks.ranges
        spans = [range(*ranges[d]) for d in doc_ids if d in ranges]
        return np.fromiter((i for span in spans for i in span), dtype=np.int64)

    def search(
        self, request: SearchRequest, k: int, mode: Mode, settings: SearchSettings, doc_ids: Collection[str] | None = None
    ) -> list[Hit]:
        """BM25 and dense candidates, fused: min-max weighted (the default) or reciprocal rank fusion."""
        bm25, vectors = self.stored.bm25, self.stored.vectors
        candidates = max(settings.candidates, k)
        lexical_all = bm25.scores(list(request.terms))
        if request.context_terms:
            lexical_all = lexical_all + request.context_weight * bm25.scores(list(request.context_terms))
        matching = bm25.matching([*request.terms, *request.context_terms])
        if doc_ids is None:
            dense_ids, _ = vectors.search(request.vector, candidates)
        else:
            allowed = self._allowed(doc_ids)
            matching = np.intersect1d(matching, allowed)
            dense_ids = best_first(allowed, vectors.similarities(request.vector, allowed), candidates)
        lexical_ids = best_first(matching, lexical_all[matching], candidates)
        pool = {"bm25": lexical_ids, "dense": dense_ids}.get(mode)
        if pool is None:
            pool = np.unique(np.concatenate([lexical_ids, dense_ids]))
        if len(pool) == 0:
            return []
        lexical = {int(i): float(lexical_all[i]) for i in pool}
        dense = dict(zip(map(int, pool), map(float, vectors.similarities(request.vector, pool)), strict=True))
        if mode == "bm25":
            ranked = sorted(lexical.items(), key=lambda item: (-item[1], item[0]))
        elif mode == "dense":
            ranked = sorted(dense.items(), key=lambda item: (-item[1], item[0]))
        elif settings.fusion == "rrf":
            ranked = reciprocal_rank_fusion([lexical_ids.tolist(), dense_ids.tolist()], settings.rrf_k)
        else:
            ranked = weighted_fusion(lexical, dense, settings.dense_weight)
        return [
            Hit(
                chunk_id,
                score,
                lexical[chunk_id],
                dense[chunk_id],
                tuple(map(float, vectors.sentence_similarities(request.vector, chunk_id))),
            )
            for chunk_id, score in ranked[:k]
        ]


class LocalBackend:
    name = "local"

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    @property
    def location(self) -> str:
        return f"{self.index_dir}/"

    def version_name(self) -> str:
        return pointer_state(self.index_dir)

    def read_manifest(self) -> Manifest:
        return read_manifest(current_generation(self.index_dir))

    def open(self) -> LocalVersion:
        return LocalVersion(load_index(self.index_dir))

    @contextmanager
    def writing(self, wait: float) -> Iterator[None]:
        with writer_lock(self.index_dir, wait):
            repair_pointer(self.index_dir)  # first, so that the generation readers fall back to is kept
            remove_leftovers(self.index_dir)  # what a killed writer left
            yield

    def commit(self, update: IndexUpdate, previous: IndexVersion | None) -> str:
        """Write the next generation: runs of kept documents copied from `previous` as whole ranges."""
        base = previous.stored if isinstance(previous, LocalVersion) else None
        parts = _Parts(base)
        for doc_id in update.manifest.documents:
            fresh = update.fresh.get(doc_id)
            if fresh is None:
                parts.keep(doc_id)
            else:
                parts.add(fresh.chunks, fresh.terms, fresh.vectors, doc_id)
        chunks = ChunkTable.concatenate(parts.close(), list(update.manifest.documents))
        terms = TermTable.assemble(parts.terms, base=parts.base_terms)
        dimension = update.manifest.dimension
        sentence_vectors = (
            np.vstack([b.reshape(-1, dimension) for b in parts.vectors]) if parts.vectors else np.zeros((0, dimension))
        )
        generation = write_generation(
            self.index_dir,
            dataclasses.replace(update.manifest),  # the store stamps its format and files on its own copy
            [fresh.document for fresh in update.fresh.values()],
            chunks,
            VectorIndex.build(np.ascontiguousarray(sentence_vectors, dtype=np.float32), chunks.sentence_offsets),
            BM25Index.from_table(terms, update.manifest.settings.bm25),
            terms,
            previous_texts={r.text_sha256 for r in base.manifest.documents.values()} if base is not None else None,
        )
        return generation.name


class _Parts:
    """The next generation's chunks, terms and vectors, in order: new documents' own, and kept runs as ranges."""

    def __init__(self, base: StoredIndex | None) -> None:
        self.base = base
        self.chunks: list[tuple[ChunkTable, int, int] | ChunkTable] = []
        self.terms: list[tuple[TermTable, int, int] | list[str]] = []
        self.vectors: list[np.ndarray] = []
        self._run: list[int] = []  # [start, stop) of the current run of kept chunks
        self.base_terms: TermTable | None = None  # loaded with the first kept run

    def keep(self, doc_id: str) -> None:
        if self.base is None:
            raise ValueError(f"{doc_id} is kept, but there is no previous version to keep it from")
        start, stop = self.base.chunks.ranges[doc_id]
        if self._run and self._run[1] == start:
            self._run[1] = stop
        else:
            self._flush()
            self._run = [start, stop]

    def add(self, chunks: list[Chunk], terms: list[list[str]], vectors: np.ndarray, doc_id: str) -> None:
        self._flush()
        self.chunks.append(ChunkTable.from_chunks(chunks, [doc_id]))
        self.terms.extend(terms)
        self.vectors.append(vectors)

    def close(self) -> list[tuple[ChunkTable, int, int] | ChunkTable]:
        self._flush()
        return self.chunks

    def _flush(self) -> None:
        if self._run and self.base is not None:
            start, stop = self._run
            if self.base_terms is None:
                self.base_terms = load_terms(self.base.location)
            self.chunks.append((self.base.chunks, start, stop))
            self.terms.append((self.base_terms, start, stop))
            self.vectors.append(np.asarray(self.base.vectors.sentence_range(start, stop)))
        self._run = []
