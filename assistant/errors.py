"""Errors a user can cause and fix; the CLI shows their message as one line."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


class AssistantError(Exception):
    """Base class: the message says what went wrong and what to run."""


class NoIndexError(AssistantError):
    pass


class IndexMismatchError(AssistantError):
    """The index was built with another model, dimension or format version."""


class CorruptIndexError(AssistantError):
    pass


class EmptyCorpusError(AssistantError):
    pass


class IndexBusyError(AssistantError):
    """Another process holds the writer lock of the index."""


class UnknownChoiceError(AssistantError, ValueError):
    """A reader, embedder, backend or answerer name that no registry holds."""


class UnknownDocumentError(AssistantError):
    """A document filter names a document the index does not hold."""


class QuestionError(AssistantError):
    """A question (or search query) no face processes: empty, too long, or not valid text."""


class StorageError(AssistantError):
    """The disk refused what the corpus or index folder needed: full, read-only, a file where a folder should be,
    a name too long. The message names paths only relative to those folders (web users see it too)."""


def place(path: str | os.PathLike[str], folders: Mapping[str, Path]) -> str:
    """Where `path` is, as `label/relative` for the innermost of `folders` (label -> folder) holding it, or its
    last part only: never an absolute path of the server."""
    absolute = Path(os.path.abspath(path))
    roots = sorted(
        ((Path(resolve(folder)), label) for label, folder in folders.items() for resolve in (os.path.abspath, os.path.realpath)),
        key=lambda root: len(root[0].parts),
        reverse=True,
    )
    for root, label in roots:
        if absolute.is_relative_to(root):
            relative = absolute.relative_to(root).as_posix()
            return f"{label}/" if relative == "." else f"{label}/{relative}"
    return absolute.name


def _in_the_way(error: OSError, path: Path) -> Path | None:
    """The file that stands where a folder should be, when that is why `error` happened."""
    if error.errno == errno.ENOTDIR:
        candidates = list(path.parents)
    elif error.errno == errno.EEXIST:
        candidates = [path]
    else:
        return None
    return next((p for p in candidates if p.exists() and not p.is_dir()), None)


@contextmanager
def storage_errors(action: str, folders: Mapping[str, Path]) -> Iterator[None]:
    """Turn an OSError inside the block into a StorageError: "cannot `action`: why (where)"."""
    try:
        yield
    except OSError as error:
        raise storage_error(error, action, folders) from None


def storage_error(error: OSError, action: str, folders: Mapping[str, Path]) -> StorageError:
    """`error` as one line: what could not be done, why, and where (the first of `folders` when the system
    did not say)."""
    named = error.filename  # a str, bytes, a path object or a file descriptor, as the call was given it
    named = os.fsdecode(named) if isinstance(named, bytes | str | os.PathLike) else next(iter(folders.values()))
    path = Path(os.path.abspath(named))
    blocker = _in_the_way(error, path)
    if blocker is not None:
        return StorageError(f"cannot {action}: {place(blocker, folders).rstrip('/')} is a file where a folder should be")
    reason = error.strerror or without_server_paths(str(error), folders) or type(error).__name__
    return StorageError(f"cannot {action}: {reason} ({place(path, folders)})")


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~/:-])/[^\s'\"`()<>\[\]:;,]*")


def without_server_paths(message: str, folders: Mapping[str, Path] | None = None) -> str:
    """`message` with every absolute path replaced by its `place` (its last part, without `folders`): what a web
    user is shown of the server's disk."""

    def local(match: re.Match[str]) -> str:
        path = match.group()
        stop = "." if path.endswith(".") else ""  # the end of a sentence, not of the name
        path = path.removesuffix(stop)
        shown = place(path.rstrip("/") or "/", folders or {})
        return (shown if shown.endswith("/") or not path.endswith("/") else f"{shown}/") + stop

    return _ABSOLUTE_PATH.sub(local, message)
