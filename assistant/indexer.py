"""Building and updating an index: documents -> chunks -> BM25 terms and vectors -> a generation.

An update costs what the change costs. A file whose size and modification
time match the index is not even read; one whose content hash is unchanged
keeps its chunks, vectors and terms, copied as whole ranges; inside a
changed or renamed document a sentence whose text is unchanged keeps its
vector. Only new sentence texts reach the model. A full build is the same path
with nothing to keep, so an index updated step by step holds exactly the
chunks a full build would, in the same order.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.corpus import read_document, scan_files
from assistant.dense import VectorIndex
from assistant.embedder import Embedder, model_cache
from assistant.errors import CorruptIndexError, EmptyCorpusError, IndexMismatchError, NoIndexError
from assistant.lexical import BM25Index, TermTable
from assistant.records import Chunk, Document
from assistant.segment import Span, chunk_text
from assistant.settings import IndexSettings
from assistant.store import (
    Manifest,
    StoredIndex,
    load_index,
    load_terms,
    remove_leftovers,
    write_generation,
    writer_lock,
)
from assistant.tables import ChunkTable
from assistant.textnorm import document_terms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateReport:
    new: int
    changed: int
    removed: int
    unchanged: int
    chunks: int
    embedded: int  # texts sent to the model
    seconds: float
    location: Path | None  # the generation written, None when nothing changed
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def documents(self) -> int:
        return self.new + self.changed + self.unchanged

    def summary(self) -> str:
        counts = f"+{self.new} new, {self.changed} changed, {self.removed} removed, {self.unchanged} unchanged"
        if self.location is None:
            return f"{counts}: the index is up to date ({self.documents} documents, {self.chunks} chunks)"
        return f"{counts}: {self.documents} documents, {self.chunks} chunks ({self.embedded} embedded) in {self.seconds:.1f} s"


def searchable_text(document: Document, chunk: Chunk) -> str:
    """What BM25 sees of a chunk: its article's title, then its text."""
    return f"{document.title}\n{document.text[chunk.start : chunk.end]}"


def embedded_text(document: Document, sentence: Span) -> str:
    """What the embedder sees of a sentence: its article's title, then the sentence."""
    start, end = sentence
    return f"{document.title}\n{document.text[start:end]}"


def _model_of(embedder: Embedder) -> tuple[str, str]:
    return embedder.model_name, embedder.backend


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class _Previous:
    index: StoredIndex
    terms: TermTable


@dataclass
class _Entry:
    """A document of the new generation: its manifest record, and its text if it must be chunked."""

    doc_id: str
    record: dict[str, Any]
    document: Document | None = None


def _load_previous(index_dir: Path, settings: IndexSettings | None) -> _Previous | None:
    """The generation in use, if an update can build on it."""
    try:
        index = load_index(index_dir)
        terms = load_terms(index.location)
    except NoIndexError:
        return None
    except (CorruptIndexError, IndexMismatchError, OSError, ValueError) as error:
        log.warning("cannot build on the current index (%s); rebuilding every document", error)
        return None
    if settings is not None and index.manifest.settings != settings:
        log.warning("index settings changed; rebuilding every document")
        return None
    return _Previous(index, terms)


def _scan(corpus_dir: Path, known: dict[str, dict[str, Any]]) -> tuple[list[_Entry], int, int]:
    """The corpus as entries, in order; reads only files whose size or time differ from the index."""
    entries: list[_Entry] = []
    new = changed = 0
    for file in scan_files(corpus_dir):
        doc_id = file.doc_id
        old = known.get(doc_id)
        if old is not None and (old.get("size"), old.get("mtime_ns")) == (file.size, file.mtime_ns):
            entries.append(_Entry(doc_id, old))
            continue
        document = read_document(Path(file.path), corpus_dir)
        if document is None:
            continue
        record = {
            "path": document.path,
            "title": document.title,
            "sha256": document.sha256,
            "body_start": document.body_start,
            "size": file.size,
            "mtime_ns": file.mtime_ns,
        }
        if old is not None and old["sha256"] == document.sha256:
            entries.append(_Entry(doc_id, {**old, **record}))  # touched, not changed
            continue
        new += old is None
        changed += old is not None
        entries.append(_Entry(doc_id, record, document))
    return entries, new, changed


