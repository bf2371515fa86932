"""Building an index: documents -> chunks -> BM25 terms and vectors -> a generation on disk."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus import read_corpus
from assistant.dense import VectorIndex
from assistant.embedder import Embedder
from assistant.errors import EmptyCorpusError
from assistant.lexical import BM25Index
from assistant.records import Chunk, Document
from assistant.segment import chunk_text
from assistant.settings import IndexSettings
from assistant.store import Manifest, write_generation
from assistant.textnorm import document_terms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildReport:
    documents: int
    chunks: int
    seconds: float
    location: Path


def chunk_documents(documents: list[Document], settings: IndexSettings) -> list[Chunk]:
    chunks: list[Chunk] = []
    for document in documents:
        for span in chunk_text(document.text, settings.chunk_words, settings.overlap_sentences, document.body_start):
            chunks.append(Chunk(len(chunks), document.doc_id, span.start, span.end, span.sentences))
    return chunks


def searchable_text(document: Document, chunk: Chunk) -> str:
    """What BM25 and the embedder see of a chunk: its article's title, then its text."""
    return f"{document.title}\n{document.text[chunk.start : chunk.end]}"


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    settings: IndexSettings,
    progress: bool = False,
) -> BuildReport:
    began = time.perf_counter()
    if not corpus_dir.is_dir():
        raise EmptyCorpusError(f"no corpus folder at {corpus_dir}/")
    documents = read_corpus(corpus_dir)
    if not documents:
        raise EmptyCorpusError(f"no readable .txt or .md articles in {corpus_dir}/ — nothing indexed")
    by_id = {d.doc_id: d for d in documents}
    chunks = chunk_documents(documents, settings)
    texts = [searchable_text(by_id[c.doc_id], c) for c in chunks]
    embedder = Embedder(settings.model, settings.batch_size)
    vectors = VectorIndex.build(embedder.encode_documents(texts, progress=progress))
    bm25 = BM25Index.build([document_terms(t) for t in texts], settings.bm25)
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    manifest = Manifest(
        model=settings.model,
        dimension=embedder.dimension,
        settings=settings,
        documents={
            d.doc_id: {"path": d.path, "title": d.title, "sha256": d.sha256, "chunks": counts.get(d.doc_id, 0)} for d in documents
        },
        chunk_count=len(chunks),
        corpus=str(corpus_dir.resolve()),
    )
    location = write_generation(index_dir, manifest, documents, chunks, vectors, bm25)
    seconds = time.perf_counter() - began
    log.info("indexed %d documents, %d chunks in %.1f s", len(documents), len(chunks), seconds)
    return BuildReport(len(documents), len(chunks), seconds, location)
