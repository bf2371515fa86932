"""Index time of a 1,000-document mixed corpus: PDF, Word, web pages and plain text, with the real model.

The corpus is made in a temporary folder from SQuAD paragraphs (real text,
../shared/data) by the makers of benchmarks/extract_speed.py: 250 PDF
reports of two or three pages (a third of them in two columns), 250 Word
files of a heading, ten paragraphs and a table, 250 saved-news-like web pages
of eight paragraphs with navigation, ads and scripts around them, and 250
plain-text articles of eight paragraphs (half `.md` with a front matter, half
`.txt` opening on a dateline). Every document has its own publication date,
spread over 2021-2025, where its format keeps one: the PDF's document
information, the Word file's core properties (created), the page's
`article:published_time` and `<time>`, the front matter's `date:`, the
dateline.

Then, in one process: every file is read once through `read_document` (the
extraction alone, per format); the model is loaded (with its one-time ONNX
export beside the new index); the index is built from scratch by
`update_index` with the default settings, phase by phase (its scan reads every
file again). Afterwards, as a sanity check rather than a test: every document
must carry the date it was made with, and one SQuAD question per format is
asked, its quotes checked against the stored text (`text[start:end] ==
quote`). Peak memory is the process's resident peak (getrusage). Writes
benchmarks/results/mixed_corpus.json.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python benchmarks/mixed_corpus.py [--per-format 250]

A smaller `--per-format` is a trial run: it prints its numbers and writes nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import resource
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import docx
import pypdf
import pypdfium2 as pdfium
import reportlab
from corpora import SQUAD
from extract_speed import FONT, make_docx, make_html, make_pdf, source_paragraphs
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from assistant.core import Assistant
from assistant.corpus import read_document, scan_files
from assistant.embedders import Embedder
from assistant.indexer import update_index
from assistant.settings import IndexSettings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "mixed_corpus.json"
PER_FORMAT = 250
FORMATS = ("pdf", "docx", "html", "text")
FIRST_DAY, LAST_DAY = date(2021, 1, 1), date(2025, 12, 31)
DAY_STRIDE = 733  # prime to the 1,826 days of 2021-2025: every document gets a day of its own, spread over the years
PDF_PAGES = (2, 3)
DOCX_PARAGRAPHS, HTML_PARAGRAPHS, TEXT_PARAGRAPHS = 10, 8, 8  # as in extract_speed.py


@dataclass(frozen=True)
class Planned:
    """A document of the corpus as it was made."""

    name: str
    kind: str  # one of FORMATS
    published: str
    paragraphs: tuple[str, ...]
    pages: int = 0  # PDF only


def _day(number: int) -> date:
    span = (LAST_DAY - FIRST_DAY).days + 1
    return FIRST_DAY + timedelta(days=number * DAY_STRIDE % span)


def _replaced(data: bytes, old: str, new: str) -> bytes:
    """`data` with `old` replaced, failing loudly if the maker no longer writes `old`."""
    if old.encode() not in data:
        raise ValueError(f"the maker's output no longer holds {old!r}")
    return data.replace(old.encode(), new.encode())


def dated_pdf(paragraphs: list[str], columns: int, title: str, day: date) -> bytes:
    """make_pdf's report, its document information given a title and a creation date (pypdf)."""
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf(paragraphs, columns)))
    writer.add_metadata({"/Title": title, "/CreationDate": f"D:{day:%Y%m%d}090000+07'00'"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def dated_docx(title: str, paragraphs: list[str], day: date) -> bytes:
    """make_docx's file, its core properties given a creation date (the template's own is not one)."""
    document = docx.Document(io.BytesIO(make_docx(title, paragraphs)))
    document.core_properties.created = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def dated_html(number: int, title: str, paragraphs: list[str], day: date) -> bytes:
    """make_html's page, its dates (meta, `<time>`, copyright) and canonical URL made this page's own."""
    page = make_html(title, paragraphs)
    page = _replaced(page, "2023-03-29", day.isoformat())
    page = _replaced(page, "29 March 2023", f"{day.day} {day:%B %Y}")
    page = _replaced(page, "Copyright 2023", f"Copyright {day.year}")
    return _replaced(page, "https://news.example/a", f"https://news.example/story-{number}")


def dated_text(number: int, paragraphs: list[str], day: date, markdown: bool) -> bytes:
    """A `.md` article with a front matter `date:`, or a `.txt` article whose first line is a dateline."""
    if markdown:
        head = f"---\ntitle: Article {number}\ndate: {day.isoformat()}\n---\n\n"
        return (head + "\n\n".join(paragraphs) + "\n").encode()
    first = f"VIENTIANE, {day:%B} {day.day}, {day.year} — {paragraphs[0]}"
    return "\n\n".join([f"# Article {number}", first, *paragraphs[1:]]).encode() + b"\n"


def _pages(data: bytes) -> int:
    document = pdfium.PdfDocument(data)
    try:
        return len(document)
    finally:
        document.close()


def make_corpus(folder: Path, paragraphs: list[str], per_format: int) -> list[Planned]:
    """`per_format` documents of each format, formats interleaved, each taking the next SQuAD paragraphs in turn."""
    folder.mkdir(parents=True)
    cursor = 0

    def take(count: int) -> list[str]:
        nonlocal cursor
        taken = [paragraphs[(cursor + i) % len(paragraphs)] for i in range(count)]
        cursor += count
        return taken

    planned = []
    for number in range(per_format * len(FORMATS)):
        kind, turn = FORMATS[number % len(FORMATS)], number // len(FORMATS)
        day = _day(number)
        pages = 0
        if kind == "pdf":
            name, columns, count = f"report-{number:04d}.pdf", 1 + (turn % 3 == 2), 9 + turn % 5
            held = take(count)
            data = dated_pdf(held, columns, f"Report {number}", day)
            while (pages := _pages(data)) not in PDF_PAGES:  # a paragraph less or more until it sets 2-3 pages
                held = held[:-1] if pages > PDF_PAGES[-1] else [*held, take(1)[0]]
                data = dated_pdf(held, columns, f"Report {number}", day)
        elif kind == "docx":
            name, held = f"minutes-{number:04d}.docx", take(DOCX_PARAGRAPHS)
            data = dated_docx(f"Minutes {number}", held, day)
        elif kind == "html":
            name, held = f"story-{number:04d}.html", take(HTML_PARAGRAPHS)
            data = dated_html(number, f"Story {number}", held, day)
        else:
            markdown = turn % 2 == 0
            name, held = f"article-{number:04d}.{'md' if markdown else 'txt'}", take(TEXT_PARAGRAPHS)
            data = dated_text(number, held, day, markdown)
        (folder / name).write_bytes(data)
        planned.append(Planned(name, kind, day.isoformat(), tuple(held), pages))
    return planned


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss is in KB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _suffix(doc_id: str) -> str:
    return doc_id.rsplit(".", 1)[-1]


def extract_all(corpus: Path) -> dict:
    """Every file read through `read_document`, timed per format; the failures and each format's slowest file."""
    by_format: dict[str, dict] = defaultdict(lambda: {"files": 0, "seconds": 0.0, "slowest": ("", 0.0)})
    failed = []
    began = time.perf_counter()
    for file in scan_files(corpus):
        mark = time.perf_counter()
        document = read_document(Path(file.path), corpus)
        seconds = time.perf_counter() - mark
        row = by_format[_suffix(file.doc_id)]
        row["files"] += 1
        row["seconds"] += seconds
        if seconds > row["slowest"][1]:
            row["slowest"] = (file.doc_id, seconds)
        if document is None:
            failed.append(file.doc_id)
    total = time.perf_counter() - began
    rows = {}
    for suffix, row in sorted(by_format.items()):
        rows[suffix] = {
            "files": row["files"],
            "seconds": round(row["seconds"], 3),
            "documents_per_second": round(row["files"] / row["seconds"], 1),
            "slowest": {"doc_id": row["slowest"][0], "ms": round(row["slowest"][1] * 1000, 1)},
        }
    files = sum(r["files"] for r in by_format.values())
    return {"seconds": round(total, 2), "documents_per_second": round(files / total, 1), "failed": failed, "by_format": rows}


def squad_questions() -> dict[str, list[dict]]:
    """SQuAD's questions by their paragraph (white space collapsed, as source_paragraphs gives it)."""
    found: dict[str, list[dict]] = {}
    for article in json.loads(SQUAD.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            found.setdefault(" ".join(paragraph["context"].split()), []).extend(paragraph["qas"])
    return found


def _flat(text: str) -> str:
    return " ".join(text.split())


def check(assistant: Assistant, planned: list[Planned]) -> dict:
    """Dates as made, and one SQuAD question per format answered with quotes that are the stored text's own."""
    records = assistant.documents()
    made = {p.name: p for p in planned}
    undated = sorted(doc_id for doc_id, r in records.items() if r.published is None)
    wrong = sorted(doc_id for doc_id, r in records.items() if r.published is not None and r.published != made[doc_id].published)
    questions = squad_questions()
    asked = []
    for kind in FORMATS:
        document = next(p for p in planned if p.kind == kind)
        qa = questions[document.paragraphs[1]][0]
        # The PDF's question is asked within its document's year too: the date filter, end to end.
        year = document.published[:4]
        scopes = [{}, {"since": f"{year}-01-01", "until": f"{year}-12-31"}] if kind == "pdf" else [{}]
        for scope in scopes:
            answer = assistant.ask(qa["question"], **scope)
            verified = sum(assistant.document(s.doc_id).text[s.start : s.end] == s.quote for s in answer.sources)
            top = answer.sources[0] if answer.sources else None
            golds = [a["text"] for a in qa["answers"]]
            asked.append(
                {
                    "format": kind,
                    "question": qa["question"],
                    "scope": scope or None,
                    "answered": not answer.abstained,
                    "quotes_verified": f"{verified}/{len(answer.sources)}",
                    "top_source": top.doc_id if top else None,
                    "top_source_published": top.published if top else None,
                    "top_source_holds_the_paragraph": bool(top)
                    and _flat(document.paragraphs[1]) in _flat(assistant.document(top.doc_id).text),
                    "gold_answer_quoted": any(g in s.quote for g in golds for s in answer.sources),
                    "sources_in_scope": all(scope["since"] <= (s.published or "") <= scope["until"] for s in answer.sources)
                    if scope
                    else None,
                }
            )
    return {"documents": len(records), "undated": undated, "dated_wrongly": wrong, "questions": asked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-format", type=int, default=PER_FORMAT, help="documents of each format (default 250)")
    per_format = parser.parse_args().per_format
    logging.basicConfig(level=logging.WARNING)
    pdfmetrics.registerFont(TTFont(FONT, str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf")))
    load_before = os.getloadavg()
    paragraphs = source_paragraphs()
    with tempfile.TemporaryDirectory() as folder:
        corpus, index_dir = Path(folder) / "corpus", Path(folder) / "index"
        began = time.perf_counter()
        planned = make_corpus(corpus, paragraphs, per_format)
        made_seconds = time.perf_counter() - began
        corpus_bytes = sum(p.stat().st_size for p in corpus.iterdir())
        counts: dict[str, int] = defaultdict(int)
        for p in planned:
            counts[_suffix(p.name)] += 1
        pdf_pages = [p.pages for p in planned if p.kind == "pdf"]
        print(
            f"made {len(planned)} documents ({dict(counts)}; PDF pages {sum(pdf_pages)}, "
            f"{pdf_pages.count(2)} of 2 and {pdf_pages.count(3)} of 3) of {corpus_bytes / 1e6:.1f} MB in {made_seconds:.0f} s",
            flush=True,
        )
        rss_made = peak_rss_mb()

        extraction = extract_all(corpus)
        print(f"extraction alone: {extraction['seconds']:.1f} s, {extraction['documents_per_second']:.1f} documents/s")
        for suffix, row in extraction["by_format"].items():
            rate, slowest = row["documents_per_second"], row["slowest"]
            print(f"  {suffix}: {row['files']} in {row['seconds']:.2f} s, {rate:,.1f}/s; slowest {slowest}", flush=True)
        if extraction["failed"]:
            print(f"  failed: {extraction['failed']}")
        rss_extracted = peak_rss_mb()

        # Made now, so that the code it answers with is imported before the long build (it loads no index yet).
        assistant = Assistant(index_dir, corpus_dir=corpus)
        settings = IndexSettings()
        mark = time.perf_counter()
        Embedder.for_index(settings, index_dir)  # loaded once per process: the build below uses this one
        model_seconds = time.perf_counter() - mark
        rss_model = peak_rss_mb()
        cpu_before = _cpu_seconds()
        report = update_index(corpus, index_dir, settings)
        cpu_build = _cpu_seconds() - cpu_before
        rss_built = peak_rss_mb()
        phases = report.timings
        shares = {phase: round(seconds / report.seconds, 3) for phase, seconds in phases.items()}
        build = {
            "seconds": round(report.seconds, 1),
            "model_load_seconds": round(model_seconds, 2),
            "documents": report.documents,
            "chunks": report.chunks,
            "texts_embedded": report.embedded,
            "cpu_seconds": round(cpu_build, 1),  # user + system, all threads: against the wall time, how shared the cores were
            "documents_per_second": round(report.documents / report.seconds, 2),
            "chunks_per_second": round(report.chunks / report.seconds, 1),
            "phases_seconds": phases,
            "phases_share": shares,
        }
        print(
            f"build: {report.summary()}; model load {model_seconds:.1f} s apart; {cpu_build:.0f} CPU s; "
            f"{build['documents_per_second']} documents/s, {build['chunks_per_second']} chunks/s",
            flush=True,
        )
        print("  phases: " + ", ".join(f"{k} {v:.1f} s ({shares[k]:.0%})" for k, v in phases.items()))

        checks = check(assistant, planned)
        chunks_by_format: dict[str, int] = defaultdict(int)
        for doc_id, record in assistant.documents().items():
            chunks_by_format[_suffix(doc_id)] += record.chunks
        dated = checks["documents"] - len(checks["undated"])
        print(f"dates: {dated}/{checks['documents']} dated, {len(checks['dated_wrongly'])} dated wrongly")
        for row in checks["questions"]:
            print(
                f"  {row['format']}{' (in ' + row['scope']['since'][:4] + ')' if row['scope'] else ''}: "
                f"answered {row['answered']}, quotes verified {row['quotes_verified']}, top {row['top_source']} "
                f"({row['top_source_published']}), holds the paragraph {row['top_source_holds_the_paragraph']}, "
                f"gold answer quoted {row['gold_answer_quoted']} - {row['question']}"
            )
        rss_end = peak_rss_mb()
        print(f"peak RSS: {rss_made} MB after making the corpus, {rss_extracted} after extracting,", end=" ")
        print(f"{rss_model} after loading the model, {rss_built} after the build")

    results = {
        "corpus": {
            "documents": len(planned),
            "by_format": dict(counts),
            "pdf_pages": {"total": sum(pdf_pages), "2": pdf_pages.count(2), "3": pdf_pages.count(3)},
            "megabytes": round(corpus_bytes / 1e6, 1),
            "chunks_by_format": dict(chunks_by_format),
            "published": f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}, one day per document",
            "make_seconds": round(made_seconds, 1),
        },
        "settings": settings.to_dict(),
        "extraction": extraction,
        "build": build,
        "peak_rss_mb": {
            "after_making": rss_made,
            "after_extraction": rss_extracted,
            "after_model_load": rss_model,
            "after_build": rss_built,
            "at_end": rss_end,
        },
        "checks": checks,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "niceness": os.nice(0),
        },
    }
    if per_format != PER_FORMAT:
        return  # a trial run: the results file holds the full corpus only
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
