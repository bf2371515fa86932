"""Chunk records, document records and document texts as an index stores them: arrays, lines and text blobs.

All are opened in constant time whatever the corpus size: chunk records are
memory-mapped arrays turned into `Chunk`s only when asked for; document
records are JSON lines found through sorted arrays of ids and parsed when
asked for; a document's text is read from its blob (named by its SHA-256,
checked on read) only when a passage of it is shown or quoted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from assistant.errors import CorruptIndexError
from assistant.records import Chunk, Document, DocumentRecord

REBUILD_HINT = "run: assistant index --full"


class ChunkTable(Sequence[Chunk]):
    """Chunks as arrays: chunk i belongs to documents[doc_index[i]], spans `spans[i]`, and holds
    sentences[sentence_offsets[i]:sentence_offsets[i + 1]]. Chunks are in document order."""

    def __init__(
        self,
        doc_ids: Sequence[str],
        doc_index: np.ndarray,
        spans: np.ndarray,
        sentence_offsets: np.ndarray,
        sentences: np.ndarray,
    ) -> None:
        self.doc_ids = doc_ids
        self.doc_index = doc_index
        self.spans = spans
        self.sentence_offsets = sentence_offsets
        self.sentences = sentences

    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk], doc_ids: list[str]) -> ChunkTable:
        position = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
        np.cumsum([len(c.sentences) for c in chunks], out=offsets[1:])
        sentences = np.array([s for c in chunks for s in c.sentences], dtype=np.int64).reshape(-1, 2)
        return cls(
            doc_ids,
            np.array([position[c.doc_id] for c in chunks], dtype=np.int32),
            np.array([(c.start, c.end) for c in chunks], dtype=np.int64).reshape(-1, 2),
            offsets,
            sentences,
        )

    @classmethod
    def concatenate(cls, parts: Sequence[tuple[ChunkTable, int, int] | ChunkTable], doc_ids: Sequence[str]) -> ChunkTable:
        """Rows [start, stop) of tables (or whole tables), in order, re-indexed against `doc_ids`."""
        position = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        doc_index, spans, counts, sentences = [], [], [], []
        for part in parts:
            table, start, stop = part if isinstance(part, tuple) else (part, 0, len(part))
            remap = np.array([position.get(d, -1) for d in table.doc_ids], dtype=np.int32)
            doc_index.append(remap[table.doc_index[start:stop]])
            spans.append(table.spans[start:stop])
            counts.append(np.diff(table.sentence_offsets[start : stop + 1]))
            sentences.append(table.sentences[table.sentence_offsets[start] : table.sentence_offsets[stop]])
        offsets = np.zeros(sum(len(c) for c in counts) + 1, dtype=np.int64)
        if counts:
            np.cumsum(np.concatenate(counts), out=offsets[1:])
        empty = np.empty((0, 2), dtype=np.int64)
        return cls(
            doc_ids,
            np.concatenate(doc_index) if doc_index else np.empty(0, dtype=np.int32),
            np.concatenate(spans) if spans else empty,
            offsets,
            np.concatenate(sentences) if sentences else empty,
        )

    def __len__(self) -> int:
        return len(self.doc_index)

    def __getitem__(self, index: int) -> Chunk:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(index)
        sentences = self.sentences[self.sentence_offsets[index] : self.sentence_offsets[index + 1]].tolist()
        start, end = self.spans[index].tolist()
        return Chunk(
            chunk_id=index,
            doc_id=self.doc_ids[self.doc_index[index]],
            start=start,
            end=end,
            sentences=tuple(map(tuple, sentences)),
        )

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))

    def rows_of(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The [starts, stops) of the chunks of the documents at `positions` in `doc_ids` (chunks are grouped by
        document, in its order, so two binary searches find them)."""
        return np.searchsorted(self.doc_index, positions, "left"), np.searchsorted(self.doc_index, positions, "right")

    def save(self, folder: Path) -> None:
        folder.mkdir()
        np.save(folder / "doc_index.npy", self.doc_index)
        np.save(folder / "spans.npy", self.spans)
        np.save(folder / "sentence_offsets.npy", self.sentence_offsets)
        np.save(folder / "sentences.npy", self.sentences)

    @classmethod
    def load(cls, folder: Path, doc_ids: Sequence[str]) -> ChunkTable:
        arrays = [mapped(folder / f"{name}.npy") for name in ("doc_index", "spans", "sentence_offsets", "sentences")]
        return cls(doc_ids, *arrays)


_ID_ENCODING = "utf-8"


