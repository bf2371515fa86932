"""Building and updating an index: corpus files -> documents -> chunks, terms and vectors -> a new version.

An update costs what the change costs. A file whose size and modification
time match the index is not even read; one whose content hash is unchanged
is kept by the backend as it is; inside a changed or renamed document a
sentence whose text is unchanged keeps its vector. Only new sentence texts
reach the model. A full build is the same path with nothing to keep, so an
index updated step by step holds exactly the chunks a full build would, in
the same order. A document whose stored text has gone missing is read from
the corpus again and stored anew, whatever its file's time says. The backend
(backends/) stores the result; this module decides what it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.backends import IndexBackend, IndexUpdate, IndexVersion, PreparedDocument, open_backend
from assistant.corpus import read_document, scan_files
from assistant.embedders import Embedder
from assistant.errors import CorruptIndexError, EmptyCorpusError, IndexMismatchError, NoIndexError, storage_errors
from assistant.readers import suffix_list
from assistant.records import Chunk, Document, DocumentRecord, Manifest
from assistant.segment import Span, chunk_text
from assistant.settings import IndexSettings, default_backend
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
    version: str | None  # the name of the version written, None when nothing changed
    timings: dict[str, float] = field(default_factory=dict)
    repaired: int = 0  # unchanged documents whose stored text was missing, stored again from the corpus

    @property
    def documents(self) -> int:
        return self.new + self.changed + self.unchanged

    def summary(self) -> str:
        counts = f"+{self.new} new, {self.changed} changed, {self.removed} removed, {self.unchanged} unchanged"
        if self.repaired:
            counts += f", {self.repaired} stored {'text' if self.repaired == 1 else 'texts'} repaired"
        if self.version is None:
            return f"{counts}: the index is up to date ({self.documents} documents, {self.chunks} chunks)"
        return f"{counts}: {self.documents} documents, {self.chunks} chunks ({self.embedded} embedded) in {self.seconds:.1f} s"


def searchable_text(document: Document, chunk: Chunk) -> str:
    """What BM25 sees of a chunk: its article's title, then its text."""
    return f"{document.title}\n{document.text[chunk.start : chunk.end]}"


def embedded_text(document: Document, sentence: Span) -> str:
    """What the embedder sees of a sentence: its article's title, then the sentence."""
    start, end = sentence
    return f"{document.title}\n{document.text[start:end]}"


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class _Entry:
    """A document of the next version: its record, and its document when it is new or changed."""

    doc_id: str
    record: DocumentRecord
    document: Document | None = None
    touched: bool = False  # read again (its file's time changed) but its content had not
    repaired: bool = False  # unchanged, but its stored text was missing: stored again


@dataclass
class _Scan:
    entries: list[_Entry]
    new: int
    changed: int
    removed: int

    @property
    def unchanged(self) -> int:
        return len(self.entries) - self.new - self.changed

    @property
    def repaired(self) -> int:
        return sum(e.repaired for e in self.entries)

    @property
    def anything(self) -> bool:
        return bool(self.new or self.changed or self.removed or any(e.touched or e.repaired for e in self.entries))


@dataclass
class _Draft:
    """A new or changed document, chunked, before its vectors exist."""

    document: Document
    chunks: list[Chunk]
    terms: list[list[str]]
    sentence_texts: list[str]  # what the model embeds, one per sentence row in chunk order


