"""Plain-text articles: `.txt` and `.md`, UTF-8, with an optional front matter.

The text is the file decoded (newlines and a byte-order mark kept) with its
letters composed (NFC): Vietnamese arrives composed from one site and
decomposed from another, and the index keeps one form; for the usual,
composed file, offsets index the file's own characters. The title comes
from front matter `title:`, else the first `#` heading, else the file name;
the front matter's other `key: value` lines (date, language, source…) are
metadata.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.readers import Extracted, UnreadableDocument

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_FRONT_MATTER_FIELD = re.compile(r"^([A-Za-z][\w-]*):[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def front_matter(text: str) -> tuple[str | None, dict[str, str], int]:
    """The front matter's first `title:` (None if it has none), its other `key: value` fields as metadata
    (keys lower-cased, quotes dropped, the first of a repeated key kept), and where the body starts."""
    front = _FRONT_MATTER.match(text)
    if front is None:
        return None, {}, 0
    title = _FRONT_MATTER_TITLE.search(front.group(1))
    metadata: dict[str, str] = {}
    for field in _FRONT_MATTER_FIELD.finditer(front.group(1)):
        key, value = field.group(1).lower(), field.group(2).strip("\"'")
        if key != "title" and value:
            metadata.setdefault(key, value)
    return (title.group(1).strip("\"'") if title else None), metadata, front.end()


def first_heading(text: str, start: int) -> str:
    heading = _HEADING.search(text, start)
    return heading.group(1) if heading is not None else ""


class PlainTextReader:
    suffixes = (".txt", ".md")

    def read(self, data: bytes, name: str) -> Extracted:
        try:
            text = unicodedata.normalize("NFC", data.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise UnreadableDocument(f"not valid UTF-8 (byte {error.start})") from None
        title, metadata, body_start = front_matter(text)
        if not text[body_start:].strip():
            raise UnreadableDocument("it is empty")
        if title is None:
            title = first_heading(text, body_start)
        return Extracted(text=text, title=title, format=name.rsplit(".", 1)[-1].lower(), body_start=body_start, metadata=metadata)


PLAIN_TEXT = PlainTextReader()
