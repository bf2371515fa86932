"""English's plug-in: the kind a question asks for and the spans of a sentence that could answer it."""

import unicodedata

import pytest

from assistant.languages import language_for
from assistant.languages.english import ENGLISH
from assistant.languages.vietnamese import VIETNAMESE


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
    assert language_for("fr") is ENGLISH and language_for("en") is ENGLISH and language_for("vi") is VIETNAMESE


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("Which provinces does the command cooperate with?", True),
        ("Which Vietnamese provinces does the command work with?", True),
        ("What mechanisms did the two sides laud?", True),
        ("What are the important areas for joint activities?", True),
        ("What information have the two sides shared?", True),
        ("Which province does the command cooperate with?", False),
        ("What does the memorandum say?", False),
        ("What is the name of the river?", False),
        ("Which city has the largest port?", False),
        ("Who led the Lao side?", False),
    ],
)
def test_list_questions(question, wanted):
    assert ENGLISH.wants_list(question) is wanted


def around(sentence: str, item: str) -> str:
    start = sentence.index(item)
    a, b = ENGLISH.list_around(sentence, (start, start + len(item)))
    return sentence[a:b]


SHARED = (
    "The two sides have regularly shared information on cross-border crimes, national border security, "
    "immigration activities, and irregular migration, while also increasing joint patrols."
)


@pytest.mark.parametrize(
    ("sentence", "item", "whole"),
    [
        (
            SHARED,
            "cross-border crimes",
            "cross-border crimes, national border security, immigration activities, and irregular migration",
        ),
        (
            SHARED,
            "immigration activities",
            "cross-border crimes, national border security, immigration activities, and irregular migration",
        ),
        (
            SHARED,
            "irregular migration",
            "cross-border crimes, national border security, immigration activities, and irregular migration",
        ),
        (
            "It works with its counterparts of Việt Nam’s Sơn La and Điện Biên provinces.",
            "Điện Biên provinces",
            "Sơn La and Điện Biên provinces",
        ),
        (
            "It works with its counterparts of Việt Nam’s Sơn La and Điện Biên provinces.",
            "Sơn La",
            "Sơn La and Điện Biên provinces",
        ),
        ("The two sides signed the minutes and the memorandum.", "the memorandum", "the minutes and the memorandum"),
        # no list: a clause after "and", an appositive, a lone item
        ("The two sides signed the minutes and agreed to meet again next year.", "the minutes", "the minutes"),
        (
            "The Lao side was led by Colonel Viliem Vongthisan, Commanding Officer of the Command.",
            "Colonel Viliem Vongthisan",
            "Colonel Viliem Vongthisan",
        ),
        ("They met in Luang Prabang on March 28.", "Luang Prabang", "Luang Prabang"),
    ],
)
def test_a_short_answer_widens_to_its_whole_list(sentence, item, whole):
    assert around(sentence, item) == whole


def vi_spans(sentence: str, kind) -> list[str]:
    return [sentence[a:b] for a, b in VIETNAMESE.answer_spans(sentence, kind)]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Ai chủ trì hội đàm?", "person"),
        ("ai chu tri hoi dam?", "person"),  # typed without marks
        ("Hội đàm diễn ra ở đâu?", "place"),
        ("Đoàn Lào đến từ tỉnh nào?", "place"),
        ("Hai bên đã ký biên bản khi nào?", "time"),
        ("Hai bên tổ chức bao nhiêu cuộc tuần tra?", "quantity"),
        ("Đợt tuần tra kéo dài mấy ngày?", "quantity"),
        ("Vì sao hai bên tăng cường tuần tra?", None),
        ("Đầu tiên hai bên làm gì?", None),  # "đầu" (first) is no "đâu" (where)
    ],
)
def test_vietnamese_question_kinds(question, kind):
    assert VIETNAMESE.answer_kind(question) == kind


def test_vietnamese_dates_numbers_names_and_places():
    sentence = (
        "Ngày 15/3/2024, Đại tá Nguyễn Văn Hùng dẫn 60 cán bộ đến tỉnh Phôngsalỳ, hai bên ký biên bản ngày 16 tháng 3 năm 2024."
    )
    assert vi_spans(sentence, "time") == ["Ngày 15/3/2024", "ngày 16 tháng 3 năm 2024"]
    assert vi_spans(sentence, "quantity") == ["60"]  # not "hai" of "hai bên", nor the dates' numbers
    assert vi_spans(sentence, "person") == ["Nguyễn Văn Hùng"]
    assert vi_spans(sentence, "place") == ["Phôngsalỳ"]
    assert vi_spans("Đoàn Việt Nam do Đại tá Lê Văn Thành dẫn đầu.", "person") == ["Lê Văn Thành"]  # not the subject


@pytest.mark.parametrize(
    ("question", "follow_up", "kinds"),
    [
        ("Ông ấy giữ chức vụ gì?", True, {"person"}),
        ("Còn phía Lào thì sao?", True, set()),
        ("Hội đàm diễn ra ở đó khi nào?", True, {"place"}),
        ("Ai chủ trì hội đàm?", False, set()),
    ],
)
def test_vietnamese_follow_up_cues(question, follow_up, kinds):
    assert VIETNAMESE.leans_on_earlier_turn(question) is follow_up
    assert VIETNAMESE.referred_kinds(question) == kinds


def test_vietnamese_lists_and_explanations():
    assert VIETNAMESE.wants_list("Các học viên sẽ thực tập tại những tỉnh nào?")
    assert not VIETNAMESE.wants_list("Ai là Giám đốc Học viện Biên phòng?")
    sentence = "Các học viên sẽ thực tập tại các đồn biên phòng tỉnh Sơn La, Điện Biên và Nghệ An."
    start = sentence.index("Điện Biên")
    a, b = VIETNAMESE.list_around(sentence, (start, start + len("Điện Biên")))
    assert sentence[a:b] == "Sơn La, Điện Biên và Nghệ An"
    assert VIETNAMESE.wants_explanation("Vì sao hai bên tăng cường tuần tra?")
    assert not VIETNAMESE.wants_explanation("Ai chủ trì hội đàm?")
