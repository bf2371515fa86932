"""Putting articles into the corpus folder and taking them out, safely.

Shared by `assistant add` / `assistant remove` and the web upload: names are
sanitised (no path traversal, no hidden files, short enough for any file
system), nothing already in the corpus is overwritten, and an article whose
content is already there is reported as a duplicate instead of being added
twice. Admissions take turns (a lock in the corpus folder), so two uploads of
one name at once, from threads or processes, both land, under two names.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from stat import S_ISREG

from filelock import FileLock, Timeout

from assistant.corpus import MAX_BYTES as MAX_BYTES  # where the faces have always found the limit
from assistant.corpus import extract, find_files, scan_files
from assistant.errors import AssistantError, storage_errors
from assistant.readers import UnreadableDocument, suffix_list, suffixes

_UNSAFE = re.compile(r"[^\w.-]+")
STEM_BYTES = 100  # a name of at most 100 bytes, "-N" and its suffix stays far below the 255 bytes file systems allow
ADMIT_LOCK = ".admit.lock"  # hidden: neither an article nor a change the watcher reacts to
ADMIT_WAIT_S = 60.0


@dataclass(frozen=True)
class Admission:
    """What became of one article offered to the corpus."""

    name: str  # as offered
    doc_id: str  # where it now lives, or the document it duplicates
    added: bool

    def describe(self) -> str:
        if self.added:
            return f"added {self.name} as {self.doc_id}"
        return f"skipped {self.name}: same content as {self.doc_id}, already in the corpus"


def safe_name(name: str) -> str:
    """A plain file name for `name`: its last path part, with only letters, digits, '.', '-' and '_'."""
    base = PurePosixPath(unicodedata.normalize("NFKC", name).replace("\\", "/")).name
    suffix = PurePosixPath(base).suffix.lower()
    if suffix not in suffixes():
        raise AssistantError(f"{name}: only {suffix_list()} articles can be added")
    stem = _UNSAFE.sub("-", base[: -len(suffix)]).strip(".-_")
    stem = stem.encode("utf-8")[:STEM_BYTES].decode("utf-8", "ignore").strip(".-_") or "article"
    return stem + suffix


def _too_large(name: str) -> AssistantError:
    return AssistantError(f"{name}: larger than {MAX_BYTES // (1024 * 1024)} MB")


def check_article(name: str, data: bytes) -> None:
    """Refuse what could not be indexed, before anything is written: the reader for its format must read it."""
    safe_name(name)
    if len(data) > MAX_BYTES:
        raise _too_large(name)
    try:
        extract(safe_name(name), data)
    except UnreadableDocument as error:
        raise AssistantError(f"{name}: {error}") from None


def read_upload(path: Path) -> tuple[str, bytes]:
    """A file offered to the corpus, as (name, content).

    Only a regular file of at most MAX_BYTES is read, and never more than MAX_BYTES + 1 bytes of it
    (check_article refuses a file that grew): /dev/zero never ends and a named pipe blocks until someone
    writes. The file is opened without blocking, which a pipe would otherwise do, and its type and size
    are checked on that descriptor before a byte is read.
    """
    try:
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            status = os.fstat(handle.fileno())
            if not S_ISREG(status.st_mode):
                raise AssistantError(f"{path}: not a regular file")
            if status.st_size > MAX_BYTES:
                raise _too_large(path.name)
            return path.name, handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise AssistantError(f"cannot read {path}: {error.strerror}") from None


def _content_hashes(corpus_dir: Path, sizes: set[int]) -> dict[str, str]:
    """The articles that could hold one of the offered contents, by hash: only files of an offered size are read
    (the lock is held meanwhile, and a corpus may hold a great many articles, or files far over the limit)."""
    hashes = {}
    for file in scan_files(corpus_dir):
        if file.size not in sizes:
            continue
        try:
            hashes[hashlib.sha256(Path(file.path).read_bytes()).hexdigest()] = file.doc_id
        except OSError:
            continue
    return hashes


def _free_path(corpus_dir: Path, name: str) -> Path:
    target = corpus_dir / name
    stem, suffix = target.stem, target.suffix
    number = 2
    while target.exists():
        target = corpus_dir / f"{stem}-{number}{suffix}"
        number += 1
    return target


def admit(corpus_dir: Path, articles: list[tuple[str, bytes]]) -> list[Admission]:
    """Write each (name, content) into the corpus under a safe, unused name; duplicates are skipped.

    Every article is checked first, so one bad article adds nothing. Admissions to one corpus take
    turns under its lock: the free name and the duplicate check stay true until the file is in place.
    A file appears under its final name whole (written aside under a name no other writer uses, then
    renamed), so a watcher never reads half of it.
    """
    for name, data in articles:
        check_article(name, data)
    with storage_errors("add articles to the corpus", {"corpus": corpus_dir}):
        corpus_dir.mkdir(parents=True, exist_ok=True)
        with _admitting(corpus_dir):
            known = _content_hashes(corpus_dir, {len(data) for _, data in articles})
            admissions = []
            for name, data in articles:
                digest = hashlib.sha256(data).hexdigest()
                if digest in known:
                    admissions.append(Admission(name, known[digest], added=False))
                    continue
                target = _free_path(corpus_dir, safe_name(name))
                _write_whole(target, data)
                doc_id = target.relative_to(corpus_dir).as_posix()
                known[digest] = doc_id
                admissions.append(Admission(name, doc_id, added=True))
    return admissions


@contextmanager
def _admitting(corpus_dir: Path) -> Iterator[None]:
    """Hold the corpus's admission lock: one admission at a time, whichever thread or process makes it."""
    lock = FileLock(corpus_dir / ADMIT_LOCK)
    try:
        lock.acquire(timeout=ADMIT_WAIT_S)
    except Timeout:
        raise AssistantError(f"another process has been adding articles for {ADMIT_WAIT_S:g} s; try again") from None
    try:
        yield
    finally:
        lock.release()


def _write_whole(target: Path, data: bytes) -> None:
    """`data` at `target`, synced, appearing there whole or not at all; nothing is left aside if it fails."""
    staging = target.parent / f".{uuid.uuid4().hex}.partial"  # made with the umask's mode, as the article will have
    try:
        with open(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def withdraw(corpus_dir: Path, doc_ids: list[str]) -> list[str]:
    """Delete the articles `doc_ids` from the corpus; all must exist, or none is deleted. Returns their ids as
    the index knows them (relative to the corpus, without detours).

    Only the corpus's own entry goes: a symbolic link is removed itself, never the file it points to
    (inside the corpus or out), and an id whose folder resolves outside the corpus ('..', a linked
    folder) names no article.
    """
    root = corpus_dir.resolve()
    entries = []
    for doc_id in doc_ids:
        given = corpus_dir / doc_id
        entry = given.parent.resolve() / given.name
        is_entry = entry.is_symlink() or entry.is_file()
        if not entry.parent.is_relative_to(root) or entry.suffix.lower() not in suffixes() or not is_entry:
            raise AssistantError(f"no article {doc_id!r} in {corpus_dir}/")
        entries.append(entry)
    if len(set(entries)) >= len(find_files(corpus_dir)):
        raise AssistantError("cannot remove every article: the index needs at least one")
    with storage_errors("remove articles from the corpus", {"corpus": corpus_dir}):
        for entry in entries:
            entry.unlink()
    return [entry.relative_to(root).as_posix() for entry in entries]
