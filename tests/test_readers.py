"""The PDF, Word and HTML readers on real files made with the libraries that write those formats.

The contract suite (tests/contracts/test_reader_contract.py) checks what every
reader must do; these check what each of these three must find: the
article's sentences whole and in order, its title, date and author, the
page each sentence is on, and a one-line reason for each kind of bad file.
"""

from __future__ import annotations

import io
import random
import zipfile
from datetime import datetime

import docx
import pytest
from docx.oxml import OxmlElement

from assistant.corpus import extract
from assistant.errors import AssistantError
from assistant.ingest import admit, check_article, safe_name
from assistant.readers import UnreadableDocument, reader_for, sniff
from assistant.segment import split_paragraphs, split_sentences
from tests import documents


def _sentences(text: str) -> list[str]:
    return [text[start:end] for paragraph in split_paragraphs(text) for start, end in split_sentences(text, *paragraph)]


def _read(name: str, data: bytes):
    reader = reader_for(name)
    assert reader is not None
    return reader.read(data, name)


def test_pdf_sentences_whole_in_order_with_their_pages():
    document = extract("minutes.pdf", documents.pdf_file())
    expected = documents.PAGE_ONE_SENTENCES + documents.PAGE_TWO_SENTENCES
    # Each is a sentence of its own to the splitter: the hyphenated line end joined ("cooperation"), lines of a
    # paragraph joined by spaces, the ligature "ﬁ" read as "fi", each column its own paragraph.
    assert _sentences(document.text) == [documents.TITLE, *expected]
    assert [document.text.index(sentence) for sentence in expected] == sorted(document.text.index(s) for s in expected)
    assert len(document.pages) == 1
    for sentence in documents.PAGE_ONE_SENTENCES:
        assert document.page_at(document.text.index(sentence)) == 1
    for sentence in documents.PAGE_TWO_SENTENCES:
        assert document.text.index(sentence) >= document.pages[0]
        assert document.page_at(document.text.index(sentence)) == 2
    assert document.title == documents.TITLE
    assert document.format == "pdf"
    assert document.metadata == {"date": "2023-03-29", "author": "Border News", "language": "en"}  # detected


def test_pdf_paragraphs_are_separated_by_blank_lines():
    text = _read("minutes.pdf", documents.pdf_file()).text
    assert [text[start:end] for start, end in split_paragraphs(text)] == [
        documents.TITLE,
        *documents.PAGE_ONE_SENTENCES,
        *documents.PAGE_TWO_SENTENCES,
    ]


def test_pdf_sentence_running_on_to_the_next_page_stays_whole():
    first = [["The delegations agreed that the patrols along the border would"]]
    second = [["continue through the rainy season."], ["A new paragraph starts here."]]
    extracted = _read("minutes.pdf", documents.pdf_file(heading=None, pages=[first, second], columns=None))
    sentence = "The delegations agreed that the patrols along the border would continue through the rainy season."
    assert _sentences(extracted.text) == [sentence, "A new paragraph starts here."]
    assert extracted.text[extracted.pages[0] :].startswith("continue through")


@pytest.mark.parametrize("info_title", ["Microsoft Word - minutes.docx", "untitled", None])
def test_pdf_title_is_the_first_page_heading_when_the_information_names_none(info_title):
    assert _read("minutes.pdf", documents.pdf_file(title=info_title)).title == documents.TITLE


def test_pdf_without_a_title_or_heading_leaves_the_title_to_the_file_name():
    document = extract("border-minutes.pdf", documents.pdf_file(title=None, heading=None, columns=None))
    assert document.title == "Border Minutes"
    assert document.metadata["date"] == "2023-03-29"


def test_pdf_encrypted_only_against_editing_is_read():
    extracted = _read("minutes.pdf", documents.encrypted_pdf(documents.pdf_file(), password=""))
    assert documents.PAGE_ONE_SENTENCES[0] in extracted.text


def test_pdf_hyphen_before_a_capital_or_a_digit_is_kept():
    lines = ["The Viet Nam-Lao border patrols of the years 2023-", "2025 are the first of the Lao-", "Vietnamese plan."]
    text = _read("plan.pdf", documents.pdf_file(heading=None, pages=[[lines]], columns=None)).text
    assert text == "The Viet Nam-Lao border patrols of the years 2023-2025 are the first of the Lao-Vietnamese plan."


def test_docx_paragraphs_headings_and_table_rows_in_document_order():
    document = extract("dialogue.docx", documents.docx_file())
    rows = [" | ".join(row) for row in documents.DOCX_TABLE]
    heading, first, second, *table, subheading, last = split_paragraphs(document.text)
    assert [document.text[start:end] for start, end in (heading, first, second, subheading, last)] == [
        "Việt Nam–Laos defence policy dialogue",
        *documents.DOCX_SENTENCES[:2],
        "Training",
        documents.DOCX_SENTENCES[2],
    ]
    assert [document.text[start:end] for start, end in table] == rows
    assert document.title == "Defence policy dialogue"
    assert document.format == "docx"
    assert document.pages == ()
    assert document.metadata == {"date": "2023-06-12", "author": "Ministry of National Defence", "language": "en"}


