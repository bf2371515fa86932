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
from collections.abc import Collection, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from assistant.backends import FreshDocuments, IndexBackend, IndexUpdate, IndexVersion, PreparedDocument, open_backend
from assistant.corpus import CorpusFile, corpus_file, read_document, scan_files
from assistant.embedders import Embedder
from assistant.errors import CorruptIndexError, EmptyCorpusError, IndexMismatchError, NoIndexError, storage_errors
from assistant.readers import suffix_list
from assistant.records import Chunk, Document, DocumentRecord, Manifest, RecordOverlay
from assistant.segment import Span, chunk_text
from assistant.settings import IndexSettings, default_backend
from assistant.textnorm import document_terms

log = logging.getLogger(__name__)

BATCH_CHUNKS = 20_000  # chunks drafted and embedded at a time, each batch a segment: a build's memory is one batch's


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
    """What changed: `entries` are the files looked at (every file of the corpus, or only the ones named),
    `removed` the indexed documents whose file is gone, `known` how many the index held."""

    entries: list[_Entry]
    new: int
    changed: int
    removed: list[str]
    known: int
    partial: bool  # only named files were looked at: every other indexed document stays as it is

    @property
    def unchanged(self) -> int:
        return self.known - len(self.removed) - self.changed

    @property
    def repaired(self) -> int:
        return sum(e.repaired for e in self.entries)

    @property
    def anything(self) -> bool:
        return bool(self.new or self.changed or self.removed or any(e.touched or e.repaired for e in self.entries))

    @property
    def touched(self) -> frozenset[str]:
        return frozenset(e.doc_id for e in self.entries if e.touched)


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
    only: Collection[str] | None = None,
) -> UpdateReport:
    """Bring the index at `index_dir` up to date with the articles in `corpus_dir`.

    `settings` default to those of the current index (or the defaults for a
    new one), also when `full`; different settings, or `full`, rebuild every
    document. `only` names the documents (paths relative to the corpus) known
    to have been added, changed or removed: the rest of the corpus is not
    even listed, so that adding one article to a large index costs the
    article (an upload, `assistant add`, `assistant remove`).
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
        timings["open"] = time.perf_counter() - began
        settings = settings or (previous.manifest.settings if previous else _recorded_settings(backend))
        if previous is None:
            scan = _scan(corpus_dir, {}, set())
        elif only is not None:
            scan = _scan(corpus_dir, previous.manifest.documents, set(), only)
        else:
            scan = _scan(corpus_dir, previous.manifest.documents, previous.missing_texts())
        timings["scan"] = time.perf_counter() - began - timings["open"]
        if previous is not None and not scan.anything:
            chunks = previous.manifest.chunk_count
            return UpdateReport(0, 0, 0, scan.unchanged, chunks, 0, time.perf_counter() - began, None, timings)

        mark = time.perf_counter()
        model = embedder if embedder is not None and embedder.serves(settings) else None
        if previous is not None:
            dimension = previous.manifest.dimension
        else:
            model = model or Embedder.for_index(settings, index_dir)
            dimension = model.dimension
        manifest, records = _manifest(scan, settings, dimension, corpus_dir, previous.manifest if previous else None)
        preparer = _Preparer(settings, index_dir, model, _reusable_vectors(scan, previous), dimension, timings)
        documents = [e.document for e in scan.entries if e.document is not None]
        fresh = FreshDocuments([d.doc_id for d in documents], preparer.batches(documents, manifest, records, progress))
        timings["carry"] = time.perf_counter() - mark
        mark = time.perf_counter()
        version = backend.commit(IndexUpdate(manifest, fresh, frozenset(scan.removed), scan.touched), previous)
        timings["write"] = time.perf_counter() - mark - timings.get("chunk", 0.0) - timings.get("embed", 0.0)

    report = UpdateReport(
        new=scan.new,
        changed=scan.changed,
        removed=len(scan.removed),
        unchanged=scan.unchanged,
        chunks=manifest.chunk_count,
        embedded=preparer.embedded,
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


def _scan(corpus_dir: Path, known: Mapping[str, DocumentRecord], missing: set[str], only: Collection[str] | None = None) -> _Scan:
    """The corpus as entries, in order; reads only files whose size or time differ from the index, or whose
    stored text is `missing`. With `only`, only those files are looked at: every other known document is kept
    as it is, unlisted and unread."""
    entries: list[_Entry] = []
    new = changed = 0
    files: list[CorpusFile]
    if only is None:
        files = scan_files(corpus_dir)
        known = dict(known.items())  # every file is compared: one walk over the records, not a lookup each
    else:
        files = [f for f in (corpus_file(corpus_dir, doc_id) for doc_id in sorted(set(only))) if f is not None]
    for file in files:
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
    present = {e.doc_id for e in entries}
    removed = [d for d in (known if only is None else sorted(set(only))) if d in known and d not in present]
    if len(known) - len(removed) + new == 0:
        raise EmptyCorpusError(f"no readable {suffix_list('or')} articles in {corpus_dir}/ — nothing indexed")
    return _Scan(entries, new, changed, removed, len(known), partial=only is not None)


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
    reusable: dict[str, np.ndarray] = {}
    for doc_id in [*read, *scan.removed]:
        record = previous.manifest.documents.get(doc_id)
        if record is None:
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


class _Preparer:
    """Drafts and embeds the new and changed documents a batch at a time, as the backend takes them: old
    vectors reused by text, each new text embedded once, the model loaded only if a text is new."""

    def __init__(
        self,
        settings: IndexSettings,
        index_dir: Path,
        model: Embedder | None,
        reusable: dict[str, np.ndarray],
        dimension: int,
        timings: dict[str, float],
    ) -> None:
        self.settings, self.index_dir, self.model = settings, index_dir, model
        self.reusable, self.dimension, self.timings = reusable, dimension, timings
        self.embedded = 0  # texts sent to the model

    def batches(
        self, documents: list[Document], manifest: Manifest, records: MutableMapping[str, DocumentRecord], progress: bool
    ) -> Iterator[list[PreparedDocument]]:
        """PreparedDocuments in batches of about BATCH_CHUNKS chunks; each document's record in `records` (the
        manifest's) gets its chunk count when it is drafted, and the manifest's chunk count grows by it."""
        drafts: list[_Draft] = []
        drafted = 0  # chunks in `drafts`
        for document in tqdm(documents, desc="indexing", unit="doc", disable=not progress or len(documents) < 2):
            mark = time.perf_counter()
            draft = _draft(document, self.settings)
            self.timings["chunk"] = self.timings.get("chunk", 0.0) + time.perf_counter() - mark
            records[document.doc_id] = dataclasses.replace(records[document.doc_id], chunks=len(draft.chunks))
            manifest.chunk_count += len(draft.chunks)
            drafts.append(draft)
            drafted += len(draft.chunks)
            if drafted >= BATCH_CHUNKS:
                yield self._prepared(drafts)
                drafts, drafted = [], 0
        if drafts:
            yield self._prepared(drafts)

    def _prepared(self, drafts: list[_Draft]) -> list[PreparedDocument]:
        mark = time.perf_counter()
        new_texts: dict[str, str] = {}
        for draft in drafts:
            for text in draft.sentence_texts:
                key = _text_key(text)
                if key not in self.reusable:
                    new_texts.setdefault(key, text)
        fresh_vectors: dict[str, np.ndarray] = {}
        if new_texts:
            if self.model is None:
                self.model = Embedder.for_index(self.settings, self.index_dir)
            fresh_vectors = dict(zip(new_texts, self.model.encode_documents(list(new_texts.values())), strict=True))
            self.embedded += len(new_texts)
        prepared = []
        for draft in drafts:
            keys = [_text_key(text) for text in draft.sentence_texts]
            rows = [fresh_vectors[k] if k in fresh_vectors else self.reusable[k] for k in keys]
            vectors = np.array(rows, dtype=np.float32).reshape(-1, self.dimension)
            prepared.append(PreparedDocument(draft.document, draft.chunks, draft.terms, vectors))
        self.timings["embed"] = self.timings.get("embed", 0.0) + time.perf_counter() - mark
        return prepared


def _manifest(
    scan: _Scan, settings: IndexSettings, dimension: int, corpus_dir: Path, previous: Manifest | None
) -> tuple[Manifest, MutableMapping[str, DocumentRecord]]:
    """The next version's manifest and its records: new and changed documents count no chunks until they are
    drafted. After a partial scan the records are the previous ones with the changes laid over them, and the
    chunks are counted by difference."""
    looked_at = {e.doc_id: dataclasses.replace(e.record, chunks=0) if e.document else e.record for e in scan.entries}
    documents: MutableMapping[str, DocumentRecord]
    if scan.partial and previous is not None:
        documents = RecordOverlay(previous.documents, looked_at, scan.removed)
        replaced = [e.doc_id for e in scan.entries if e.document is not None] + scan.removed
        chunk_count = previous.chunk_count - sum(previous.documents[d].chunks for d in replaced if d in previous.documents)
    else:
        documents, chunk_count = looked_at, sum(r.chunks for r in looked_at.values())
    manifest = Manifest(
        model=settings.model,
        dimension=dimension,
        settings=settings,
        documents=documents,
        chunk_count=chunk_count,
        corpus=str(corpus_dir.resolve()),
    )
    return manifest, documents
