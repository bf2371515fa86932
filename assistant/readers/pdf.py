"""PDF files, read with PDFium (pypdfium2): the text layer in reading order, page by page.

PDFium was chosen over pypdf by measurement (benchmarks/extract_speed.py, 20-page
reports of real text): it reads 880-1,000 text pages a second to pypdf's 210-290, and
this reader, paragraphs included, still 490-670. PDFium also joins a word hyphenated
at a line end itself (it marks the hyphen, and we drop it before a lower-case
letter) and gives each character's position, which is what paragraphs are found
from: a PDF holds lines, not paragraphs, and the sentence splitter needs whole
sentences with a blank line between paragraphs. Lines of one paragraph are joined
with a space; a paragraph ends where the gap to the next line is clearly wider
than the page's usual line pitch, where the font size changes (a heading) or where
the text moves up the page (a new column or box) after a sentence has ended. Of
the source paragraphs, 99.9-100 % come out whole and 98.8-99.3 % as a block of
their own (the rest end a page or column at a full stop and go on on the next,
which no layout shows). Ligatures (ﬁ, ﬂ …) are spelt out by NFKC and letters
composed (NFC); the rest of NFKC is not applied, as it would make "2½" "21⁄2".

Pages are joined by a blank line (by a space where a sentence runs on to the
next page) and `Extracted.pages` says where each page after the first
starts, so a quote can say its page. Title, author and date
come from the document information (CreationDate); a title that is only a
file name ("Microsoft Word - minutes.docx") is ignored and the first page's
heading, in a larger font than the rest, serves instead.

A PDF with no text layer (a scan) is refused, not read by OCR; so are an
encrypted one that needs a password to open (one encrypted only against
printing or copying opens, and is read), a truncated one and one PDFium
cannot parse. PDFium is not thread-safe, so one PDF is read at a time in a process.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from assistant.readers import Extracted, UnreadableDocument, sniff

_LOCK = threading.Lock()
_GENERATED_HYPHEN = re.compile("[\ufffe\x02](.?)", re.DOTALL)  # PDFium's mark for a hyphen it took out of a line end
_LIGATURE = re.compile("[\ufb00-\ufb06]")  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ; the rest of NFKC would also make "2½" "21⁄2"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SENTENCE_END = (".", "!", "?", "…", ":", '."', ".”", "?”", "!”")
_PDF_DATE = re.compile(r"(?:D:)?(\d{4})(\d\d)(\d\d)")
_FILE_NAME_TITLE = re.compile(
    r"(?i)^(?:microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|pdf|odt|rtf|txt|tex|dvi|indd|qxd|pptx?))$"
)
_EMPTY_VALUES = {"", "untitled", "anonymous", "unknown", "unspecified", "title", "document", "author"}
HEADING_SIZE = 1.15  # a line in a font this much larger than the page's body text is a heading


@dataclass(frozen=True)
class _Line:
    text: str
    first_y: float  # the baseline of its first character (PDF units, growing up the page)
    last_y: float  # the baseline of its last character: a line PDFium joined at a hyphen spans two
    size: float  # the font size of its first character


def _hyphen(match: re.Match[str]) -> str:
    """A hyphen PDFium took out of a line end: dropped inside a word ("coopera-tion"), kept before a capital
    or a digit ("Lao-Vietnamese", "2023-2025")."""
    following = match.group(1)
    return following if following.islower() else "-" + following


def _clean(text: str) -> str:
    """A line as PDFium gives it, its marked hyphens handled, its ligatures spelt out and its letters composed (NFC)."""
    text = _LIGATURE.sub(lambda ligature: unicodedata.normalize("NFKC", ligature.group()), text)
    return unicodedata.normalize("NFC", _SPACES.sub(" ", _CONTROL.sub("", _GENERATED_HYPHEN.sub(_hyphen, text))).strip())


def _page_lines(textpage: pdfium.PdfTextPage) -> list[_Line]:
    """The page's lines in PDFium's reading order, with where each begins and ends on the page."""
    text = textpage.get_text_range()
    lines: list[_Line] = []
    x, y = ctypes.c_double(), ctypes.c_double()

    def baseline(text_index: int) -> float | None:
        char = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage.raw, text_index)
        if char < 0 or not pdfium_c.FPDFText_GetCharOrigin(textpage.raw, char, x, y):
            return None
        return float(y.value)

    start = 0
    for match in [*_LINE_BREAK.finditer(text), None]:
        end = match.start() if match is not None else len(text)
        raw_line = text[start:end]
        first = start + len(raw_line) - len(raw_line.lstrip())
        last = start + len(raw_line.rstrip()) - 1
        start = match.end() if match is not None else len(text)
        if first > last:
            continue
        first_y, last_y = baseline(first), baseline(last)
        char = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage.raw, first)
        size = float(pdfium_c.FPDFText_GetFontSize(textpage.raw, char)) if char >= 0 else 0.0
        if first_y is None or last_y is None:
            first_y = last_y = lines[-1].last_y if lines else 0.0
        if line := _clean(text[first : last + 1]):
            lines.append(_Line(line, first_y, last_y, size))
    return lines


def _line_pitch(lines: list[_Line]) -> float:
    """The usual distance from one line's baseline to the next within a paragraph on this page: the lower
    quartile of the gaps, as gaps between paragraphs are wider and on a short page may be half of them."""
    gaps = sorted(
        before.last_y - after.first_y
        for before, after in itertools.pairwise(lines)
        if 0.8 * after.size < before.last_y - after.first_y < 2.5 * after.size
    )
    return gaps[len(gaps) // 4] if gaps else 1.25 * max((line.size for line in lines), default=10.0)


def _paragraphs(lines: list[_Line]) -> list[list[_Line]]:
    """The page's lines grouped into paragraphs, by the gaps between them (see the module's docstring)."""
    pitch = _line_pitch(lines)
    paragraphs: list[list[_Line]] = []
    for line in lines:
        if paragraphs:
            before = paragraphs[-1][-1]
            gap = before.last_y - line.first_y
            size = max(line.size, before.size)
            wide_gap = gap > 1.35 * pitch + 1
            new_size = abs(line.size - before.size) > 0.15 * size
            moved_up = gap < -0.5 * size and before.text.endswith(_SENTENCE_END)
            if not (wide_gap or new_size or moved_up):
                paragraphs[-1].append(line)
                continue
        paragraphs.append([line])
    return paragraphs


def _join(lines: list[_Line]) -> str:
    """A paragraph's lines as one line; a hyphen at a line end is handled as PDFium handles those it marks."""
    text = lines[0].text
    for line in lines[1:]:
        if text.endswith("-") and text[-2:-1].isalnum():
            text = text[:-1] + line.text if line.text[:1].islower() else text + line.text
        else:
            text += " " + line.text
    return text