def test_docx_without_core_title_takes_its_first_heading_and_ignores_the_template_date():
    extracted = _read("dialogue.docx", documents.docx_file(title=None, created=None))
    assert extracted.title == "Việt Nam–Laos defence policy dialogue"
    assert "date" not in extracted.metadata  # python-docx's template says 2013-12-23: not when this was written


def test_docx_content_controls_are_read_through():
    document = docx.Document()
    document.add_paragraph("Before the control.")
    wrapped = document.add_paragraph("Inside a content control.")._p
    control, content = OxmlElement("w:sdt"), OxmlElement("w:sdtContent")
    wrapped.addprevious(control)
    control.append(content)
    content.append(wrapped)
    document.add_paragraph("After the control.")
    document.core_properties.created = datetime(2024, 1, 2)
    buffer = io.BytesIO()
    document.save(buffer)
    text = _read("controls.docx", buffer.getvalue()).text
    assert text == "Before the control.\n\nInside a content control.\n\nAfter the control."


def test_html_article_without_navigation_ads_scripts_or_comments():
    document = extract("border-news.html", documents.html_page())
    assert _sentences(document.text) == [documents.TITLE, *documents.HTML_SENTENCES]
    assert not [text for text in documents.HTML_BOILERPLATE if text in document.text]
    assert document.title == documents.TITLE
    assert document.format == "html"
    assert document.metadata == {
        "date": "2023-03-29",
        "author": "Nguyen Van An",
        "source": "https://news.example.vn/son-la-luang-prabang.html",
        "language": "en",
    }


def test_html_publication_date_is_the_page_s_own():
    assert _read("news.html", documents.html_page(published="2021-11-05")).metadata["date"] == "2021-11-05"


def test_html_page_without_article_tags_keeps_the_article_and_drops_the_sidebar():
    extracted = _read("patrols.html", documents.soup_page())
    blocks = [extracted.text[start:end] for start, end in split_paragraphs(extracted.text)]
    assert blocks == [
        "Joint patrols at Pa Hang",
        *documents.SOUP_SENTENCES,
        "- Patrols start on 1 April.\n- Each patrol has ten officers.",
        "Gate | Province",
        "Pa Hang | Son La",
    ]
    assert not [text for text in documents.SOUP_BOILERPLATE if text in extracted.text]
    assert extracted.metadata == {
        "date": "2023-04-02",
        "source": "https://news.example.vn/joint-patrols-4587.html",
        "language": "vi",
    }


def test_html_page_without_a_date_has_none():
    page = b"<html><body><article><h1>Talks</h1><p>The two sides met in Vientiane to discuss patrols.</p></article></body></html>"
    extracted = _read("talks.html", page)
    assert extracted.text == "Talks\n\nThe two sides met in Vientiane to discuss patrols."
    assert "date" not in extracted.metadata


@pytest.mark.parametrize(
    ("encoding", "sentence"),
    [
        ("utf-8", "Đoàn do Đại tá Cầm Văn Lập dẫn đầu."),
        ("utf-16", "Đoàn do Đại tá Cầm Văn Lập dẫn đầu."),
        ("windows-1252", "Café à Vientiane."),
    ],
)
def test_html_in_the_encoding_it_declares(encoding, sentence):
    page = f'<html><head><meta charset="{encoding}"></head><body><p>{sentence}</p></body></html>'.encode(encoding)
    assert _read("vi.html", page).text == sentence


def test_plain_text_front_matter_gives_date_and_source():
    article = "---\ndate: 2023-03-28\nsource: https://example.vn/a\n---\nThe two sides met in Son La.\n"
    extracted = _read("meeting.md", article.encode())
    assert extracted.metadata == {"date": "2023-03-28", "source": "https://example.vn/a"}
    assert extracted.text[extracted.body_start :] == "The two sides met in Son La.\n"


