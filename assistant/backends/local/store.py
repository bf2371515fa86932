"""The index folder: versions of immutable segments behind a pointer.

    index/
      CURRENT                  the version in use (and, on line 2, the one before)
      gen-<time>-<id>/         manifest.json: the version's segments, the documents deleted from each, settings
      segments/seg-<time>-<id>/  one segment: chunks, postings and vectors of its documents (segments.py)
      texts/<sha256>.txt       extracted document texts, named by their hash, shared by versions

An update writes its new segment (and any merged ones) whole, each staged,
synced and renamed into place, then a small version folder naming them, and
only then does CURRENT (replaced atomically) point to it. A reader therefore
sees the old version or the new one, never a half-written one, and a crash
mid-write leaves the old one in use; what the killed writer wrote is
removed by the next. The version before the current one is kept until the
next update, so that a reader that has just read CURRENT can still open it;
older versions, and segments that neither refers to, are removed by the next
writer. One writer at a time holds `index/.lock`.

CURRENT itself can be lost or damaged (emptied, overwritten with garbage,
replaced by a folder, naming a version that is gone). Then readers fall
back to the newest complete version whose segments verify, with a warning,
the next writer points CURRENT at it again before anything else, and no
version or segment is removed while CURRENT names none.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Collection, ItemsView, Iterator, Mapping, ValuesView
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from assistant.backends.local.dense import SegmentedVectors
from assistant.backends.local.lexical import BM25Index, LexicalPart
from assistant.backends.local.segments import Segment, load_records, new_name
from assistant.backends.local.tables import REBUILD_HINT, DocumentStore, RecordTable, write_text_blobs
from assistant.errors import CorruptIndexError, IndexBusyError, IndexMismatchError, NoIndexError
from assistant.records import Chunk, Document, DocumentRecord, Manifest, PairedItems, PairedValues
from assistant.settings import IndexSettings

log = logging.getLogger(__name__)

# 5: vocabulary as a sorted array; 4: document records as lines in each segment; 3: segments;
# 2: one folder of sentence vectors per generation
FORMAT_VERSION = 5
POINTER = "CURRENT"
MANIFEST = "manifest.json"
SEGMENTS = "segments"
TEXTS = "texts"
LOCK = ".lock"
_GENERATION_NAME = re.compile(r"gen-[0-9A-Za-z_-]+")  # one folder inside the index, never a path out of it
_SEGMENT_NAME = re.compile(r"seg-[0-9A-Za-z_-]+")
_POINTER_BYTES = 4096  # two generation names fit many times over; a CURRENT larger than that is garbage anyway
_fallback_warned: set[tuple[Path, str]] = set()


@dataclass(frozen=True)
class SegmentRef:
    """A segment as a version holds it: its name and the documents deleted from it since it was written."""

    name: str
    deleted: frozenset[str] = frozenset()


@dataclass
class VersionFile:
    """A version's manifest.json: its segments in order, settings, and the records that changed in place."""

    model: str
    dimension: int
    settings: IndexSettings
    corpus: str
    chunk_count: int
    segments: list[SegmentRef]
    records: dict[str, DocumentRecord] = field(default_factory=dict)  # documents whose file changed but not their text
    released_texts: list[str] = field(default_factory=list)  # text blobs the version before used and this one does not
    built_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "dimension": self.dimension,
            "settings": self.settings.to_dict(),
            "built_at": self.built_at,
            "corpus": self.corpus,
            "chunk_count": self.chunk_count,
            "segments": [{"name": ref.name, "deleted": sorted(ref.deleted)} for ref in self.segments],
            "records": {doc_id: record.to_dict() for doc_id, record in self.records.items()},
            "released_texts": self.released_texts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VersionFile:
        segments = [SegmentRef(entry["name"], frozenset(entry["deleted"])) for entry in data["segments"]]
        if not all(_SEGMENT_NAME.fullmatch(ref.name) for ref in segments):
            raise ValueError("a segment name is not one")
        return cls(
            model=data["model"],
            dimension=data["dimension"],
            settings=IndexSettings.from_dict(data["settings"]),
            corpus=data["corpus"],
            chunk_count=data["chunk_count"],
            segments=segments,
            records={doc_id: DocumentRecord.from_dict(r) for doc_id, r in data["records"].items()},
            released_texts=list(data["released_texts"]),
            built_at=data["built_at"],
        )

    def manifest(self, documents: VersionRecords) -> Manifest:
        return Manifest(
            model=self.model,
            dimension=self.dimension,
            settings=self.settings,
            documents=documents,
            chunk_count=self.chunk_count,
            corpus=self.corpus,
            format_version=FORMAT_VERSION,
            built_at=self.built_at,
        )


