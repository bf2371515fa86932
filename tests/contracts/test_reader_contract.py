"""The reader contract: every registered reader, on files of its formats and on files it must refuse.

A reader added to `READERS` needs its samples here (files made with the real
library that writes the format, tests/documents.py, and a small one committed
in tests/samples/): the suite fails for a reader without them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assistant.corpus import extract
from assistant.readers import READERS, Extracted, UnreadableDocument, reader_for, suffixes
from tests import documents

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    contains: str  # a sentence the extracted text must hold exactly
    title: str = ""  # the title the reader must find ("" where the file names none)
    metadata: dict[str, str] = field(default_factory=dict)  # fields the reader must report


def _plain_samples() -> list[Sample]:
    article = "The Lao side was led by Colonel Viliem Vongthisan."
    return [
        Sample("meeting.txt", f"{article}\nThey met in Sơn La.".encode(), article),
        Sample("heading.md", f"# Border meeting\n\n{article}".encode(), article, title="Border meeting"),
        Sample(
            "front.md",
            f'---\ntitle: "Son La talks"\ndate: 2023-03-28\nlanguage: en\n---\n{article}\n'.encode(),
            article,
            title="Son La talks",
            metadata={"date": "2023-03-28", "language": "en"},
        ),
        Sample("bom.txt", "\ufeffĐiện Biên — “quoted”.\r\nSecond line.".encode(), "Điện Biên — “quoted”."),
    ]


def _committed(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def _html_samples() -> list[Sample]:
    return [
        Sample(
            "border-news.html",
            documents.html_page(),
            documents.HTML_SENTENCES[1],
            title=documents.TITLE,
            metadata={
                "date": "2023-03-29",
                "author": "Nguyen Van An",
                "source": "https://news.example.vn/son-la-luang-prabang.html",
            },
        ),
        Sample(
            "patrols.htm",
            documents.soup_page(),
            documents.SOUP_SENTENCES[0],
            title="Joint patrols at Pa Hang",
            metadata={"language": "vi"},
        ),
        Sample("fragment.html", "<p>Một câu về Sơn La và Luông Pha Băng.</p>".encode(), "Một câu về Sơn La và Luông Pha Băng."),
        Sample("border-news-sample.html", _committed("border-news.html"), documents.HTML_SENTENCES[0], title=documents.TITLE),
    ]


def _pdf_samples() -> list[Sample]:
    return [
        Sample(
            "minutes.pdf",
            documents.pdf_file(),
            documents.PAGE_TWO_SENTENCES[1],
            title=documents.TITLE,
            metadata={"date": "2023-03-29", "author": "Border News"},
        ),
        Sample("untitled.pdf", documents.pdf_file(title=None, heading=None, columns=None), documents.PAGE_ONE_SENTENCES[0]),
        Sample("minutes-sample.pdf", _committed("minutes.pdf"), documents.PAGE_ONE_SENTENCES[2], title=documents.TITLE),
    ]


def _docx_samples() -> list[Sample]:
    return [
        Sample(
            "dialogue.docx",
            documents.docx_file(),
            documents.DOCX_SENTENCES[1],
            title="Defence policy dialogue",
            metadata={"date": "2023-06-12", "author": "Ministry of National Defence"},
        ),
        Sample(
            "no-title.docx",
            documents.docx_file(title=None),
            "Training | 200 Lao officers",
            title="Việt Nam–Laos defence policy dialogue",
        ),
        Sample("dialogue-sample.docx", _committed("dialogue.docx"), documents.DOCX_SENTENCES[2], title="Defence policy dialogue"),
    ]


def _unreadable_pdfs() -> list[tuple[str, bytes]]:
    pdf = documents.pdf_file()
    return [
        ("empty.pdf", b""),
        ("encrypted.pdf", documents.encrypted_pdf(pdf)),
        ("truncated.pdf", pdf[: len(pdf) // 2]),
        ("scan.pdf", documents.scanned_pdf()),
        ("page.pdf", documents.html_page()),
    ]


def _unreadable_docx() -> list[tuple[str, bytes]]:
    docx = documents.docx_file()
    return [
        ("empty.docx", b""),
        ("truncated.docx", docx[: len(docx) // 2]),
        ("protected.docx", documents.encrypted_docx()),
        ("bomb.docx", documents.zip_bomb_docx()),
        ("minutes.docx", documents.pdf_file()),
    ]


def _unreadable_html() -> list[tuple[str, bytes]]:
    return [
        ("empty.html", b""),
        ("scripts.html", b"<html><head><script>alert(1)</script></head><body><script>document.write('x')</script></body></html>"),
        ("image.htm", b"\x89PNG\r\n\x1a\n" + bytes(64)),
        ("minutes.html", documents.pdf_file()),
    ]


# Per reader: files it must read, and files it must refuse with UnreadableDocument.
SAMPLES = {"plain": _plain_samples, "html": _html_samples, "pdf": _pdf_samples, "docx": _docx_samples}
UNREADABLE: dict[str, Callable[[], list[tuple[str, bytes]]]] = {
    "plain": lambda: [("empty.txt", b""), ("blank.md", b"  \n\n"), ("latin1.txt", "café".encode("latin-1"))],
    "html": _unreadable_html,
    "pdf": _unreadable_pdfs,
    "docx": _unreadable_docx,
}


@pytest.fixture(params=READERS.names())
def reader_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name not in SAMPLES or name not in UNREADABLE:
        pytest.fail(f"reader {name!r} has no samples in the reader contract suite")
    return name


def test_reads_its_samples(reader_name):
    reader = READERS.get(reader_name)
    for sample in SAMPLES[reader_name]():
        extracted = reader.read(sample.data, sample.name)
        assert isinstance(extracted, Extracted)
        assert sample.contains in extracted.text, sample.name
        assert extracted.title == sample.title, sample.name
        assert "\n" not in extracted.title
        assert extracted.format and extracted.format == extracted.format.lower()
        assert 0 <= extracted.body_start <= len(extracted.text)
        assert extracted.text[extracted.body_start :].strip()
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in extracted.metadata.items())
        assert sample.metadata.items() <= extracted.metadata.items(), sample.name
        assert list(extracted.pages) == sorted(set(extracted.pages))
        assert all(0 < page < len(extracted.text) for page in extracted.pages)
        assert unicodedata.is_normalized("NFC", extracted.text), sample.name  # one form, whatever the file wrote


def test_reading_is_deterministic(reader_name):
    reader = READERS.get(reader_name)
    for sample in SAMPLES[reader_name]():
        assert reader.read(sample.data, sample.name) == reader.read(sample.data, sample.name)


def test_refuses_what_it_cannot_read_with_a_short_reason(reader_name):
    reader = READERS.get(reader_name)
    for name, data in UNREADABLE[reader_name]():
        with pytest.raises(UnreadableDocument) as refused:
            reader.read(data, name)
        assert str(refused.value) and "\n" not in str(refused.value)


def test_its_suffixes_lead_to_it(reader_name):
    reader = READERS.get(reader_name)
    assert reader.suffixes and all(s.startswith(".") and s == s.lower() for s in reader.suffixes)
    for suffix in reader.suffixes:
        assert reader_for(f"article{suffix.upper()}") is reader
        assert suffix in suffixes()


def test_documents_hash_the_source_bytes_and_the_text_apart(reader_name):
    """Identity: the source file's bytes name the file, the extracted text names what quotes point into."""
    for sample in SAMPLES[reader_name]():
        document = extract(sample.name, sample.data)
        assert document.text[document.body_start :].strip()
        assert document.sha256 != document.text_sha256 or sample.data == document.text.encode("utf-8")
        assert extract(sample.name, sample.data) == document


def test_no_two_readers_claim_a_suffix():
    claimed = [suffix for name in READERS.names() for suffix in READERS.get(name).suffixes]
    assert len(claimed) == len(set(claimed))