def update_index(
    corpus_dir: Path,
    index_dir: Path,
    settings: IndexSettings | None = None,
    *,
    full: bool = False,
    embedder: Embedder | None = None,
    progress: bool = False,
    wait: float = 60.0,
    backend: IndexBackend | None = None,
) -> UpdateReport:
    """Bring the index at `index_dir` up to date with the articles in `corpus_dir`.

    `settings` default to those of the current index (or the defaults for a
    new one), also when `full`; different settings, or `full`, rebuild every
    document.
    """
    began = time.perf_counter()
    if embedder is not None and settings is not None and not embedder.serves(settings):
        raise ValueError(
            f"embedder {embedder.model_name!r} on {embedder.name} is not the settings' {settings.model!r} on {settings.embedder}"
        )
    if not corpus_dir.is_dir():
        raise EmptyCorpusError(f"no corpus folder at {corpus_dir}/")
    backend = backend or open_backend(default_backend(), index_dir)
    timings: dict[str, float] = {}
    # Disk full, read-only, a file where a folder should be: one line, and the version in use stays in use.
    with storage_errors("update the index", {"index": index_dir, "corpus": corpus_dir}), backend.writing(wait):
        previous = None if full else _open_previous(backend, settings)
        settings = settings or (previous.manifest.settings if previous else _recorded_settings(backend))
        scan = _scan(corpus_dir, previous.manifest.documents if previous else {}, previous.missing_texts() if previous else set())
        timings["scan"] = time.perf_counter() - began
        if previous is not None and not scan.anything:
            chunks = previous.manifest.chunk_count
            return UpdateReport(0, 0, 0, scan.unchanged, chunks, 0, time.perf_counter() - began, None, timings)

        mark = time.perf_counter()
        drafts = [_draft(e.document, settings) for e in scan.entries if e.document is not None]
        timings["chunk"] = time.perf_counter() - mark

        mark = time.perf_counter()
        model = embedder if embedder is not None and embedder.serves(settings) else None
        vectors, embedded, dimension = _sentence_vectors(drafts, scan, previous, model, settings, index_dir, progress)
        timings["embed"] = time.perf_counter() - mark

        mark = time.perf_counter()
        fresh = {
            d.document.doc_id: PreparedDocument(d.document, d.chunks, d.terms, v) for d, v in zip(drafts, vectors, strict=True)
        }
        manifest = _manifest(scan, fresh, settings, dimension, corpus_dir)
        version = backend.commit(IndexUpdate(manifest, fresh), previous)
        timings["write"] = time.perf_counter() - mark

    report = UpdateReport(
        new=scan.new,
        changed=scan.changed,
        removed=scan.removed,
        unchanged=scan.unchanged,
        chunks=manifest.chunk_count,
        embedded=embedded,
        seconds=time.perf_counter() - began,
        version=version,
        timings={k: round(v, 4) for k, v in timings.items()},
        repaired=scan.repaired,
    )
    log.info("%s", report.summary())
    return report


def _open_previous(backend: IndexBackend, settings: IndexSettings | None) -> IndexVersion | None:
    """The version in use, if an update can build on it."""
    try:
        version = backend.open()
    except NoIndexError:
        return None
    except (CorruptIndexError, IndexMismatchError, OSError, ValueError) as error:
        log.warning("cannot build on the current index (%s); rebuilding every document", error)
        return None
    if settings is not None and version.manifest.settings != settings:
        log.warning("index settings changed; rebuilding every document")
        return None
    return version


def _recorded_settings(backend: IndexBackend) -> IndexSettings:
    """The settings the index in use was built with, so that a full rebuild keeps them; the defaults if none is readable."""
    try:
        return backend.read_manifest().settings
    except (NoIndexError, CorruptIndexError, IndexMismatchError):
        return IndexSettings()


def _scan(corpus_dir: Path, known: dict[str, DocumentRecord], missing: set[str]) -> _Scan:
    """The corpus as entries, in order; reads only files whose size or time differ from the index, or whose
    stored text is `missing`."""
    entries: list[_Entry] = []
    new = changed = 0
    for file in scan_files(corpus_dir):
        old = known.get(file.doc_id)
        stored = file.doc_id not in missing
        # An entry without a format was written before readers and lacks the metadata they find: read it once more.
        if old is not None and (old.size, old.mtime_ns) == (file.size, file.mtime_ns) and old.format and stored:
            entries.append(_Entry(file.doc_id, old))
            continue
        document = read_document(Path(file.path), corpus_dir)
        if document is None:
            continue
        record = DocumentRecord.of(document, file.size, file.mtime_ns)
        if old is not None and old.sha256 == document.sha256:
            if stored:
                entries.append(_Entry(file.doc_id, dataclasses.replace(record, chunks=old.chunks), touched=True))
            else:
                log.warning("the stored text of %s is missing; storing it again from the corpus", file.doc_id)
                entries.append(_Entry(file.doc_id, record, document, repaired=True))
            continue
        new += old is None
        changed += old is not None
        entries.append(_Entry(file.doc_id, record, document))
    if not entries:
        raise EmptyCorpusError(f"no readable {suffix_list('or')} articles in {corpus_dir}/ — nothing indexed")
    present = {e.doc_id for e in entries}
    return _Scan(entries, new, changed, removed=sum(doc_id not in present for doc_id in known))


