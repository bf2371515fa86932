"""The index folder: complete generations of plain files behind a pointer.

    index/
      CURRENT                  the generation in use (and, on line 2, the one before)
      gen-<time>-<id>/         manifest.json, chunks/, vectors/, bm25/, terms/
      texts/<sha256>.txt       extracted document texts, named by their hash, shared by generations

A generation is written whole into a temporary folder, synced, renamed into
place, and only then does CURRENT (replaced atomically) point to it. A reader
therefore sees the old generation or the new one, never a half-written one,
and a crash mid-write leaves the old one in use. The generation before the
current one is kept until the next update, so that a reader that has just
read CURRENT can still open it; anything older, and whatever a killed writer
left behind, is removed by the next writer. One writer at a time holds
`index/.lock`.

CURRENT itself can be lost or damaged (emptied, overwritten with garbage,
replaced by a folder, naming a generation that is gone). Then readers fall
back to the newest complete generation that verifies, with a warning, the
next writer points CURRENT at it again before anything else, and no
generation is removed while CURRENT names none: the one readers fall back
to is among them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from assistant.backends.local.dense import VectorIndex
from assistant.backends.local.lexical import BM25Index, TermTable
from assistant.backends.local.tables import REBUILD_HINT, ChunkTable, DocumentStore, write_text_blob
from assistant.errors import CorruptIndexError, IndexBusyError, IndexMismatchError, NoIndexError
from assistant.records import Document, Manifest, file_hash

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: sentence vectors (vectors/) instead of one vector per chunk
POINTER = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS_FOLDER = "chunks"
TEXTS = "texts"
VECTORS_FOLDER = "vectors"
BM25_FOLDER = "bm25"
TERMS_FOLDER = "terms"
LOCK = ".lock"
_GENERATION_NAME = re.compile(r"gen-[0-9A-Za-z_-]+")  # one folder inside the index, never a path out of it
_POINTER_BYTES = 4096  # two generation names fit many times over; a CURRENT larger than that is garbage anyway
_fallback_warned: set[tuple[Path, str]] = set()


@dataclass
class StoredIndex:
    """Everything a query needs, loaded from one generation."""

    manifest: Manifest
    documents: DocumentStore
    chunks: ChunkTable
    vectors: VectorIndex
    bm25: BM25Index
    location: Path


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_generation(
    index_dir: Path,
    manifest: Manifest,
    new_texts: list[Document],
    chunks: ChunkTable,
    vectors: VectorIndex,
    bm25: BM25Index,
    terms: TermTable,
    previous_texts: set[str] | None = None,
) -> Path:
    """Write a complete generation and switch CURRENT to it; returns its folder.

    `new_texts` are the documents whose text blob may not exist yet; every
    document of `manifest` must have one once they are written. Blobs that
    neither this generation nor the one it replaces refers to are removed
    after the switch; `previous_texts` spares reading the replaced one's
    manifest. Call it holding `writer_lock`.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    replaced = _in_use(index_dir)
    if previous_texts is None:
        previous_texts = _texts_of(replaced)
    texts_dir = index_dir / TEXTS
    for document in new_texts:
        write_text_blob(texts_dir, document)
    if new_texts:
        _fsync_path(texts_dir)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=index_dir))
    try:
        chunks.save(staging / CHUNKS_FOLDER)
        vectors.save(staging / VECTORS_FOLDER)
        bm25.save(staging / BM25_FOLDER)
        (staging / TERMS_FOLDER).mkdir()
        terms.save(staging / TERMS_FOLDER)
        manifest.format_version = FORMAT_VERSION
        manifest.files = {p.relative_to(staging).as_posix(): file_hash(p) for p in _data_files(staging)}
        (staging / MANIFEST).write_text(json.dumps(manifest.to_dict(), ensure_ascii=False), encoding="utf-8")
        folders = [staging / BM25_FOLDER, staging / TERMS_FOLDER, staging / CHUNKS_FOLDER, staging / VECTORS_FOLDER, staging]
        for path in [*_data_files(staging), staging / MANIFEST, *folders]:
            _fsync_path(path)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        generation = index_dir / f"gen-{stamp}-{uuid.uuid4().hex[:8]}"
        staging.rename(generation)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _switch_pointer(index_dir, generation.name, replaced.name if replaced is not None else "")
    remove_leftovers(index_dir)
    _remove_unused_texts(texts_dir, {d.text_sha256 for d in manifest.documents.values()} | previous_texts)
    return generation


def _in_use(index_dir: Path) -> Path | None:
    """The generation readers use now, if any: the one a new generation replaces, kept one update longer."""
    try:
        return current_generation(index_dir)
    except (NoIndexError, CorruptIndexError):
        return None


def _texts_of(generation: Path | None) -> set[str]:
    """The text blobs a generation refers to (none if it is not there or its manifest is unreadable)."""
    if generation is None:
        return set()
    try:
        manifest = read_manifest(generation)
    except (CorruptIndexError, IndexMismatchError):
        return set()
    return {record.text_sha256 for record in manifest.documents.values()}


def _remove_unused_texts(texts_dir: Path, used: set[str]) -> None:
    for entry in os.scandir(texts_dir):
        if entry.name.startswith(".") or entry.name.removesuffix(".txt") not in used:
            Path(entry.path).unlink(missing_ok=True)


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
            _verify(generation, read_manifest(generation))
        except (CorruptIndexError, IndexMismatchError, OSError) as error:
            log.info("not falling back to %s: %s", generation.name, error)
            continue
        return generation
    return None


def remove_leftovers(index_dir: Path) -> None:
    """Remove what a killed writer left and generations older than the previous one (hold `writer_lock`).

    While CURRENT names no complete generation, every generation is kept: readers fall back to one of them.
    """
    current, previous = _read_pointer(index_dir)
    pointed = bool(current) and _complete(index_dir / current)
    for path in index_dir.iterdir() if index_dir.is_dir() else []:
        stale = path.name.startswith("gen-") and pointed and path.name not in (current, previous)
        if stale or path.name.startswith((".tmp-", f".{POINTER}.")):
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


def read_manifest(generation: Path) -> Manifest:
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
        return Manifest.from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptIndexError(f"manifest in {generation} is incomplete ({error}) — {REBUILD_HINT}") from None


def _verify(generation: Path, manifest: Manifest) -> None:
    for name, expected in manifest.files.items():
        path = generation / name
        if not path.is_file():
            raise CorruptIndexError(f"index file {path} is missing — {REBUILD_HINT}")
        if file_hash(path) != expected:
            raise CorruptIndexError(f"index file {path} is corrupted (checksum mismatch) — {REBUILD_HINT}")


def load_terms(generation: Path) -> TermTable:
    return TermTable.load(generation / TERMS_FOLDER)


def load_index(index_dir: Path) -> StoredIndex:
    generation = current_generation(index_dir)
    manifest = read_manifest(generation)
    _verify(generation, manifest)
    chunks = ChunkTable.load(generation / CHUNKS_FOLDER, list(manifest.documents))
    return StoredIndex(
        manifest=manifest,
        documents=DocumentStore(index_dir / TEXTS, manifest.documents),
        chunks=chunks,
        vectors=VectorIndex.load(generation / VECTORS_FOLDER, chunks.sentence_offsets),
        bm25=BM25Index.load(generation / BM25_FOLDER),
        location=generation,
    )