class VersionRecords(Mapping[str, DocumentRecord]):
    """Every live document's record in a version: its segment's, or the version's own where the file changed but
    not the text. Found through the segments' sorted ids and parsed when asked for, so opening costs nothing per
    document; `items()` and `values()` walk the segments in order instead of looking each document up."""

    def __init__(self, tables: list[RecordTable], refs: list[SegmentRef], overrides: dict[str, DocumentRecord]) -> None:
        self.tables, self.refs, self.overrides = tables, refs, overrides
        self._places: dict[str, tuple[int, int] | None] = {}  # the documents looked up so far (quoted ones recur)

    def locate(self, doc_id: str) -> tuple[int, int] | None:
        """(segment number, row) of a live document."""
        if doc_id not in self._places:
            self._places[doc_id] = self._find(doc_id)
        return self._places[doc_id]

    def _find(self, doc_id: str) -> tuple[int, int] | None:
        for number in range(len(self.tables) - 1, -1, -1):
            row = self.tables[number].row(doc_id)
            if row is not None and doc_id not in self.refs[number].deleted:
                return number, row
        return None

    def __getitem__(self, doc_id: str) -> DocumentRecord:
        place = self.locate(doc_id)
        if place is None:
            raise KeyError(doc_id)
        return self.overrides.get(doc_id) or self.tables[place[0]].record(place[1])

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.locate(doc_id) is not None

    def _live(self) -> Iterator[tuple[RecordTable, int, str]]:
        for table, ref in zip(self.tables, self.refs, strict=True):
            for row, doc_id in enumerate(table.id_list):
                if doc_id not in ref.deleted:
                    yield table, row, doc_id

    def __iter__(self) -> Iterator[str]:
        return (doc_id for _, _, doc_id in self._live())

    def __len__(self) -> int:
        return sum(len(table) - len(ref.deleted) for table, ref in zip(self.tables, self.refs, strict=True))

    def pairs(self) -> Iterator[tuple[str, DocumentRecord]]:
        for table, row, doc_id in self._live():
            yield doc_id, self.overrides.get(doc_id) or table.record(row)

    def items(self) -> ItemsView[str, DocumentRecord]:
        return PairedItems(self)

    def values(self) -> ValuesView[DocumentRecord]:
        return PairedValues(self)

    def text_pairs(self) -> Iterator[tuple[str, str]]:
        """Each live document's text hash, from the segments' text columns (the version's records override no text)."""
        return ((doc_id, table.text(row)) for table, row, doc_id in self._live())

    def text_hashes(self) -> set[str]:
        return {sha256 for _, sha256 in self.text_pairs()}


