"""English's plug-in: the kind a question asks for and the spans of a sentence that could answer it."""

import unicodedata

import pytest

from assistant.languages import language_for
from assistant.languages.english import ENGLISH


def spans(sentence: str, kind) -> list[str]:
    return [sentence[a:b] for a, b in ENGLISH.answer_spans(sentence, kind)]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Which NFL team represented the AFC?", "person"),
        ("In what country is Normandy located?", "place"),
        ("What is the name of the river?", "person"),
        ("How long did the dialogue last?", "quantity"),
        ("What is general relativity?", None),  # "general" is no person asked for
        ("What is state capitalism?", None),
        ("Ｗｈｏ led the Lao side?", None),  # raw fullwidth text: Question.analyse normalises it first
    ],
)
def test_question_kinds(question, kind):
    assert ENGLISH.answer_kind(question) == kind


def test_dates_numbers_names_and_places():
    sentence = "The meeting took place in the province of Luang Prabang on March 28, 2023, and 1,200 guests saw 40 cows."
    assert spans(sentence, "time") == ["March 28, 2023"]
    assert spans(sentence, "quantity") == ["1,200", "40"]  # not the 28 of the date
    assert spans(sentence, "place") == ["Luang Prabang"]
    ranks = "Political Commissar of the Border Guard Command Senior Colonel Ca Van Lap met them."
    assert spans(ranks, "person") == ["Political Commissar", "Border Guard Command", "Senior Colonel Ca Van Lap"]


def test_a_lower_case_month_is_no_date():
    assert spans("As many as 40 may have died.", "time") == []
    assert spans("They will march 3 miles.", "time") == []


def test_names_with_accents_in_either_unicode_form():
    for form in ("NFC", "NFD"):
        sentence = unicodedata.normalize(form, "The delegation of Ông Nguyễn Văn An visited Hà Nội.")
        assert [unicodedata.normalize("NFC", s) for s in spans(sentence, "person")] == ["Ông Nguyễn Văn An", "Hà Nội"]


def test_clause_breaks_are_not_times_or_ranges():
    sentence = "It began at 10:30 and ran 5–6 hours; then it ended."
    assert ENGLISH.clause_breaks(sentence) == [sentence.index(";")]


def test_a_language_without_a_plug_in_is_served_by_the_fallback():
    assert language_for("vi") is ENGLISH and language_for("en") is ENGLISH