def update_index(
    corpus_dir: Path,
    index_dir: Path,
    settings: IndexSettings | None = None,
    *,
    full: bool = False,
    embedder: Embedder | None = None,
    progress: bool = False,
    wait: float = 60.0,
) -> UpdateReport:
    """Bring the index at `index_dir` up to date with the articles in `corpus_dir`.

    `settings` default to those of the current index (or the defaults for a
    new one); different settings, or `full`, rebuild every document.
    """
    began = time.perf_counter()
    timings: dict[str, float] = {}
    if embedder is not None and settings is not None and _model_of(embedder) != (settings.model, settings.backend):
        raise ValueError(f"embedder {_model_of(embedder)} is not the settings' {settings.model!r} on {settings.backend}")
    if not corpus_dir.is_dir():
        raise EmptyCorpusError(f"no corpus folder at {corpus_dir}/")
    with writer_lock(index_dir, wait):
        remove_leftovers(index_dir)
        previous = None if full else _load_previous(index_dir, settings)
        settings = settings or (previous.index.manifest.settings if previous else IndexSettings())
        known = previous.index.manifest.documents if previous else {}
        entries, new, changed = _scan(corpus_dir, known)
        if not entries:
            raise EmptyCorpusError(f"no readable .txt or .md articles in {corpus_dir}/ — nothing indexed")
        present = {e.doc_id for e in entries}
        removed = sum(doc_id not in present for doc_id in known)
        unchanged = len(entries) - new - changed
        timings["scan"] = time.perf_counter() - began
        touched = any(e.record is not known.get(e.doc_id) for e in entries)
        if previous is not None and not (new or changed or removed or touched):
            return UpdateReport(0, 0, 0, unchanged, len(previous.index.chunks), 0, time.perf_counter() - began, None, timings)

        mark = time.perf_counter()
        plan = _Plan(previous, entries, settings)
        timings["chunk"] = time.perf_counter() - mark

        mark = time.perf_counter()
        model = embedder if embedder is not None and _model_of(embedder) == (settings.model, settings.backend) else None
        if plan.new_texts and model is None:
            model = Embedder(settings.model, settings.batch_size, settings.backend, model_cache(index_dir))
        dimension = model.dimension if model is not None else previous.index.manifest.dimension
        sentence_vectors = plan.sentence_vectors(model, dimension, progress)
        timings["embed"] = time.perf_counter() - mark

        mark = time.perf_counter()
        terms = TermTable.assemble(plan.term_parts, base=previous.terms if previous else None)
        bm25 = BM25Index.from_table(terms, settings.bm25)
        timings["bm25"] = time.perf_counter() - mark

        mark = time.perf_counter()
        doc_ids = [e.doc_id for e in entries]
        chunks = ChunkTable.concatenate(plan.chunk_parts, doc_ids)
        counts = np.bincount(chunks.doc_index, minlength=len(entries))
        manifest = Manifest(
            model=settings.model,
            dimension=dimension,
            settings=settings,
            documents={e.doc_id: {**e.record, "chunks": int(n)} for e, n in zip(entries, counts, strict=True)},
            chunk_count=len(chunks),
            corpus=str(corpus_dir.resolve()),
        )
        location = write_generation(
            index_dir,
            manifest,
            [e.document for e in entries if e.document is not None],
            chunks,
            VectorIndex.build(sentence_vectors, chunks.sentence_offsets),
            bm25,
            terms,
            previous_texts={r["sha256"] for r in known.values()} if previous else None,
        )
        timings["write"] = time.perf_counter() - mark

    report = UpdateReport(
        new=new,
        changed=changed,
        removed=removed,
        unchanged=unchanged,
        chunks=len(chunks),
        embedded=len(plan.new_texts),
        seconds=time.perf_counter() - began,
        location=location,
        timings={k: round(v, 4) for k, v in timings.items()},
    )
    log.info("%s", report.summary())
    return report