def _bad_files() -> list[tuple[str, bytes, str]]:
    pdf, docx = documents.pdf_file(), documents.docx_file()
    return [
        ("encrypted.pdf", documents.encrypted_pdf(pdf), "encrypted: it needs a password to open"),
        ("truncated.pdf", pdf[: len(pdf) * 3 // 4], "truncated: a PDF ends with %%EOF and this one does not"),
        ("damaged.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n", "a damaged PDF that cannot be parsed"),
        ("scan.pdf", documents.scanned_pdf(), "no text layer (a scan?); OCR is not done"),
        ("minutes.pdf", docx, "not a PDF file (its content is a Word .docx file)"),
        ("news.pdf", documents.html_page(), "not a PDF file (its content is an HTML page)"),
        ("truncated.docx", docx[: len(docx) // 2], "a damaged .docx: not a readable zip archive (truncated?)"),
        ("protected.docx", documents.encrypted_docx(), "password-protected (encrypted): save it again without a password"),
        ("old.docx", sniff.OLE + bytes(1024), "an old binary Word .doc, not a .docx: save it again as .docx"),
        ("bomb.docx", documents.zip_bomb_docx(), "too large once decompressed (54 MB in 18 parts; at most 50 MB)"),
        ("minutes.docx", pdf, "not a Word .docx file (its content is a PDF file)"),
        ("archive.docx", _zip({"notes.txt": b"hello"}), "not a Word .docx file (its content is a zip archive)"),
        ("broken.docx", _zip({"word/document.xml": b"<w:document"}), "a damaged .docx: python-docx cannot read its parts"),
        ("scripts.html", b"<html><body><script>alert('x')</script><style>p{}</style></body></html>", "no article text"),
        ("minutes.html", pdf, "not an HTML page (its content is a PDF file)"),
        ("photo.htm", b"\xff\xd8\xff\xe0" + bytes(64), "not an HTML page (its content is a JPEG image)"),
    ]


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "data", "reason"), _bad_files(), ids=[name for name, _, _ in _bad_files()])
def test_a_bad_file_is_refused_with_a_one_line_reason(name, data, reason):
    with pytest.raises(UnreadableDocument) as refused:
        _read(name, data)
    assert str(refused.value) == reason


@pytest.mark.parametrize("name", ["minutes.pdf", "dialogue.docx", "news.html"])
def test_a_damaged_file_is_read_or_refused_never_a_crash(name):
    """Bytes overwritten at random (and sometimes the middle cut out): the reader reads what is left or raises
    UnreadableDocument, never a library's own exception (found so: PDFium's on a damaged page, zipfile's on a
    bad version field)."""
    data = {"minutes.pdf": documents.pdf_file, "dialogue.docx": documents.docx_file, "news.html": documents.html_page}[name]()
    chance = random.Random(name)
    for _ in range(60):
        damaged = bytearray(data)
        for _ in range(chance.randint(1, 30)):
            damaged[chance.randrange(len(damaged))] = chance.randrange(256)
        if chance.random() < 0.3:
            damaged = damaged[: chance.randrange(len(damaged))] + damaged[-10:]
        try:
            _read(name, bytes(damaged))
        except UnreadableDocument as refused:
            assert str(refused) and "\n" not in str(refused)


def test_the_content_is_described_by_its_first_bytes():
    assert sniff.describe(documents.pdf_file()) == "a PDF file"
    assert sniff.describe(documents.docx_file()) == "a Word .docx file"
    assert sniff.describe(documents.encrypted_docx()).startswith("an OLE compound file")
    assert sniff.describe(documents.html_page()) == "an HTML page"
    assert sniff.describe("Sơn La".encode()) == "text"
    assert sniff.describe(b" \n") == "empty"
    assert sniff.describe(bytes(16)) == "binary data"


def test_new_formats_are_admitted_and_bad_ones_refused_in_one_line(tmp_path):
    assert safe_name("Biên bản họp.PDF") == "Biên-bản-họp.pdf"
    for name in ("minutes.pdf", "dialogue.docx", "news.html", "news.htm"):
        assert safe_name(name) == name
    with pytest.raises(AssistantError) as refused:
        admit(tmp_path, [("minutes.pdf", documents.pdf_file()), ("locked.pdf", documents.encrypted_pdf(documents.pdf_file()))])
    assert str(refused.value) == "locked.pdf: encrypted: it needs a password to open"
    assert not list(tmp_path.iterdir())  # one bad file adds nothing
    with pytest.raises(AssistantError, match=r"^fake\.docx: not a Word \.docx file \(its content is a PDF file\)$"):
        check_article("fake.docx", documents.pdf_file())
    admitted = admit(tmp_path, [("minutes.pdf", documents.pdf_file()), ("dialogue.docx", documents.docx_file())])
    assert [admission.describe() for admission in admitted] == [
        "added minutes.pdf as minutes.pdf",
        "added dialogue.docx as dialogue.docx",
    ]
    assert (tmp_path / "minutes.pdf").read_bytes() == documents.pdf_file()


def test_vietnamese_written_decomposed_is_kept_composed_and_found_either_way(tmp_path):
    import unicodedata

    from assistant.core import Assistant
    from tests.fakes import HASHING_EMBEDDER

    sentence = "Đoàn Lào do Thượng tá Bounmy Sisavath dẫn đầu tại hội đàm ở Điện Biên Phủ."
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "nfd.txt").write_text(unicodedata.normalize("NFD", sentence) + "\n", encoding="utf-8")
    assistant = Assistant(tmp_path / "index", corpus)
    assistant.update(embedder=HASHING_EMBEDDER)
    assert assistant.document("nfd.txt").text == sentence + "\n"  # stored composed
    for typed in (sentence, unicodedata.normalize("NFD", "Ai dẫn đầu đoàn Lào tại hội đàm ở Điện Biên Phủ?")):
        answer = assistant.ask(typed)
        assert not answer.abstained and answer.sources[0].quote == sentence, answer.answer
