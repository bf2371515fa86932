"""Readers: a source file's bytes in, the text that quotes will point into out.

A reader never writes or rewrites text after extracting it: offsets into
`Extracted.text` are what the index stores and what every quote slices.
`reader_for(name)` picks the reader by the file's suffix; adding a format is
one module and one line in `READERS`, and the reader contract suite
(tests/contracts/test_reader_contract.py) must pass for it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

from assistant.registry import Registry


class UnreadableDocument(Exception):
    """A file a reader cannot extract text from; the message says why, in a few words."""


@dataclass(frozen=True)
class Extracted:
    """What a reader found in a file."""

    text: str
    title: str  # "" when the file names none: the file name serves
    format: str  # "txt", "md", …
    body_start: int = 0  # where the text after any front matter begins
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. date, language, source
    pages: tuple[int, ...] = ()  # where each page after the first starts in `text`


class Reader(Protocol):
    suffixes: tuple[str, ...]  # lower case, with the dot

    def read(self, data: bytes, name: str) -> Extracted:
        """The text and metadata of the file `name` holding `data`; raises UnreadableDocument."""
        ...


def tidy(text: str) -> str:
    """Each line of `text` with its runs of white space made one space, empty lines dropped, its letters
    composed (NFC): a block of a format whose white space is layout (HTML, Word), laid out for the
    sentence splitter."""
    lines = (" ".join(line.split()) for line in unicodedata.normalize("NFC", text).splitlines())
    return "\n".join(filter(None, lines))


READERS: Registry[Reader] = Registry(
    "reader",
    {
        "plain": "assistant.readers.plain:PLAIN_TEXT",
        "html": "assistant.readers.html:HTML",
        "pdf": "assistant.readers.pdf:PDF",
        "docx": "assistant.readers.docx:DOCX",
    },
)


def suffixes() -> tuple[str, ...]:
    """Every suffix some reader takes."""
    return tuple(suffix for name in READERS.names() for suffix in READERS.get(name).suffixes)


def suffix_list(conjunction: str = "and") -> str:
    """The suffixes some reader takes, as a person reads them: ".txt, .md, … and .docx"."""
    taken = suffixes()
    return f"{', '.join(taken[:-1])} {conjunction} {taken[-1]}" if len(taken) > 1 else taken[0]


def reader_for(name: str) -> Reader | None:
    """The reader for a file called `name`, or None if no reader takes its suffix."""
    suffix = PurePosixPath(name).suffix.lower()
    for reader_name in READERS.names():
        reader = READERS.get(reader_name)
        if suffix in reader.suffixes:
            return reader
    return None
