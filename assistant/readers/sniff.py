"""What a file's first bytes say it holds, so that a file whose suffix lies is refused in plain words.

A `.docx` that is really a PDF, or a `.pdf` that is an HTML error page saved
by a browser, would otherwise reach a parser that fails with its own,
obscure error (or, worse, reads something). Each reader checks the
signature of its format first and, when it does not match, says what the
content is instead: "not a PDF file (its content is a Word .docx file)".
"""

from __future__ import annotations

import io
import zipfile

HEAD = 1024  # PDF readers accept the %PDF- header anywhere in the first kilobyte
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File Binary: old .doc/.xls, and encrypted Office files
ZIP = b"PK\x03\x04"
_SIGNATURES = (
    (OLE, "an OLE compound file (an old .doc, or a password-protected Office file)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"{\\rtf", "an RTF document"),
)
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def is_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:HEAD]


def is_binary(data: bytes) -> bool:
    """True for content that is not text in any encoding a web page uses: a known binary signature, or NUL
    bytes without a UTF-16 byte-order mark."""
    if data.startswith(_TEXT_BOMS):
        return False
    return is_pdf(data) or data.startswith((ZIP, *(signature for signature, _ in _SIGNATURES))) or b"\x00" in data[:8192]


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return "a damaged zip archive"
    if "word/document.xml" in names:
        return "a Word .docx file"
    if "xl/workbook.xml" in names:
        return "an Excel .xlsx file"
    if "ppt/presentation.xml" in names:
        return "a PowerPoint .pptx file"
    if "content.xml" in names:
        return "an OpenDocument file"
    return "a zip archive"


def describe(data: bytes) -> str:
    """A few words for what `data` holds, judged by its first bytes."""
    if not data.strip():
        return "empty"
    if is_pdf(data):
        return "a PDF file"
    if data.startswith(ZIP):
        return _zip_kind(data)
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if is_binary(data):
        return "binary data"
    head = data[:HEAD].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return "an HTML page"
    return "text"