def _runs_on(before: _Line | None, first: _Line) -> bool:
    """Whether a page's first line goes on with the sentence the page before left open: its last line ends
    without a full stop, and the new line starts in lower case or in the same font (not a heading)."""
    if before is None or before.text.endswith(_SENTENCE_END):
        return False
    return first.text[:1].islower() or abs(first.size - before.size) < 0.5


def _heading(paragraphs: list[list[_Line]]) -> str:
    """The first paragraph of a page when it is a short heading set larger than the page's body text."""
    if len(paragraphs) < 2:
        return ""
    body_size = statistics.median(line.size for paragraph in paragraphs for line in paragraph)
    first = paragraphs[0]
    heading = _join(first)
    if len(first) <= 3 and min(line.size for line in first) > HEADING_SIZE * body_size and len(heading.split()) <= 20:
        return heading
    return ""


def _iso_date(value: str) -> str | None:
    found = _PDF_DATE.match(value.strip())
    if found is None:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3))).isoformat()
    except ValueError:
        return None


def _info_value(info: dict[str, str], key: str) -> str:
    value = " ".join(info.get(key, "").split())
    return "" if value.lower() in _EMPTY_VALUES else value


def _refusal(error: pdfium.PdfiumError) -> str:
    if error.err_code == pdfium_c.FPDF_ERR_PASSWORD:
        return "encrypted: it needs a password to open"
    if error.err_code == pdfium_c.FPDF_ERR_SECURITY:
        return "encrypted with an unsupported security handler"
    return "a damaged PDF that cannot be parsed"


class PdfReader:
    suffixes = (".pdf",)

    def read(self, data: bytes, name: str) -> Extracted:
        if not sniff.is_pdf(data):
            raise UnreadableDocument(f"not a PDF file (its content is {sniff.describe(data)})")
        if b"%%EOF" not in data[-2048:]:
            raise UnreadableDocument("truncated: a PDF ends with %%EOF and this one does not")
        with _LOCK:
            pages, info = self._pages(data)
        text, starts, last_line = "", [], None
        for number, paragraphs in enumerate(pages):
            if number:
                text += " " if text and paragraphs and _runs_on(last_line, paragraphs[0][0]) else "\n\n"
                starts.append(len(text))
            text += "\n\n".join(_join(paragraph) for paragraph in paragraphs)
            last_line = paragraphs[-1][-1] if paragraphs else None
        if not text.strip():
            raise UnreadableDocument("no text layer (a scan?); OCR is not done")
        text = text.rstrip()
        metadata = {"author": _info_value(info, "Author"), "date": _iso_date(info.get("CreationDate", "")) or ""}
        title = _info_value(info, "Title")
        return Extracted(
            text=text,
            title=("" if _FILE_NAME_TITLE.match(title) else title) or _heading(pages[0]),
            format="pdf",
            metadata={key: value for key, value in metadata.items() if value},
            pages=tuple(start for start in starts if start < len(text)),
        )

    @staticmethod
    def _pages(data: bytes) -> tuple[list[list[list[_Line]]], dict[str, str]]:
        """Each page's paragraphs of lines, and the document information."""
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as error:
            raise UnreadableDocument(_refusal(error)) from None
        try:
            if len(document) == 0:
                raise UnreadableDocument("it has no pages")
            pages = []
            for number in range(len(document)):
                try:
                    page = document[number]
                    try:
                        textpage = page.get_textpage()
                        pages.append(_paragraphs(_page_lines(textpage)))
                        textpage.close()
                    finally:
                        page.close()
                except pdfium.PdfiumError:
                    raise UnreadableDocument(f"page {number + 1} is damaged") from None
            return pages, document.get_metadata_dict(skip_empty=True)
        finally:
            document.close()


PDF = PdfReader()
