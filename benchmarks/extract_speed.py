"""Extraction speed and quality of the readers: pages per second for PDF, documents per second for HTML and Word.

Documents of realistic size are made here from SQuAD paragraphs
(../shared/data; real text): PDF reports of about 20 pages set by reportlab,
one-column and two-column, Word files of a heading, ten paragraphs and a
table, saved-news-like web pages of eight paragraphs with navigation, a
sidebar, ads and scripts around them, and plain-text articles for scale.

For PDF both candidate libraries are timed on the same files: pypdf's
`extract_text` and PDFium's (pypdfium2) text as they come, and our reader
(PDFium plus finding paragraphs from the lines' positions). Quality is the
share of the source paragraphs found whole in the text, and found as a
block of their own (between blank lines, as the sentence splitter needs them), with each
library's lines joined by spaces so that only the reading order and the
words count. Times are the best of three runs. Writes
benchmarks/results/extract_speed.json.

    .venv/bin/python benchmarks/extract_speed.py
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import docx
import pypdf
import pypdfium2 as pdfium
import reportlab
from corpora import SQUAD
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph

from assistant.readers import reader_for

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "extract_speed.json"
RUNS = 3
PDF_FILES, PDF_PARAGRAPHS = 10, 120  # per layout; 120 SQuAD paragraphs fill about 20 pages
OTHER_FILES = 200
# Bitstream Vera (shipped with reportlab) draws Latin-1 and typographic punctuation; other paragraphs are left out.
_DRAWABLE = re.compile(r"[\x20-\x7e\xa0-\xff–—‘’“”…]+")
FONT = "Vera"


def source_paragraphs() -> list[str]:
    paragraphs = [
        p["context"] for article in json.loads(SQUAD.read_text(encoding="utf-8"))["data"] for p in article["paragraphs"]
    ]
    return [" ".join(p.split()) for p in paragraphs if _DRAWABLE.fullmatch(" ".join(p.split()))]


def _take(paragraphs: list[str], start: int, count: int) -> list[str]:
    return [paragraphs[(start + i) % len(paragraphs)] for i in range(count)]


def make_pdf(paragraphs: list[str], columns: int) -> bytes:
    """A report of `paragraphs` set in `columns` columns of 10-point text."""
    buffer = io.BytesIO()
    width, height = A4
    gutter = 18
    column = (width - 144 - gutter * (columns - 1)) / columns
    frames = [Frame(72 + i * (column + gutter), 72, column, height - 144, id=f"c{i}") for i in range(columns)]
    document = BaseDocTemplate(buffer, pagesize=A4, title="Report", author="Benchmark", invariant=True)
    document.addPageTemplates([PageTemplate(frames=frames)])
    style = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13, spaceAfter=7)
    document.build([Paragraph(escape(paragraph), style) for paragraph in paragraphs])
    return buffer.getvalue()


def make_docx(title: str, paragraphs: list[str]) -> bytes:
    document = docx.Document()
    document.add_heading(title, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    table = document.add_table(rows=4, cols=3)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"Row {r} column {c}"
    document.core_properties.title = title
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_html(title: str, paragraphs: list[str]) -> bytes:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    menu = "".join(f'<li><a href="/s{i}">Section {i}</a></li>' for i in range(12))
    related = "".join(f'<li><a href="/r{i}">Related story number {i} about the region</a></li>' for i in range(8))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | News</title>
<meta property="article:published_time" content="2023-03-29T08:15:00+07:00"><link rel="canonical" href="https://news.example/a">
<style>body {{ margin: 0 }} .ad {{ float: right }}</style><script>var analytics = {{ page: "article" }};</script></head>
<body><header><nav><ul>{menu}</ul></nav></header><div class="ad">Advertisement</div>
<main><article><h1>{escape(title)}</h1><p class="byline">By A. Writer, <time datetime="2023-03-29">29 March 2023</time></p>
{body}</article><aside><h3>Most read</h3><ul>{related}</ul></aside></main>
<footer><p>Copyright 2023 News. All rights reserved.</p></footer><script>analytics.send();</script></body></html>""".encode()


