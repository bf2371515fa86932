"""Putting articles into the corpus folder and taking them out, safely.

Shared by `assistant add` / `assistant remove` and the web upload: names are
sanitised (no path traversal, no hidden files), nothing already in the
corpus is overwritten, and an article whose content is already there is
reported as a duplicate instead of being added twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from stat import S_ISREG

from assistant.corpus import extract, find_files
from assistant.errors import AssistantError
from assistant.readers import UnreadableDocument, suffixes

MAX_BYTES = 5 * 1024 * 1024
_UNSAFE = re.compile(r"[^\w.-]+")


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
    readable = suffixes()
    if suffix not in readable:
        raise AssistantError(
            f"{name}: only {', '.join(readable[:-1])}{' and ' if len(readable) > 1 else ''}{readable[-1]} articles can be added"
        )
    stem = _UNSAFE.sub("-", base[: -len(suffix)]).strip(".-_")[:100] or "article"
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


def _content_hashes(corpus_dir: Path) -> dict[str, str]:
    hashes = {}
    for path in find_files(corpus_dir):
        try:
            hashes[hashlib.sha256(path.read_bytes()).hexdigest()] = path.relative_to(corpus_dir).as_posix()
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

    Every article is checked first, so one bad article adds nothing. A file
    appears under its final name whole (written aside, then renamed), so a
    watcher never reads half of it.
    """
    for name, data in articles:
        check_article(name, data)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    known = _content_hashes(corpus_dir)
    admissions = []
    for name, data in articles:
        digest = hashlib.sha256(data).hexdigest()
        if digest in known:
            admissions.append(Admission(name, known[digest], added=False))
            continue
        target = _free_path(corpus_dir, safe_name(name))
        staging = corpus_dir / f".{target.name}.partial"
        with staging.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, target)
        doc_id = target.relative_to(corpus_dir).as_posix()
        known[digest] = doc_id
        admissions.append(Admission(name, doc_id, added=True))
    return admissions


def withdraw(corpus_dir: Path, doc_ids: list[str]) -> list[str]:
    """Delete the articles `doc_ids` from the corpus; all must exist, or none is deleted.

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
    for entry in entries:
        entry.unlink()
    return doc_ids