def utf8_array(strings: Iterable[str]) -> np.ndarray:
    """Strings as a fixed-width bytes array (UTF-8), which numpy sorts and searches in code-point order."""
    encoded = [text.encode(_ID_ENCODING) for text in strings]
    return np.array(encoded, dtype=f"S{max((len(e) for e in encoded), default=1) or 1}")


class RecordTable(Mapping[str, DocumentRecord]):
    """A segment's document records, in chunk order: ids in an array with its sorted order, each record a line
    of JSON parsed when asked for, and each document's text hash sorted too, so that finding a document or the
    documents of a text takes two binary searches and opening a table reads nothing but its arrays' headers.

        documents/ids.npy          ids (UTF-8), in chunk order     documents/id_order.npy    their sorted order
        documents/texts.npy        text SHA-256s, in chunk order   documents/text_order.npy  their sorted order
        documents/records.jsonl    one record per line             documents/offsets.npy     where each line starts
    """

    def __init__(
        self,
        ids: np.ndarray,
        texts: np.ndarray,
        lines: np.ndarray,
        offsets: np.ndarray,
        id_order: np.ndarray,
        text_order: np.ndarray,
    ) -> None:
        self.ids, self.texts, self.lines, self.offsets = ids, texts, lines, offsets
        self.id_order, self.text_order = id_order, text_order
        self._parsed: dict[int, DocumentRecord] = {}

    @classmethod
    def of_lines(cls, doc_ids: list[str], texts: list[bytes], lines: list[bytes]) -> RecordTable:
        """A table of records already written as JSON lines, in order."""
        ids, shas = utf8_array(doc_ids), np.array(texts, dtype="S64")
        offsets = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum([len(line) for line in lines], out=offsets[1:])
        data = np.frombuffer(b"".join(lines), dtype=np.uint8)
        return cls(ids, shas, data, offsets, np.argsort(ids, kind="stable"), np.argsort(shas, kind="stable"))

    @classmethod
    def of(cls, records: Mapping[str, DocumentRecord]) -> RecordTable:
        lines = [cls.line_of(r) for r in records.values()]
        return cls.of_lines(list(records), [r.text_sha256.encode() for r in records.values()], lines)

    @staticmethod
    def line_of(record: DocumentRecord) -> bytes:
        return (json.dumps(record.to_dict(), ensure_ascii=False) + "\n").encode()

    def line(self, row: int) -> bytes:
        return self.lines[self.offsets[row] : self.offsets[row + 1]].tobytes()

    def record(self, row: int) -> DocumentRecord:
        if row not in self._parsed:
            try:
                self._parsed[row] = DocumentRecord.from_dict(json.loads(self.line(row)))
            except (KeyError, TypeError, ValueError) as error:
                raise CorruptIndexError(f"a document record of the index is unreadable ({error}) — {REBUILD_HINT}") from None
        return self._parsed[row]

    def text(self, row: int) -> str:
        return bytes(self.texts[row]).decode()

    def doc_id(self, row: int) -> str:
        return bytes(self.ids[row]).decode(_ID_ENCODING)

    @property
    def doc_ids(self) -> Sequence[str]:
        """The ids in chunk order, decoded one at a time (a `ChunkTable` names its chunks' documents through it)."""
        return _DocIds(self)

    def rows(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Each document's row, -1 where it is not in the table."""
        if not len(self.ids) or not doc_ids:
            return np.full(len(doc_ids), -1, dtype=np.int64)
        wanted, ordered = utf8_array(doc_ids), self._sorted_ids
        found = np.minimum(np.searchsorted(ordered, wanted), len(ordered) - 1)
        return np.where(ordered[found] == wanted, self.id_order[found], -1).astype(np.int64)

    def row(self, doc_id: str) -> int | None:
        ordered, key = self._sorted_ids, doc_id.encode(_ID_ENCODING)
        found = int(ordered.searchsorted(key))
        return int(self.id_order[found]) if found < len(ordered) and ordered[found] == key else None

    def rows_with_text(self, sha256: str) -> np.ndarray:
        ordered, key = self._sorted_texts, sha256.encode()
        return np.asarray(self.text_order[np.searchsorted(ordered, key, "left") : np.searchsorted(ordered, key, "right")])

    @cached_property
    def _sorted_ids(self) -> np.ndarray:
        return np.asarray(self.ids[self.id_order])

    @cached_property
    def _sorted_texts(self) -> np.ndarray:
        return np.asarray(self.texts[self.text_order])

    @cached_property
    def id_list(self) -> list[str]:
        return [bytes(i).decode(_ID_ENCODING) for i in self.ids]

    def __getitem__(self, doc_id: str) -> DocumentRecord:
        row = self.row(doc_id)
        if row is None:
            raise KeyError(doc_id)
        return self.record(row)

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.row(doc_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.id_list)

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, folder: Path) -> None:
        folder.mkdir()
        for name in ("ids", "texts", "offsets", "id_order", "text_order"):
            np.save(folder / f"{name}.npy", getattr(self, name))
        (folder / "records.jsonl").write_bytes(self.lines.tobytes())

    @classmethod
    def load(cls, folder: Path) -> RecordTable:
        arrays = {name: mapped(folder / f"{name}.npy") for name in ("ids", "texts", "offsets", "id_order", "text_order")}
        lines = np.memmap(folder / "records.jsonl", dtype=np.uint8, mode="r").view(np.ndarray)
        return cls(arrays["ids"], arrays["texts"], lines, arrays["offsets"], arrays["id_order"], arrays["text_order"])