class _Plan:
    """Where each chunk of the new generation comes from, in corpus order.

    Runs of unchanged documents are ranges of the previous generation's
    chunks, sentence vectors and term rows; a changed document is chunked
    again, and each of its sentences takes an old vector if an old sentence
    had the same text (and title). Each new sentence text is embedded once.
    """

    def __init__(self, previous: _Previous | None, entries: list[_Entry], settings: IndexSettings) -> None:
        self.previous = previous
        self.chunk_parts: list[tuple[ChunkTable, int, int] | ChunkTable] = []
        self.term_parts: list[tuple[TermTable, int, int] | list[str]] = []
        self.vector_parts: list[tuple[int, int] | list[int]] = []  # old chunk ranges, or rows: old (>= 0) / new (~i)
        self.new_texts: list[str] = []
        self._new_keys: dict[str, int] = {}
        old_ranges = previous.index.chunks.ranges if previous else {}
        reusable = self._reusable_vectors(entries, old_ranges)
        run: list[int] = []  # [start, stop) of the current run of unchanged chunks
        for entry in entries:
            if entry.document is None:
                start, stop = old_ranges[entry.doc_id]
                if run and run[1] == start:
                    run[1] = stop
                else:
                    self._close_run(run)
                    run = [start, stop]
                continue
            self._close_run(run)
            run = []
            self._add_document(entry.document, settings, reusable)
        self._close_run(run)

    def _close_run(self, run: list[int]) -> None:
        if run and self.previous is not None:
            start, stop = run
            self.chunk_parts.append((self.previous.index.chunks, start, stop))
            self.term_parts.append((self.previous.terms, start, stop))
            self.vector_parts.append((start, stop))

    def _reusable_vectors(self, entries: list[_Entry], old_ranges: dict[str, tuple[int, int]]) -> dict[str, int]:
        """Old sentence-vector rows by embedded text, for the documents that changed or went away."""
        if self.previous is None:
            return {}
        kept = {e.doc_id for e in entries if e.document is None}
        chunks = self.previous.index.chunks
        reusable: dict[str, int] = {}
        for doc_id, (start, stop) in old_ranges.items():
            if doc_id in kept:
                continue
            document = self.previous.index.documents[doc_id]
            first, last = int(chunks.sentence_offsets[start]), int(chunks.sentence_offsets[stop])
            for row in range(first, last):
                begin, end = chunks.sentences[row]
                reusable.setdefault(_text_key(embedded_text(document, (int(begin), int(end)))), row)
        return reusable

    def _add_document(self, document: Document, settings: IndexSettings, reusable: dict[str, int]) -> None:
        spans = chunk_text(document.text, settings.chunk_words, settings.overlap_sentences, document.body_start)
        chunks = [Chunk(i, document.doc_id, s.start, s.end, s.sentences) for i, s in enumerate(spans)]
        self.chunk_parts.append(ChunkTable.from_chunks(chunks, [document.doc_id]))
        rows: list[int] = []
        for chunk in chunks:
            self.term_parts.append(document_terms(searchable_text(document, chunk)))
            for sentence in chunk.sentences:
                text = embedded_text(document, sentence)
                key = _text_key(text)
                if key in reusable:
                    rows.append(reusable[key])
                    continue
                if key not in self._new_keys:
                    self._new_keys[key] = len(self.new_texts)
                    self.new_texts.append(text)
                rows.append(~self._new_keys[key])
        self.vector_parts.append(rows)

    def sentence_vectors(self, model: Embedder | None, dimension: int, progress: bool) -> np.ndarray:
        """The new generation's sentence vectors, in chunk order: old rows copied, new texts embedded."""
        fresh = model.encode_documents(self.new_texts, progress=progress) if self.new_texts and model else None
        old = self.previous.index.vectors if self.previous else None
        blocks = []
        for part in self.vector_parts:
            if isinstance(part, tuple):
                blocks.append(np.asarray(old.sentence_range(*part)))
                continue
            rows = np.array(part, dtype=np.int64)
            block = np.empty((len(rows), dimension), dtype=np.float32)
            reused = rows >= 0
            if reused.any():
                block[reused] = old.sentence_vectors[rows[reused]]
            if not reused.all():
                block[~reused] = fresh[~rows[~reused]]
            blocks.append(block)
        blocks = [b.reshape(-1, dimension) for b in blocks]
        return np.ascontiguousarray(np.vstack(blocks), dtype=np.float32) if blocks else np.zeros((0, dimension), np.float32)