class SegmentedChunks:
    """The live chunks of a version's segments, numbered across them (segment i's chunk c is `bases[i] + c`)."""

    def __init__(
        self, segments: list[Segment], masks: list[np.ndarray | None], bases: list[int], records: VersionRecords
    ) -> None:
        self.segments = segments
        self.masks = masks
        self.bases = bases
        self.records = records

    def place(self, chunk_id: int) -> tuple[Segment, int]:
        number = int(np.searchsorted(self.bases, chunk_id, side="right")) - 1
        if number < 0 or number >= len(self.segments) or chunk_id - self.bases[number] >= self.segments[number].size:
            raise IndexError(chunk_id)
        return self.segments[number], chunk_id - self.bases[number]

    def __getitem__(self, chunk_id: int) -> Chunk:
        segment, row = self.place(chunk_id)
        return segment.chunk(row, chunk_id)

    def __iter__(self) -> Iterator[Chunk]:
        for segment, mask, base in zip(self.segments, self.masks, self.bases, strict=True):
            for row in range(segment.size) if mask is None else np.flatnonzero(mask).tolist():
                yield segment.chunk(row, base + row)

    def __len__(self) -> int:
        return sum(s.size if m is None else int(m.sum()) for s, m in zip(self.segments, self.masks, strict=True))

    def of_document(self, doc_id: str) -> range:
        """A live document's chunk ids, in order (empty if it is not in the version)."""
        place = self.records.locate(doc_id)
        if place is None:
            return range(0)
        number, row = place
        starts, stops = self.segments[number].chunks.rows_of(np.array([row]))
        return range(self.bases[number] + int(starts[0]), self.bases[number] + int(stops[0]))

    def of_documents(self, doc_ids: Collection[str]) -> np.ndarray:
        """The chunk ids of the live documents among `doc_ids`, ascending."""
        wanted, found = list(doc_ids), []
        for segment, mask, base in zip(self.segments, self.masks, self.bases, strict=True):
            rows = segment.records.rows(wanted)
            starts, stops = segment.chunks.rows_of(rows[rows >= 0])
            runs = [np.arange(a, b, dtype=np.int64) for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
            ids = np.concatenate(runs) if runs else np.empty(0, dtype=np.int64)
            found.append(base + (ids if mask is None else ids[mask[ids]]))
        return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


@dataclass
class StoredIndex:
    """Everything a query needs, loaded from one version."""

    manifest: Manifest
    version: VersionFile
    records: VersionRecords  # the manifest's documents
    documents: DocumentStore
    segments: list[Segment]
    chunks: SegmentedChunks
    vectors: SegmentedVectors
    bm25: BM25Index
    location: Path


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_texts(index_dir: Path, documents: list[Document]) -> None:
    """Store the texts of new documents (a blob already there and intact is kept), synced."""
    texts_dir = index_dir / TEXTS
    write_text_blobs(texts_dir, documents)
    if documents:
        _fsync_path(texts_dir)


def write_version(index_dir: Path, version: VersionFile, removable_texts: set[str]) -> Path:
    """Write a version (its segments and their texts already written) and switch CURRENT to it; returns its folder.

    After the switch, the blobs in `removable_texts` are removed: those no version still readable uses.
    Call it holding `writer_lock`.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    replaced = _in_use(index_dir)
    texts_dir = index_dir / TEXTS
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=index_dir))
    try:
        with (staging / MANIFEST).open("w", encoding="utf-8") as handle:
            handle.write(json.dumps(version.to_dict(), ensure_ascii=False))
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_path(staging)
        generation = index_dir / new_name("gen")
        staging.rename(generation)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _switch_pointer(index_dir, generation.name, replaced.name if replaced is not None else "")
    remove_leftovers(index_dir)
    for sha256 in removable_texts:
        (texts_dir / f"{sha256}.txt").unlink(missing_ok=True)
    return generation


def texts_in_use(index_dir: Path) -> set[str]:
    """The text blobs the version in use refers to (none if there is none, or it is unreadable)."""
    generation = _in_use(index_dir)
    if generation is None:
        return set()
    try:
        return _version_records(generation, read_version(generation)).text_hashes()
    except (CorruptIndexError, IndexMismatchError):
        return set()


def unused_texts(index_dir: Path, used: set[str]) -> set[str]:
    """Every blob in the texts folder that `used` does not name: for a full rebuild's sweep."""
    try:
        names = os.listdir(index_dir / TEXTS)
    except OSError:
        return set()
    return {name.removesuffix(".txt") for name in names if name.removesuffix(".txt") not in used}


def _in_use(index_dir: Path) -> Path | None:
    """The version readers use now, if any: the one a new version replaces, kept one update longer."""
    try:
        return current_generation(index_dir)
    except (NoIndexError, CorruptIndexError):
        return None


@contextmanager
def writer_lock(index_dir: Path, wait: float = 60.0) -> Iterator[None]:
    """Hold the index's writer lock, waiting up to `wait` seconds for another writer."""
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(index_dir / LOCK)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise IndexBusyError(
            f"another process is updating {index_dir}/ (waited {wait:g} s); try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _read_pointer(index_dir: Path) -> tuple[str, str]:
    """(current, previous) generation names as CURRENT gives them; "" for a line that is missing or not a
    generation's name, and for both when CURRENT cannot be read (absent, a folder, garbage bytes)."""
    try:
        with (index_dir / POINTER).open("rb") as handle:
            data = handle.read(_POINTER_BYTES)
    except OSError:
        return "", ""
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines()[:2]] + ["", ""]
    current, previous = (line if _GENERATION_NAME.fullmatch(line) else "" for line in lines[:2])
    return current, previous


def _switch_pointer(index_dir: Path, name: str, previous: str) -> None:
    staged = index_dir / f".{POINTER}.{uuid.uuid4().hex[:8]}"
    with staged.open("w", encoding="utf-8") as handle:
        handle.write(f"{name}\n{previous}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staged, index_dir / POINTER)
    _fsync_path(index_dir)


def _complete(generation: Path) -> bool:
    """Whether a generation was renamed into place whole: its manifest is written before the rename."""
    return (generation / MANIFEST).is_file()


def _generations(index_dir: Path) -> list[Path]:
    """The complete generations in the index folder, newest first (by the time in their name, then on disk)."""
    found = []
    for path in index_dir.iterdir() if index_dir.is_dir() else []:
        if _GENERATION_NAME.fullmatch(path.name) and _complete(path):
            with suppress(FileNotFoundError):  # a writer removed it meanwhile
                found.append(((path.name.split("-")[1], path.stat().st_mtime_ns), path))
    return [path for _, path in sorted(found, reverse=True)]


def _newest_verified(index_dir: Path) -> Path | None:
    """The newest complete generation whose manifest reads and whose files match their checksums."""
    for generation in _generations(index_dir):
        try:
            _load_segments(index_dir, read_version(generation))
        except (CorruptIndexError, IndexMismatchError, OSError) as error:
            log.info("not falling back to %s: %s", generation.name, error)
            continue
        return generation
    return None


def remove_leftovers(index_dir: Path) -> None:
    """Remove what a killed writer left, generations older than the previous one, and segments that no
    remaining generation refers to (hold `writer_lock`).

    While CURRENT names no complete generation, every generation is kept: readers fall back to one of them.
    """
    current, previous = _read_pointer(index_dir)
    pointed = bool(current) and _complete(index_dir / current)
    for path in index_dir.iterdir() if index_dir.is_dir() else []:
        stale = path.name.startswith("gen-") and pointed and path.name not in (current, previous)
        if stale or path.name.startswith((".tmp-", f".{POINTER}.")):
            _remove(path)
    segments_dir = index_dir / SEGMENTS
    if not segments_dir.is_dir():
        return
    referenced: set[str] = set()
    for generation in _generations(index_dir):
        try:
            referenced.update(ref.name for ref in read_version(generation).segments)
        except (CorruptIndexError, IndexMismatchError):
            return  # a generation whose segments are unknown: keep every segment
    for path in segments_dir.iterdir():
        if path.name.startswith(".tmp-") or (path.name.startswith("seg-") and path.name not in referenced):
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def repair_pointer(index_dir: Path) -> None:
    """Point CURRENT at the generation readers fall back to when it names no complete one (hold `writer_lock`).

    A CURRENT that is a folder is removed, so that the next switch can replace it.
    """
    if pointer_state(index_dir):
        return
    pointer = index_dir / POINTER
    if pointer.is_dir() and not pointer.is_symlink():
        shutil.rmtree(pointer)
    fallback = _newest_verified(index_dir)
    if fallback is not None:
        _switch_pointer(index_dir, fallback.name, "")
        log.warning("repaired %s: it names %s again, the newest complete generation", pointer, fallback.name)


def pointer_state(index_dir: Path) -> str:
    """The name of the generation CURRENT points to, "" if it names no complete one: cheap enough to check
    before every question."""
    current = _read_pointer(index_dir)[0]
    return current if current and _complete(index_dir / current) else ""


def current_generation(index_dir: Path) -> Path:
    """The generation in use: the one CURRENT names or, when it names none that is complete, the newest one
    that verifies (with a warning, once per process), so that a damaged CURRENT loses no index."""
    if name := pointer_state(index_dir):
        return index_dir / name
    pointer = index_dir / POINTER
    fallback = _newest_verified(index_dir)
    if fallback is not None:
        if (index_dir, fallback.name) not in _fallback_warned:
            _fallback_warned.add((index_dir, fallback.name))
            log.warning(
                "%s names no complete generation; answering from %s, the newest that verifies — run: assistant index",
                pointer,
                fallback.name,
            )
        return fallback
    if named := _read_pointer(index_dir)[0]:
        raise CorruptIndexError(f"index at {index_dir}/ points to a missing generation {named!r} — {REBUILD_HINT}")
    if _generations(index_dir):
        raise CorruptIndexError(f"{pointer} names no complete generation, and no other one verifies — {REBUILD_HINT}")
    raise NoIndexError(f"no index at {index_dir}/ — run: assistant index")


def read_version(generation: Path) -> VersionFile:
    try:
        data = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CorruptIndexError(f"unreadable manifest in {generation}: {error} — {REBUILD_HINT}") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {generation.parent}/ has format version {version}, this assistant reads {FORMAT_VERSION} — {REBUILD_HINT}"
        )
    try:
        return VersionFile.from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptIndexError(f"manifest in {generation} is incomplete ({error}) — {REBUILD_HINT}") from None


def _segment_folder(index_dir: Path, name: str) -> Path:
    folder = index_dir / SEGMENTS / name
    if not folder.is_dir():
        raise CorruptIndexError(f"index segment {folder} is missing — {REBUILD_HINT}")
    return folder


def _version_records(generation: Path, version: VersionFile) -> VersionRecords:
    """A version's records, read without loading its segments' other arrays."""
    tables = [load_records(_segment_folder(generation.parent, ref.name)) for ref in version.segments]
    return VersionRecords(tables, version.segments, version.records)


def read_manifest(generation: Path) -> Manifest:
    """A version's manifest with every live document's record, read without loading its segments' other arrays."""
    version = read_version(generation)
    return version.manifest(_version_records(generation, version))


def _load_segments(index_dir: Path, version: VersionFile) -> list[Segment]:
    return [Segment.load(_segment_folder(index_dir, ref.name)) for ref in version.segments]


def load_index(index_dir: Path) -> StoredIndex:
    generation = current_generation(index_dir)
    version = read_version(generation)
    segments = _load_segments(index_dir, version)
    masks = [segment.live_mask(ref.deleted) for segment, ref in zip(segments, version.segments, strict=True)]
    bases = list(accumulate((s.size for s in segments), initial=0))[:-1]
    records = VersionRecords([s.records for s in segments], version.segments, version.records)
    manifest = version.manifest(records)
    return StoredIndex(
        manifest=manifest,
        version=version,
        records=records,
        documents=DocumentStore(index_dir / TEXTS, records),
        segments=segments,
        chunks=SegmentedChunks(segments, masks, bases, records),
        vectors=SegmentedVectors([s.vectors for s in segments], masks, bases, version.dimension),
        bm25=BM25Index(
            [LexicalPart(s.postings, m, b) for s, m, b in zip(segments, masks, bases, strict=True)], version.settings.bm25
        ),
        location=generation,
    )