class _DocIds(Sequence[str]):
    def __init__(self, table: RecordTable) -> None:
        self.table = table

    def __getitem__(self, row: int) -> str:  # type: ignore[override]
        return self.table.doc_id(row)

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.id_list)

    def __len__(self) -> int:
        return len(self.table)


def mapped(path: Path) -> np.ndarray:
    """A saved array, memory-mapped, as a plain ndarray: indexing a `np.memmap` costs microseconds a time."""
    array: np.ndarray = np.load(path, mmap_mode="r").view(np.ndarray)
    return array


def _blob_name(sha256: str) -> str:
    return f"{sha256}.txt"


def _blob_path(texts_dir: Path, sha256: str) -> Path:
    return texts_dir / _blob_name(sha256)


def _intact(path: Path, sha256: str) -> bool:
    """Whether a text blob is there and still holds the text its name is the hash of."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError:
        return False
    return digest.hexdigest() == sha256


SYNC_EACH_UP_TO = 64  # blobs: more than this are made durable by one sync of the file system instead


def write_text_blobs(texts_dir: Path, documents: Sequence[Document]) -> None:
    """Store documents' extracted texts under their hashes, each whole or not at all, durable on return; a blob
    already there is kept only if it is intact, so that writing a document again repairs a damaged copy.

    An update's few blobs are fsynced one by one; a build's thousands are flushed by one `os.sync()` (an fsync
    per blob made writing them most of a 100k-article build: about 1 ms each here)."""
    written = []
    for document in documents:
        target = _blob_path(texts_dir, document.text_sha256)
        if _intact(target, document.text_sha256):
            continue
        texts_dir.mkdir(parents=True, exist_ok=True)
        staging = texts_dir / f".{document.text_sha256}.partial"
        with staging.open("wb") as handle:
            handle.write(document.text.encode("utf-8"))
            if len(documents) <= SYNC_EACH_UP_TO:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(staging, target)
        written.append(target)
    if len(written) and len(documents) > SYNC_EACH_UP_TO:
        os.sync()


class DocumentStore(Mapping[str, Document]):
    """A generation's documents: their records in memory, their texts read from blobs on demand."""

    def __init__(self, texts_dir: Path, records: Mapping[str, DocumentRecord], cache_size: int = 512) -> None:
        self.texts_dir = texts_dir
        self.records = records
        self._read = lru_cache(maxsize=cache_size)(self._load)

    def _load(self, doc_id: str) -> Document:
        record = self.records[doc_id]
        path = _blob_path(self.texts_dir, record.text_sha256)
        try:
            data = path.read_bytes()
        except OSError:
            raise CorruptIndexError(f"the text of {doc_id} is missing from {self.texts_dir}/ — run: assistant index") from None
        if hashlib.sha256(data).hexdigest() != record.text_sha256:
            raise CorruptIndexError(f"the text of {doc_id} in {path} is corrupted (checksum mismatch) — {REBUILD_HINT}")
        return record.document(doc_id, data.decode("utf-8"))

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self.records:
            raise KeyError(doc_id)
        return self._read(doc_id)

    def missing(self, text_hashes: Iterable[tuple[str, str]]) -> set[str]:
        """The documents (of `text_hashes`: each document and its text's hash) whose blob is gone, from one listing
        of the folder: cheap enough for every update, where reading every blob would cost what loading them on
        demand saves."""
        try:
            present = set(os.listdir(self.texts_dir))
        except OSError:
            present = set()
        return {doc_id for doc_id, sha256 in text_hashes if _blob_name(sha256) not in present}

    def __iter__(self) -> Iterator[str]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
