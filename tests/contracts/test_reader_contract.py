"""The reader contract: every registered reader, on files of its formats and on files it must refuse.

A reader added to `READERS` needs its samples here (files made with the real
library that writes the format): the suite fails for a reader without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from assistant.corpus import extract
from assistant.readers import READERS, Extracted, UnreadableDocument, reader_for, suffixes


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


# Per reader: files it must read, and files it must refuse with UnreadableDocument.
SAMPLES = {"plain": _plain_samples}
UNREADABLE = {"plain": [("empty.txt", b""), ("blank.md", b"  \n\n"), ("latin1.txt", "café".encode("latin-1"))]}


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


def test_reading_is_deterministic(reader_name):
    reader = READERS.get(reader_name)
    for sample in SAMPLES[reader_name]():
        assert reader.read(sample.data, sample.name) == reader.read(sample.data, sample.name)


def test_refuses_what_it_cannot_read_with_a_short_reason(reader_name):
    reader = READERS.get(reader_name)
    for name, data in UNREADABLE[reader_name]:
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
