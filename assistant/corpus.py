"""The corpus folder: listing its articles and reading each with the reader for its format."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from assistant.dates import published_date
from assistant.languages.detect import detect_language
from assistant.readers import UnreadableDocument, reader_for, suffixes
from assistant.records import Document

log = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024  # the largest article: added, uploaded or put straight into the folder


@dataclass(frozen=True)
class CorpusFile:
    doc_id: str  # the path relative to the corpus folder, with '/'
    path: str  # a plain string: building 100k Path objects costs more than listing the files
    size: int
    mtime_ns: int


def scan_files(corpus_dir: Path) -> list[CorpusFile]:
    """Every file some reader takes under `corpus_dir`, recursively, in path order; hidden ones left out.

    A link to a file is taken only when it resolves inside the corpus (a link to /etc/passwd must not be
    indexed and quoted); folder links are not followed.

    One stat per file, taken from the directory listing: a corpus of 100k
    articles is listed in a fraction of a second.
    """
    found: list[CorpusFile] = []
    readable = suffixes()
    root = os.path.realpath(corpus_dir)

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path, f"{prefix}{entry.name}/")
            elif entry.name.lower().endswith(readable):
                if entry.is_symlink() and os.path.commonpath([root, os.path.realpath(entry.path)]) != root:
                    log.warning("skipped %s%s: a link to a file outside the corpus", prefix, entry.name)
                    continue
                try:
                    stat = entry.stat()
                except OSError as error:
                    log.warning("skipped %s%s: cannot read it (%s)", prefix, entry.name, error.strerror or error)
                    continue
                if S_ISREG(stat.st_mode):
                    found.append(CorpusFile(prefix + entry.name, entry.path, stat.st_size, stat.st_mtime_ns))

    walk(str(corpus_dir), "")
    return found


def corpus_file(corpus_dir: Path, doc_id: str) -> CorpusFile | None:
    """One file of the corpus by its document id, taken as `scan_files` would take it; None if it would not be."""
    parts = doc_id.split("/")
    if not doc_id or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    if not doc_id.lower().endswith(suffixes()):
        return None
    path = os.path.join(corpus_dir, *parts)
    root = os.path.realpath(corpus_dir)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        return None
    if os.path.realpath(os.path.dirname(path)) != os.path.join(root, *parts[:-1]):
        return None  # reached through a linked folder, which the scan does not follow
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return CorpusFile(doc_id, path, stat.st_size, stat.st_mtime_ns) if S_ISREG(stat.st_mode) else None


def find_files(corpus_dir: Path) -> list[Path]:
    """Every article file under `corpus_dir`, recursively, hidden ones left out."""
    return [Path(file.path) for file in scan_files(corpus_dir)]


def title_from_name(path: Path) -> str:
    words = re.split(r"[-_\s]+", path.stem)
    return " ".join(w[:1].upper() + w[1:] for w in words if w)


def extract(doc_id: str, data: bytes) -> Document:
    """The document a file's bytes hold, read by the reader for its suffix; raises UnreadableDocument."""
    reader = reader_for(doc_id)
    if reader is None:
        raise UnreadableDocument(f"no reader for {Path(doc_id).suffix or 'files without a suffix'}")
    extracted = reader.read(data, Path(doc_id).name)
    metadata = dict(extracted.metadata)
    if not metadata.get("language"):  # front matter and <html lang> say it; otherwise the text does
        language = detect_language(extracted.text[extracted.body_start :])
        if language is not None:
            metadata["language"] = language
    return Document(
        doc_id=doc_id,
        path=doc_id,
        title=extracted.title or title_from_name(Path(doc_id)),
        text=extracted.text,
        sha256=hashlib.sha256(data).hexdigest(),
        body_start=extracted.body_start,
        format=extracted.format,
        metadata=metadata,
        pages=extracted.pages,
        published=published_date(extracted.metadata, extracted.text, extracted.body_start),
    )


def read_document(path: Path, corpus_dir: Path) -> Document | None:
    """The document at `path`, or None (with a warning naming it) if it cannot be indexed.

    A file over MAX_BYTES is skipped like an unreadable one, whoever put it in the folder, and never read
    past the limit: the limit `add` and uploads keep holds for files copied in by hand too.
    """
    relative = path.relative_to(corpus_dir).as_posix()
    try:
        with path.open("rb") as handle:
            too_large = os.fstat(handle.fileno()).st_size > MAX_BYTES
            data = b"" if too_large else handle.read(MAX_BYTES + 1)  # one byte more: a file that grew meanwhile
    except OSError as error:
        log.warning("skipped %s: cannot read it (%s)", relative, error.strerror or error)
        return None
    if too_large or len(data) > MAX_BYTES:
        log.warning("skipped %s: larger than %d MB", relative, MAX_BYTES // (1024 * 1024))
        return None
    try:
        return extract(relative, data)
    except UnreadableDocument as error:
        log.warning("skipped %s: %s", relative, error)
        return None
