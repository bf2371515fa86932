"""The `local` backend: one machine's index folder of plain files.

A version on disk (store.py) is a list of immutable segments (segments.py),
each with chunk arrays (tables.py), float16 sentence vectors with chunk
means in FAISS (dense.py) and postings (lexical.py), plus the documents
deleted from each; texts are shared blobs. An update writes a segment of
what is new and marks what it replaces; merges keep the count of segments
small. Searching fuses BM25 (with the statistics of all segments) and dense
candidates in this process (fusion.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.backends import Hit, IndexUpdate, IndexVersion, Mode, SearchRequest
from assistant.backends.local.dense import SegmentedVectors
from assistant.backends.local.lexical import BM25Index
from assistant.backends.local.segments import Segment, plan_merges
from assistant.backends.local.store import (
    SEGMENTS,
    SegmentRef,
    StoredIndex,
    VersionFile,
    current_generation,
    load_index,
    pointer_state,
    read_manifest,
    remove_leftovers,
    repair_pointer,
    texts_in_use,
    unused_texts,
    write_texts,
    write_version,
    writer_lock,
)
from assistant.fusion import best_first, reciprocal_rank_fusion, weighted_fusion
from assistant.records import Chunk, Document, DocumentRecord, Manifest
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
    def vectors(self) -> SegmentedVectors:
        return self.stored.vectors

    def chunk(self, chunk_id: int) -> Chunk:
        return self.stored.chunks[chunk_id]

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        return [self.stored.chunks[i] for i in self.stored.chunks.of_document(doc_id)]

    def missing_texts(self) -> set[str]:
        return self.stored.documents.missing(self.stored.records.text_pairs())

    def sentence_vectors(self, doc_id: str) -> Iterator[tuple[Span, np.ndarray]]:
        for chunk_id in self.stored.chunks.of_document(doc_id):
            chunk = self.stored.chunks[chunk_id]
            yield from zip(chunk.sentences, self.stored.vectors.sentence_rows(chunk_id).astype(np.float32), strict=True)

    def _allowed(self, doc_ids: Collection[str]) -> np.ndarray:
        return self.stored.chunks.of_documents(doc_ids)

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
        """Write a segment of the new and changed documents, mark the ones they replace or that went away as
        deleted in their segments, merge as `plan_merges` says, and switch to the version that lists them.
        Only the update's documents are looked at: adding one article to a large index costs the article."""
        base = previous.stored if isinstance(previous, LocalVersion) else None
        wanted = update.manifest.documents
        gone = sorted(update.fresh.doc_ids | update.removed)  # documents whose rows in their segment are deleted
        parts: list[tuple[Segment, frozenset[str]]] = []
        overrides: dict[str, DocumentRecord] = {}
        if base is not None:
            for segment, ref in zip(base.segments, base.version.segments, strict=True):
                rows = segment.records.rows(gone)
                deleted = ref.deleted | {d for d, row in zip(gone, rows.tolist(), strict=True) if row >= 0}
                if len(deleted) < len(segment.records):
                    parts.append((segment, frozenset(deleted)))
            overrides = {d: r for d, r in base.version.records.items() if d not in update.fresh and d not in update.removed}
        overrides.update({d: wanted[d] for d in update.touched})
        for batch in update.fresh.batches():  # a segment per batch: a build holds one batch in memory
            write_texts(self.index_dir, [prepared.document for prepared in batch])
            parts.append((Segment.of_documents(batch, wanted).write(self.index_dir / SEGMENTS), frozenset()))
        parts = _merged(parts, overrides, self.index_dir)
        manifest = update.manifest
        version = VersionFile(
            model=manifest.model,
            dimension=manifest.dimension,
            settings=manifest.settings,
            corpus=manifest.corpus,
            chunk_count=manifest.chunk_count,
            segments=[SegmentRef(segment.name, deleted) for segment, deleted in parts],
            records=overrides,
        )
        if base is None:  # a full build: sweep every blob that neither this version nor the replaced one uses
            used = {record.text_sha256 for record in wanted.values()}
            removable = unused_texts(self.index_dir, used | texts_in_use(self.index_dir))
        else:
            before = base.manifest.documents
            candidates = {before[d].text_sha256 for d in gone if d in before}
            released = {sha for sha in candidates | set(base.version.released_texts) if not _uses_text(parts, sha)}
            removable = released & set(base.version.released_texts)
            version.released_texts = sorted(released & candidates)
        generation = write_version(self.index_dir, version, removable)
        return generation.name


def _uses_text(parts: list[tuple[Segment, frozenset[str]]], sha256: str) -> bool:
    """Whether a live document of `parts` has the text of this hash (a version's own records never change a text)."""
    return any(
        segment.records.doc_id(row) not in deleted
        for segment, deleted in parts
        for row in segment.records.rows_with_text(sha256).tolist()
    )


def _merged(
    parts: list[tuple[Segment, frozenset[str]]], overrides: dict[str, DocumentRecord], index_dir: Path
) -> list[tuple[Segment, frozenset[str]]]:
    """`parts` with each group `plan_merges` names replaced, where its first member was, by one merged segment.
    A merged segment holds its documents' records as `overrides` gives them, so they leave `overrides`."""
    while groups := plan_merges([(s.size, s.deleted_chunks(d)) for s, d in parts]):
        for group in sorted(groups, key=min, reverse=True):
            merged = Segment.merged([parts[i] for i in group], overrides).write(index_dir / SEGMENTS)
            for doc_id in [d for d in overrides if d in merged.records]:
                del overrides[doc_id]
            parts[min(group)] = (merged, frozenset())
            for i in sorted(group, reverse=True)[:-1]:
                del parts[i]
    return parts
