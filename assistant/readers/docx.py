"""Word files (`.docx`), read with python-docx: paragraphs, headings and tables in document order.

Each paragraph or heading is a block of its own, separated from the next by
a blank line so the sentence splitter sees paragraphs; each table row is a
block whose cells are joined by " | " (a cell spanning columns once), so a
quote from a table is one row. Content controls (`w:sdt`, which templates
wrap around title pages and fields) are read through; headers, footers,
footnotes, comments and text boxes are not part of the text. The title is
the core properties' title, else the first heading; the date is when the
document was created (core properties), its author the core properties'
author.

A .docx is a zip archive, and python-docx inflates every part of it into
memory: before it does, the sizes the archive declares are added up and a
file that would take more than MAX_UNZIPPED bytes is refused (a zip bomb).
Python's zipfile never inflates a part beyond its declared size, so a
declared size that lies cannot get past the check. A password-protected
Word file is not a zip at all but an OLE compound file holding an
`EncryptedPackage`; it is refused as such, as is an old binary `.doc`.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import docx
from docx.document import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from assistant.readers import Extracted, UnreadableDocument, sniff, tidy

MAX_UNZIPPED = 50 * 1024 * 1024
MAX_PARTS = 10_000
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
# The creation time and author python-docx's own template carries: not when or by whom a document was written.
_TEMPLATE_CREATED = datetime(2013, 12, 23, 23, 15, tzinfo=UTC)
_TEMPLATE_AUTHOR = "python-docx"


def _check_archive(data: bytes) -> bool:
    """Refuse what is not a .docx or would inflate past MAX_UNZIPPED; True if it has core properties."""
    if data.startswith(sniff.OLE):
        if _ENCRYPTED in data:
            raise UnreadableDocument("password-protected (encrypted): save it again without a password")
        raise UnreadableDocument("an old binary Word .doc, not a .docx: save it again as .docx")
    if not data.startswith(sniff.ZIP):
        raise UnreadableDocument(f"not a Word .docx file (its content is {sniff.describe(data)})")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise UnreadableDocument("a damaged .docx: not a readable zip archive (truncated?)") from None
    names = {part.filename for part in parts}
    if "word/document.xml" not in names:
        raise UnreadableDocument(f"not a Word .docx file (its content is {sniff.describe(data)})")
    unzipped = sum(part.file_size for part in parts)
    if len(parts) > MAX_PARTS or unzipped > MAX_UNZIPPED:
        raise UnreadableDocument(
            f"too large once decompressed ({unzipped / 1e6:,.0f} MB in {len(parts):,} parts; at most {MAX_UNZIPPED // 2**20} MB)"
        )
    return "docProps/core.xml" in names


def _blocks(document: Document) -> Iterator[Paragraph | Table]:
    """The body's paragraphs and tables in document order, inside content controls too."""

    def walk(element: etree._Element) -> Iterator[Paragraph | Table]:
        for child in element:
            if child.tag == qn("w:p"):
                yield Paragraph(child, document)
            elif child.tag == qn("w:tbl"):
                yield Table(child, document)
            elif child.tag == qn("w:sdt"):
                for content in child.iterchildren(qn("w:sdtContent")):
                    yield from walk(content)

    yield from walk(document.element.body)


def _rows(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells, seen = [], None
        for cell in row.cells:
            if cell._tc is not seen:  # a cell spanning columns comes once per column
                cells.append(" ".join(cell.text.split()))
                seen = cell._tc
        if any(cells):
            yield " | ".join(cells)


def _is_heading(paragraph: Paragraph) -> bool:
    name = paragraph.style.name if paragraph.style is not None else ""
    return bool(name) and (name == "Title" or name.startswith("Heading"))


class DocxReader:
    suffixes = (".docx",)

    def read(self, data: bytes, name: str) -> Extracted:
        has_properties = _check_archive(data)
        try:
            document = docx.Document(io.BytesIO(data))
            blocks: list[str] = []
            heading = ""
            for block in _blocks(document):
                if isinstance(block, Table):
                    blocks += _rows(block)
                elif text := tidy(block.text):
                    blocks.append(text)
                    if not heading and _is_heading(block):
                        heading = " ".join(text.split())
            properties = document.core_properties
        # What python-docx and zipfile raise for damaged parts; RuntimeError is zipfile's for an encrypted part.
        except (
            PackageNotFoundError,
            KeyError,
            ValueError,
            AttributeError,
            NotImplementedError,
            RuntimeError,
            zipfile.BadZipFile,
            zlib.error,
            etree.LxmlError,
        ):
            raise UnreadableDocument("a damaged .docx: python-docx cannot read its parts") from None
        if not blocks:
            raise UnreadableDocument("it has no text")
        metadata = {}
        if has_properties:
            if properties.created is not None and properties.created.replace(tzinfo=UTC) != _TEMPLATE_CREATED:
                metadata["date"] = properties.created.date().isoformat()
            if (author := " ".join((properties.author or "").split())) != _TEMPLATE_AUTHOR:
                metadata["author"] = author
            metadata["language"] = " ".join((properties.language or "").split())
        title = " ".join(properties.title.split()) if has_properties and properties.title else ""
        return Extracted(
            text="\n\n".join(blocks),
            title=title or heading,
            format="docx",
            metadata={key: value for key, value in metadata.items() if value},
        )


DOCX = DocxReader()
