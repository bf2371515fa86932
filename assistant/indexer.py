"""Building and updating an index: documents -> chunks -> BM25 terms and vectors -> a generation.

An update costs what the change costs: documents whose content hash is
unchanged keep their chunks, vectors and terms; inside a changed or renamed
document, a chunk whose text is unchanged keeps its vector. Only new chunk
texts reach the model. A full build is the same path with nothing to keep,
so an index updated step by step holds exactly the chunks a full build
would, in the same order.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from assistant.corpus import read_corpus
from assistant.dense import VectorIndex
from assistant.embedder import Embedder
from assistant.errors import CorruptIndexError, EmptyCorpusError, IndexMismatchError, NoIndexError
from assistant.lexical import BM25Index, TermTable
from assistant.records import Chunk, Document
from assistant.segment import chunk_text
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
    """What BM25 and the embedder see of a chunk: its article's title, then its text."""
    return f"{document.title}\n{document.text[chunk.start : chunk.end]}"


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class _Previous:
    index: StoredIndex
    terms: TermTable

    def chunks_by_document(self) -> dict[str, list[Chunk]]:
        grouped: dict[str, list[Chunk]] = defaultdict(list)
        for chunk in self.index.chunks:
            grouped[chunk.doc_id].append(chunk)
        return grouped


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
    if embedder is not None and settings is not None and embedder.model_name != settings.model:
        raise ValueError(f"embedder {embedder.model_name!r} is not the model of the settings, {settings.model!r}")
    if not corpus_dir.is_dir():
        raise EmptyCorpusError(f"no corpus folder at {corpus_dir}/")
    with writer_lock(index_dir, wait):
        remove_leftovers(index_dir)
        previous = None if full else _load_previous(index_dir, settings)
        settings = settings or (previous.index.manifest.settings if previous else IndexSettings())
        documents = read_corpus(corpus_dir)
        if not documents:
            raise EmptyCorpusError(f"no readable .txt or .md articles in {corpus_dir}/ — nothing indexed")
        timings["read"] = time.perf_counter() - began

        known = previous.index.manifest.documents if previous else {}
        current_ids = {d.doc_id for d in documents}
        new = [d for d in documents if d.doc_id not in known]
        changed = [d for d in documents if d.doc_id in known and known[d.doc_id]["sha256"] != d.sha256]
        removed = [doc_id for doc_id in known if doc_id not in current_ids]
        unchanged = len(documents) - len(new) - len(changed)
        if previous is not None and not (new or changed or removed):
            return UpdateReport(0, 0, 0, unchanged, len(previous.index.chunks), 0, time.perf_counter() - began, None, timings)

        mark = time.perf_counter()
        chunks, vector_sources, term_rows, new_texts = _plan(documents, previous, {d.doc_id for d in new + changed}, settings)
        timings["chunk"] = time.perf_counter() - mark

        mark = time.perf_counter()
        model = embedder if embedder is not None and embedder.model_name == settings.model else None
        if new_texts and model is None:
            model = Embedder(settings.model, settings.batch_size)
        dimension = model.dimension if model is not None else previous.index.manifest.dimension
        vectors = _assemble_vectors(vector_sources, previous, model, new_texts, dimension, progress)
        timings["embed"] = time.perf_counter() - mark

        mark = time.perf_counter()
        terms = TermTable.assemble(term_rows, base=previous.terms if previous else None)
        bm25 = BM25Index.from_table(terms, settings.bm25)
        timings["bm25"] = time.perf_counter() - mark

        mark = time.perf_counter()
        counts: dict[str, int] = defaultdict(int)
        for chunk in chunks:
            counts[chunk.doc_id] += 1
        manifest = Manifest(
            model=settings.model,
            dimension=dimension,
            settings=settings,
            documents={
                d.doc_id: {"path": d.path, "title": d.title, "sha256": d.sha256, "chunks": counts[d.doc_id]} for d in documents
            },
            chunk_count=len(chunks),
            corpus=str(corpus_dir.resolve()),
        )
        location = write_generation(index_dir, manifest, documents, chunks, VectorIndex.build(vectors), bm25, terms)
        timings["write"] = time.perf_counter() - mark

    report = UpdateReport(
        new=len(new),
        changed=len(changed),
        removed=len(removed),
        unchanged=unchanged,
        chunks=len(chunks),
        embedded=len(new_texts),
        seconds=time.perf_counter() - began,
        location=location,
        timings={k: round(v, 4) for k, v in timings.items()},
    )
    log.info("%s", report.summary())
    return report


def _plan(
    documents: list[Document],
    previous: _Previous | None,
    to_chunk: set[str],
    settings: IndexSettings,
) -> tuple[list[Chunk], list[int | str], list[tuple[TermTable, int] | list[str]], list[str]]:
    """The new generation's chunks, in corpus order, and where each one's vector and terms come from.

    A vector source is an old chunk id, or the text to embed; a term row is an
    old table row, or the terms of a new chunk.
    """
    old_by_document = previous.chunks_by_document() if previous else {}
    reusable: dict[str, int] = {}
    if previous is not None:
        current = {d.doc_id for d in documents}
        for doc_id, old_chunks in old_by_document.items():
            if doc_id in to_chunk or doc_id not in current:
                old_document = previous.index.documents[doc_id]
                for chunk in old_chunks:
                    reusable.setdefault(_text_key(searchable_text(old_document, chunk)), chunk.chunk_id)
    chunks: list[Chunk] = []
    vector_sources: list[int | str] = []
    term_rows: list[tuple[TermTable, int] | list[str]] = []
    new_texts: list[str] = []
    for document in documents:
        if document.doc_id not in to_chunk and previous is not None:
            for old in old_by_document[document.doc_id]:
                chunks.append(replace(old, chunk_id=len(chunks)))
                vector_sources.append(old.chunk_id)
                term_rows.append((previous.terms, old.chunk_id))
            continue
        spans = chunk_text(document.text, settings.chunk_words, settings.overlap_sentences, document.body_start)
        for span in spans:
            chunk = Chunk(len(chunks), document.doc_id, span.start, span.end, span.sentences)
            text = searchable_text(document, chunk)
            chunks.append(chunk)
            old_id = reusable.get(_text_key(text))
            if old_id is None:
                vector_sources.append(text)
                new_texts.append(text)
            else:
                vector_sources.append(old_id)
            term_rows.append(document_terms(text))
    return chunks, vector_sources, term_rows, new_texts


def _assemble_vectors(
    sources: list[int | str],
    previous: _Previous | None,
    model: Embedder | None,
    new_texts: list[str],
    dimension: int,
    progress: bool,
) -> np.ndarray:
    vectors = np.empty((len(sources), dimension), dtype=np.float32)
    old_positions = [i for i, s in enumerate(sources) if isinstance(s, int)]
    if old_positions and previous is not None:
        old_ids = np.fromiter((sources[i] for i in old_positions), dtype=np.int64, count=len(old_positions))
        vectors[old_positions] = previous.index.vectors.vectors(old_ids)
    if new_texts and model is not None:
        new_positions = [i for i, s in enumerate(sources) if isinstance(s, str)]
        vectors[new_positions] = model.encode_documents(new_texts, progress=progress)
    return vectors
