"""Which language a question or a document is in (assistant/languages/detect.py), and the language each indexed
document records in the manifest (assistant/corpus.py `extract`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.corpus import extract
from assistant.languages.detect import detect_language, language_code, telling_words

QA = Path(__file__).resolve().parent / "qa"
_ENGLISH_OPENING = re.compile(r"(Who|What|When|Where|Which|How|Why|Is|Are|Did|Does)\b")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Who led the Lao side at the Son La border meeting?", "en"),
        ("Ông ấy giữ chức vụ gì?", "vi"),
        ("Còn phía Lào thì sao?", "vi"),
        ("Hội đàm diễn ra ở đâu?", "vi"),
        # English writes Vietnamese names with their marks: names do not make a question Vietnamese.
        ("What about Điện Biên?", "en"),
        ("Who is the Lao counterpart of Hoàng Xuân Chiến?", "en"),
        ("How many kilometres of border does Điện Biên share with Laos?", "en"),
        # …and a Vietnamese question about English names stays Vietnamese.
        ("Jacksonville cách Miami bao xa?", "vi"),
        ("Ai thành lập McKinsey & Company?", "vi"),
        ("AI DẪN ĐẦU ĐOÀN LÀO?", "vi"),  # all capitals
        ("Ai dan dau doan Lao?", "vi"),  # typed without marks
        ("Hai ben da ky nhung gi?", "vi"),
        ("Ho\u0323i đa\u0300m die\u0302\u0303n ra ơ\u0309 đâu?", "vi"),  # decomposed marks
    ],
)
def test_questions_in_either_language(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "Sơn La", "Việt Nam", "2023", "?!", "ສະບາຍດີ ປະເທດລາວ", "COVID-19"])
def test_nothing_that_tells_is_none(text):
    """Names alone, numbers, punctuation, and scripts without case (Lao) say nothing of our two languages."""
    assert detect_language(text) is None


def test_names_and_sentence_openings_are_left_out():
    assert telling_words("What about Điện Biên? Ai dẫn đầu?") == "about dẫn đầu"


def test_every_question_of_our_own_sets_is_in_its_language():
    """English and Vietnamese questions of the QA sets, with and without marks; a question's language is told by
    its words, not its file (the Vietnamese sets hold English questions about Vietnamese articles)."""
    for path in sorted(QA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            for question in [record["question"]] if "question" in record else [turn[0] for turn in record["turns"]]:
                english = path.name.startswith("vi_") is False or bool(_ENGLISH_OPENING.match(question))
                expected = "en" if english else "vi"  # the Vietnamese sets' English questions open "Who/How …"
                assert detect_language(question) == expected, (path.name, question)


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("vi", "vi"),
        ("vi-VN", "vi"),
        ("en_US", "en"),
        ("EN", "en"),
        ("Vietnamese", "vi"),
        ("tiếng Việt", "vi"),
        ("fr", None),
        ("", None),
    ],
)
def test_language_tags_as_readers_find_them(tag, code):
    assert language_code(tag) == code


def test_a_document_without_a_language_is_given_the_one_its_text_is_in():
    vietnamese = extract("hoi-dam.txt", "Hội đàm\n\nĐoàn Lào do Đại tá Viliem Vongthisan dẫn đầu tại hội đàm.".encode())
    english = extract("talks.md", "# Talks in Sơn La\n\nThe Lao delegation was led by Colonel Viliem Vongthisan.".encode())
    assert vietnamese.metadata == {"language": "vi"} and english.metadata == {"language": "en"}


def test_a_language_the_document_states_is_kept():
    stated = extract("talks.md", b"---\nlanguage: fr\ndate: 2023-03-28\n---\nThe two sides met in Son La.")
    assert stated.metadata == {"language": "fr", "date": "2023-03-28"}


def test_a_document_whose_text_tells_nothing_has_no_language():
    assert "language" not in extract("names.txt", "Sơn La – Luang Prabang\n\n2023".encode()).metadata


def test_each_document_of_the_vietnamese_corpus_is_vietnamese():
    for path in sorted((QA / "vi_corpus").glob("*.txt")):
        unstated = path.read_bytes().replace(b"language: vi\n", b"")  # its front matter says so: let the text say it
        assert b"language:" not in unstated
        assert extract(path.name, unstated).metadata.get("language") == "vi", path.name
