"""A corpus mixing every format, end to end: each answers a question with verified quotes, a PDF quote
says its page, dates filter, and `docs` describes each (the fast tier with the hashing stand-in, the
real model in the slow tier)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core import Assistant
from assistant.evaluation import contains_fact
from assistant.records import Answer
from tests.documents import docx_file, html_page, pdf_file
from tests.fakes import HASHING_EMBEDDER

PLAIN = "---\ndate: 2022-11-02\n---\nThe Lao Military Academy hosted forty Vietnamese cadets for a language course.\n"
# (question, the document that answers it, a fact the answer holds)
QUESTIONS = [
    ("Who led the Lao side at the meeting of the two commands?", "minutes.pdf", "Colonel Viliem Vongthisan"),
    ("What did they sign a memorandum on?", "minutes.pdf", "management of the border gates"),
    ("Where was the fifth defence policy dialogue held?", "dialogue.docx", "Luang Prabang"),
    ("How many Lao officers are in the training plan for 2023?", "dialogue.docx", "200 Lao officers"),
    ("Who led the Vietnamese delegation?", "border-news.html", "Senior Colonel Ca Van Lap"),
    ("How many Vietnamese cadets did the Lao Military Academy host?", "academy.md", "forty"),
]


def mixed_corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "minutes.pdf").write_bytes(pdf_file())  # dated 2023-03-29 by its information, two pages
    (folder / "dialogue.docx").write_bytes(docx_file())  # created 2023-06-12
    (folder / "border-news.html").write_bytes(html_page(published="2024-01-15"))
    (folder / "academy.md").write_text(PLAIN, encoding="utf-8")
    return folder


def verified(assistant: Assistant, answer: Answer) -> bool:
    """Every quote is its document's extracted text at its offsets, and a PDF quote names the page it is on."""
    for source in answer.sources:
        document = assistant.document(source.doc_id)
        if document.text[source.start : source.end] != source.quote or source.page != document.page_at(source.start):
            return False
    return True


def check_answers(assistant: Assistant) -> None:
    for question, doc_id, fact in QUESTIONS:
        answer = assistant.ask(question, doc_ids=[doc_id])
        assert not answer.abstained and contains_fact(answer.answer, fact), (question, answer.answer)
        assert verified(assistant, answer), answer.sources
    on_page_two = assistant.ask(QUESTIONS[1][0], doc_ids=["minutes.pdf"]).sources[0]
    assert on_page_two.page == 2 and on_page_two.format == "pdf" and on_page_two.published == "2023-03-29"


def test_a_mixed_corpus_is_indexed_described_and_answered(tmp_path):
    corpus, index_dir = mixed_corpus(tmp_path / "corpus"), tmp_path / "index"
    assistant = Assistant(index_dir, corpus)
    assistant.update(embedder=HASHING_EMBEDDER)
    listed = {doc_id: record.describe(doc_id) for doc_id, record in assistant.documents().items()}
    assert {d: (r["format"], r["published"], r["pages"]) for d, r in listed.items()} == {
        "academy.md": ("md", "2022-11-02", None),
        "border-news.html": ("html", "2024-01-15", None),
        "dialogue.docx": ("docx", "2023-06-12", None),
        "minutes.pdf": ("pdf", "2023-03-29", 2),
    }
    assert listed["border-news.html"]["source"] == "https://news.example.vn/son-la-luang-prabang.html"
    check_answers(assistant)
    in_2023 = {p.document.doc_id for p in assistant.search("border cooperation", k=20, since="2023-01-01", until="2023-12-31")}
    assert in_2023 == {"minutes.pdf", "dialogue.docx"}
    assert {p.document.doc_id for p in assistant.search("cadets", k=20, until="2022-12-31")} == {"academy.md"}


@pytest.mark.slow
def test_a_mixed_corpus_with_the_real_model(tmp_path):
    corpus, index_dir = mixed_corpus(tmp_path / "corpus"), tmp_path / "index"
    assistant = Assistant(index_dir, corpus)
    assistant.update()
    check_answers(assistant)
    whole = assistant.ask("Who led the Lao side at the meeting of the two commands?")  # no document named
    assert contains_fact(whole.answer, "Viliem Vongthisan") and verified(assistant, whole), whole.answer