def _best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def _joined(text: str) -> str:
    return " ".join(text.split())


def _quality(texts: list[str], held: list[list[str]], blank_lines: bool) -> dict[str, float]:
    """Share of the source paragraphs found whole (white space aside), and found as a block of their own."""
    whole = breaks = count = 0
    for text, paragraphs in zip(texts, held, strict=True):
        flat = _joined(text)
        whole += sum(_joined(p) in flat for p in paragraphs)
        if blank_lines:
            blocks = {_joined(block) for block in re.split(r"\n\s*\n", text)}
            breaks += sum(p in blocks for p in paragraphs)
        count += len(paragraphs)
    return {"paragraphs_whole": round(whole / count, 3), "paragraphs_as_blocks": round(breaks / count, 3)}


def pypdf_texts(files: list[bytes]) -> list[str]:
    return ["\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages) for data in files]


def pdfium_texts(files: list[bytes]) -> list[str]:
    texts = []
    for data in files:
        document = pdfium.PdfDocument(data)
        texts.append("\n".join(document[i].get_textpage().get_text_range() for i in range(len(document))))
        document.close()
    return texts


def reader_texts(name: str, files: list[bytes]) -> list[str]:
    reader = reader_for(name)
    assert reader is not None
    return [reader.read(data, name).text for data in files]


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    pdfmetrics.registerFont(TTFont(FONT, str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf")))
    paragraphs = source_paragraphs()
    results: dict[str, object] = {"runs": RUNS, "source_paragraphs": len(paragraphs)}
    pdf_rows = []
    for columns in (1, 2):
        held = [_take(paragraphs, i * PDF_PARAGRAPHS, PDF_PARAGRAPHS) for i in range(PDF_FILES)]
        files = [make_pdf(source, columns) for source in held]
        pages = sum(len(pdfium.PdfDocument(data)) for data in files)
        for label, extract, blank_lines in (
            ("pypdf extract_text", pypdf_texts, False),
            ("pypdfium2 get_text_range", pdfium_texts, False),
            ("our reader (pypdfium2 + paragraphs)", lambda f: reader_texts("report.pdf", f), True),
        ):
            seconds = _best_of(RUNS, lambda extract=extract, files=files: extract(files))
            row = {"layout": f"{columns} column{'s' * (columns > 1)}", "extractor": label, "files": len(files), "pages": pages}
            row |= {"seconds": round(seconds, 3), "pages_per_second": round(pages / seconds, 1)}
            row |= _quality(extract(files), held, blank_lines)
            pdf_rows.append(row)
            print(f"PDF, {row['layout']}, {label}: {row['pages_per_second']:,.0f} pages/s; {row}")
    results["pdf"] = pdf_rows
    other_rows = []
    makers = {
        "article.docx": lambda i: make_docx(f"Report {i}", _take(paragraphs, i * 10, 10)),
        "article.html": lambda i: make_html(f"Story {i}", _take(paragraphs, i * 8, 8)),
        "article.txt": lambda i: "\n\n".join([f"# Story {i}", *_take(paragraphs, i * 8, 8)]).encode(),
    }
    for name, make in makers.items():
        files = [make(i) for i in range(OTHER_FILES)]
        seconds = _best_of(RUNS, lambda name=name, files=files: reader_texts(name, files))
        kilobytes = sum(len(data) for data in files) / len(files) / 1024
        row = {
            "format": name.rsplit(".", 1)[1],
            "files": len(files),
            "mean_file_kb": round(kilobytes, 1),
            "seconds": round(seconds, 3),
        }
        row["documents_per_second"] = round(len(files) / seconds, 1)
        other_rows.append(row)
        print(f"{row['format']}: {row['documents_per_second']:,.0f} documents/s ({row['mean_file_kb']} KB each)")
    results["documents"] = other_rows
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