def _draft(document: Document, settings: IndexSettings) -> _Draft:
    """A document cut into chunks of whole sentences, with each chunk's terms and each sentence's text to embed."""
    spans = chunk_text(document.text, settings.chunk_words, settings.overlap_sentences, document.body_start)
    chunks = [Chunk(i, document.doc_id, s.start, s.end, s.sentences) for i, s in enumerate(spans)]
    return _Draft(
        document=document,
        chunks=chunks,
        terms=[document_terms(searchable_text(document, chunk)) for chunk in chunks],
        sentence_texts=[embedded_text(document, sentence) for chunk in chunks for sentence in chunk.sentences],
    )


def _reusable_vectors(scan: _Scan, previous: IndexVersion | None) -> dict[str, np.ndarray]:
    """Old sentence vectors by embedded text, from the documents that changed, went away or are repaired.

    A document's old text comes from the corpus file when that still holds it (its stored copy may be
    gone); a document whose old text is nowhere intact gives no vectors.
    """
    if previous is None:
        return {}
    read = {e.doc_id: e.document for e in scan.entries if e.document is not None}
    kept = {e.doc_id for e in scan.entries if e.document is None}
    reusable: dict[str, np.ndarray] = {}
    for doc_id, record in previous.manifest.documents.items():
        if doc_id in kept:
            continue
        again = read.get(doc_id)
        if again is not None and again.text_sha256 == record.text_sha256:
            document = record.document(doc_id, again.text)
        else:
            try:
                document = previous.documents[doc_id]
            except CorruptIndexError:
                log.warning("the stored text of %s is missing or damaged; its sentences are embedded again", doc_id)
                continue
        for sentence, vector in previous.sentence_vectors(doc_id):
            reusable.setdefault(_text_key(embedded_text(document, sentence)), vector)
    return reusable


def _sentence_vectors(
    drafts: list[_Draft],
    scan: _Scan,
    previous: IndexVersion | None,
    model: Embedder | None,
    settings: IndexSettings,
    index_dir: Path,
    progress: bool,
) -> tuple[list[np.ndarray], int, int]:
    """Each draft's sentence vectors (old ones reused by text, each new text embedded once), the count embedded, the dimension."""
    reusable = _reusable_vectors(scan, previous)
    new_texts: dict[str, str] = {}
    for draft in drafts:
        for text in draft.sentence_texts:
            key = _text_key(text)
            if key not in reusable:
                new_texts.setdefault(key, text)
    if new_texts and model is None:
        model = Embedder.for_index(settings, index_dir)
    if model is not None:
        dimension = model.dimension
    elif previous is not None:
        dimension = previous.manifest.dimension
    else:
        raise ValueError("nothing to embed and no index to take vectors from")
    if new_texts and model is not None:
        embedded = model.encode_documents(list(new_texts.values()), progress=progress)
        reusable.update(zip(new_texts, embedded, strict=True))
    vectors = []
    for draft in drafts:
        rows = [reusable[_text_key(text)] for text in draft.sentence_texts]
        vectors.append(np.array(rows, dtype=np.float32).reshape(-1, dimension))
    return vectors, len(new_texts), dimension


def _manifest(
    scan: _Scan, fresh: dict[str, PreparedDocument], settings: IndexSettings, dimension: int, corpus_dir: Path
) -> Manifest:
    documents = {}
    for entry in scan.entries:
        record = entry.record
        if entry.doc_id in fresh:
            record = dataclasses.replace(record, chunks=len(fresh[entry.doc_id].chunks))
        documents[entry.doc_id] = record
    return Manifest(
        model=settings.model,
        dimension=dimension,
        settings=settings,
        documents=documents,
        chunk_count=sum(r.chunks for r in documents.values()),
        corpus=str(corpus_dir.resolve()),
    )
