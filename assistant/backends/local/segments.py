"""Segments: immutable parts of an index, each its documents' chunks, postings and vectors.

A version of the index is a list of segments and, per segment, the
documents deleted from it since it was written (README, "Segments"). An
update writes one small segment with the new and changed documents and
marks the replaced ones deleted in theirs; it never rewrites a segment.
Merges keep the count bounded: `plan_merges` groups segments of similar
size, Lucene's tiered policy in miniature, and a merged segment holds only
live documents.

    segments/seg-<time>-<id>/
      segment.json   its files' sizes and checksums
      documents/     RecordTable: its documents' ids and records, in chunk order
      chunks/        ChunkTable arrays
      terms/         Postings (vocab.json and arrays)
      vectors/       float16 sentence vectors and the chunk means in FAISS
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from assistant.backends import PreparedDocument
from assistant.backends.local.dense import VectorIndex
from assistant.backends.local.lexical import Postings
from assistant.backends.local.tables import REBUILD_HINT, ChunkTable, RecordTable
from assistant.errors import CorruptIndexError
from assistant.records import Chunk, DocumentRecord

SEGMENT_FILE = "segment.json"
DOCUMENTS_FOLDER = "documents"
CHUNKS_FOLDER = "chunks"
TERMS_FOLDER = "terms"
VECTORS_FOLDER = "vectors"
MERGE_FACTOR = 10  # segments of one size tier before they are merged into one
SMALLEST_TIER = 1_000  # chunks: every segment smaller than this is in the first tier
EXPUNGE_SHARE = 0.5  # a segment with at least this share of its chunks deleted is rewritten
# Opening hashes at most this much of a file: whole up to FULLY_HASHED bytes, else its size and first and last
# _SAMPLE bytes; hashing whole files was most of opening a 100k-chunk index (0.2 s of an add's 0.3 s).
FULLY_HASHED = 512 << 10
_SAMPLE = 128 << 10


def file_checksum(path: Path) -> str:
    """SHA-256 of a file's bytes, or of its first and last `_SAMPLE` bytes and its size for a larger file."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if size <= FULLY_HASHED:
            while block := handle.read(_SAMPLE):
                digest.update(block)
        else:
            digest.update(handle.read(_SAMPLE))
            handle.seek(size - _SAMPLE)
            digest.update(handle.read(_SAMPLE))
            digest.update(str(size).encode())
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_name(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


@dataclass
class Segment:
    """One segment: its documents' records (in chunk order), chunks, postings and vectors."""

    name: str
    records: RecordTable
    chunks: ChunkTable
    postings: Postings
    vectors: VectorIndex

    @property
    def size(self) -> int:
        return len(self.chunks)

    @classmethod
    def of_documents(cls, documents: Sequence[PreparedDocument], records: Mapping[str, DocumentRecord]) -> Segment:
        """A new segment of prepared documents, in the order given (not yet written: its name is "")."""
        doc_ids = [d.document.doc_id for d in documents]
        chunks = ChunkTable.from_chunks([c for d in documents for c in d.chunks], doc_ids)
        postings = Postings.from_terms([t for d in documents for t in d.terms])
        dimension = documents[0].vectors.shape[1] if documents else 0
        vectors = np.vstack([d.vectors.reshape(-1, dimension) for d in documents])
        table = RecordTable.of({d: records[d] for d in doc_ids})
        return cls("", table, chunks, postings, VectorIndex.build(vectors, chunks.sentence_offsets))

    @classmethod
    def merged(cls, parts: Sequence[tuple[Segment, Collection[str]]], overrides: Mapping[str, DocumentRecord]) -> Segment:
        """The live documents of `parts` (each a segment and the documents deleted from it), in order, as one
        segment; a document's record is its segment's, or the one in `overrides`."""
        runs: list[tuple[ChunkTable, int, int]] = []
        vectors: list[np.ndarray] = []
        lexical: list[tuple[Postings, np.ndarray]] = []
        doc_ids: list[str] = []
        texts: list[bytes] = []
        lines: list[bytes] = []
        for segment, deleted in parts:
            table = segment.records
            live = segment.live_documents(deleted)
            keep = live[segment.chunks.doc_index]
            lexical.append((segment.postings, keep))
            for start, stop in _runs(keep):
                runs.append((segment.chunks, start, stop))
                vectors.append(np.asarray(segment.vectors.sentence_range(start, stop)))
            for row in np.flatnonzero(live).tolist():
                doc_id = table.doc_id(row)
                replaced = overrides.get(doc_id)
                doc_ids.append(doc_id)
                texts.append(bytes(table.texts[row]))
                lines.append(table.line(row) if replaced is None else RecordTable.line_of(replaced))
        chunks = ChunkTable.concatenate(runs, doc_ids)
        return cls(
            "",
            RecordTable.of_lines(doc_ids, texts, lines),
            chunks,
            Postings.merge(lexical),
            VectorIndex.build(np.vstack(vectors), chunks.sentence_offsets),
        )

    def live_documents(self, deleted: Collection[str]) -> np.ndarray:
        """Which of its documents (rows of `records`) are live when `deleted` are gone."""
        live = np.ones(len(self.records), dtype=bool)
        rows = self.records.rows(list(deleted))
        live[rows[rows >= 0]] = False
        return live

    def live_mask(self, deleted: Collection[str]) -> np.ndarray | None:
        """Which chunks are live when `deleted` documents are gone; None when all are."""
        if not deleted:
            return None
        return np.asarray(self.live_documents(deleted)[self.chunks.doc_index])

    def deleted_chunks(self, deleted: Collection[str]) -> int:
        rows = self.records.rows(list(deleted))
        starts, stops = self.chunks.rows_of(rows[rows >= 0])
        return int((stops - starts).sum())

    def chunk(self, row: int, chunk_id: int) -> Chunk:
        chunk = self.chunks[row]
        return Chunk(chunk_id, chunk.doc_id, chunk.start, chunk.end, chunk.sentences)

    def write(self, segments_dir: Path) -> Segment:
        """Write this segment whole (staged, synced, renamed into place); returns it under its new name."""
        segments_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=segments_dir))
        folders = (DOCUMENTS_FOLDER, CHUNKS_FOLDER, TERMS_FOLDER, VECTORS_FOLDER)
        try:
            self.records.save(staging / DOCUMENTS_FOLDER)
            self.chunks.save(staging / CHUNKS_FOLDER)
            self.postings.save(staging / TERMS_FOLDER)
            self.vectors.save(staging / VECTORS_FOLDER)
            files = sorted(p for p in staging.rglob("*") if p.is_file())
            description = {
                "documents": len(self.records),
                "files": {p.relative_to(staging).as_posix(): [p.stat().st_size, file_checksum(p)] for p in files},
            }
            (staging / SEGMENT_FILE).write_text(json.dumps(description, ensure_ascii=False), encoding="utf-8")
            for path in [*files, staging / SEGMENT_FILE, *(staging / f for f in folders)]:
                _fsync(path)
            _fsync(staging)
            name = new_name("seg")
            staging.rename(segments_dir / name)
            _fsync(segments_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return Segment(name, self.records, self.chunks, self.postings, self.vectors)

    @classmethod
    def load(cls, folder: Path) -> Segment:
        """A written segment, its files checked against their recorded sizes and checksums."""
        description = read_description(folder)
        for name, (size, checksum) in description["files"].items():
            path = folder / name
            if not path.is_file():
                raise CorruptIndexError(f"index file {path} is missing — {REBUILD_HINT}")
            if path.stat().st_size != size or file_checksum(path) != checksum:
                raise CorruptIndexError(f"index file {path} is corrupted (checksum mismatch) — {REBUILD_HINT}")
        records = load_records(folder)
        chunks = ChunkTable.load(folder / CHUNKS_FOLDER, records.doc_ids)
        return cls(
            folder.name,
            records,
            chunks,
            Postings.load(folder / TERMS_FOLDER),
            VectorIndex.load(folder / VECTORS_FOLDER, chunks.sentence_offsets),
        )


def read_description(folder: Path) -> dict:  # type: ignore[type-arg]
    try:
        description = json.loads((folder / SEGMENT_FILE).read_text(encoding="utf-8"))
        if not isinstance(description, dict) or not isinstance(description.get("files"), dict):
            raise ValueError("no file list")
    except (OSError, ValueError) as error:
        raise CorruptIndexError(f"unreadable segment {folder}: {error} — {REBUILD_HINT}") from None
    return description


def load_records(folder: Path) -> RecordTable:
    """A segment's document records, without its other arrays (their checksums are checked by `Segment.load`)."""
    try:
        return RecordTable.load(folder / DOCUMENTS_FOLDER)
    except (OSError, ValueError) as error:
        raise CorruptIndexError(f"a segment's document list in {folder} is unreadable ({error}) — {REBUILD_HINT}") from None


def _runs(mask: np.ndarray) -> Iterator[tuple[int, int]]:
    """[start, stop) of each run of True in `mask`."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)


def size_tier(chunks: int) -> int:
    """0 below `SMALLEST_TIER` chunks, then one tier per factor of `MERGE_FACTOR`."""
    if chunks < SMALLEST_TIER:
        return 0
    return 1 + int(math.log(chunks / SMALLEST_TIER, MERGE_FACTOR) + 1e-9)


def plan_merges(sizes: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Which segments to merge, given each one's (chunks, deleted chunks) in order: groups of positions.

    A tier holding `MERGE_FACTOR` or more segments is merged into one (which may fill the next tier: the
    plan cascades), and a segment with `EXPUNGE_SHARE` of its chunks deleted is rewritten without them.
    So an index of n chunks keeps about MERGE_FACTOR segments per factor of MERGE_FACTOR in n, and an
    update merges only when a tier fills: usually nothing, now and then the small segments, rarely a big one.
    """
    live = [chunks - deleted for chunks, deleted in sizes]
    groups: list[list[int]] = []
    taken: set[int] = set()
    below: list[int] | None = None  # the group merged in the tier below, if its result lands in this tier
    for tier in range(max((size_tier(n) for n in live), default=0) + 2):
        members = [i for i, n in enumerate(live) if size_tier(n) == tier and i not in taken]
        lands_here = below is not None and size_tier(sum(live[i] for i in below)) == tier
        if len(members) + lands_here >= MERGE_FACTOR:
            group = sorted(members + (groups.pop() if lands_here else []))
            groups.append(group)
            taken.update(group)
            below = group
        else:
            below = None
    for i, (chunks, deleted) in enumerate(sizes):
        if i not in taken and chunks and deleted / chunks >= EXPUNGE_SHARE:
            groups.append([i])
    return groups
