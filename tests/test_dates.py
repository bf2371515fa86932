"""Dates in documents and questions (pure: no index, no model)."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.dates import Period, find_date, parse_iso_day, published_date, time_focus
from assistant.records import Document, DocumentRecord, text_hash

TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-03-28", date(2023, 3, 28)),
        ("2023-03-28T09:30:00+07:00", date(2023, 3, 28)),
        ("HÀ NỘI, 28/3/2023 — Hai bên đã ký biên bản.", date(2023, 3, 28)),
        ("Luang Prabang, ngày 5 tháng 12 năm 2024 (QĐND)", date(2024, 12, 5)),
        ("Vientiane, March 28, 2023 (VNA) – The two sides met.", date(2023, 3, 28)),
        ("Posted on Sept. 3rd, 2022 by the desk", date(2022, 9, 3)),
        ("Updated 3 September 2022, 10:00", date(2022, 9, 3)),
        ("D:20230328101500+07'00'", date(2023, 3, 28)),
        ("On 31/2/2023 nothing happened, then on 1/3/2023 it did.", date(2023, 3, 1)),
        ("The 2023 plan has 12 items.", None),
        ("", None),
    ],
)
def test_find_date_reads_the_first_full_date_in_either_language(text: str, expected: date | None) -> None:
    assert find_date(text) == expected


def test_the_earliest_date_in_the_text_wins_whatever_its_pattern() -> None:
    assert find_date("Hanoi, March 2, 2021. A follow-up was set for 2021-06-30.") == date(2021, 3, 2)


def test_published_prefers_metadata_to_a_dateline_and_never_guesses() -> None:
    text = "Vientiane, March 28, 2023 (VNA) – The two sides met."
    assert published_date({"date": "2024-01-05"}, text) == "2024-01-05"
    assert published_date({"published": "5/1/2024", "date": "2020-01-01"}, text) == "2024-01-05"
    assert published_date({}, text) == "2023-03-28"
    assert published_date({"date": "sometime"}, text) == "2023-03-28"
    assert published_date({}, "The two sides met and signed a memorandum.") is None


def test_a_dateline_is_looked_for_only_in_the_first_lines_after_the_front_matter() -> None:
    front = "---\ntitle: T\n---\n"
    body = "The two sides met. " * 30 + "They met again on 2022-05-05."
    assert published_date({}, front + body, body_start=len(front)) is None
    assert published_date({}, front + "Hanoi, 2022-05-05. " + body, body_start=len(front)) == "2022-05-05"


def test_iso_days_given_by_a_person_are_checked() -> None:
    assert parse_iso_day(" 2023-03-28 ") == date(2023, 3, 28)
    for bad in ("2023-13-01", "28/3/2023", "2023-3-1", "yesterday"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_iso_day(bad)


@pytest.mark.parametrize(
    ("question", "start", "end", "latest"),
    [
        ("What was agreed in March 2023?", "2023-03-01", "2023-03-31", False),
        ("What did the sides sign in 2024?", "2024-01-01", "2024-12-31", False),
        ("Hai bên ký gì vào tháng 3/2023?", "2023-03-01", "2023-03-31", False),
        ("Hai bên ký gì trong tháng 2 năm 2024?", "2024-02-01", "2024-02-29", False),
        ("Năm 2022 hai bên thống nhất điều gì?", "2022-01-01", "2022-12-31", False),
        ("What was agreed last year?", "2025-01-01", "2025-12-31", False),
        ("Năm ngoái hai bên đã ký gì?", "2025-01-01", "2025-12-31", False),
        ("Who visited this month?", "2026-12-01", "2026-12-31", False),
        ("Who visited last month?", "2026-11-01", "2026-11-30", False),
        ("What was the latest agreement in 2023?", "2023-01-01", "2023-12-31", True),
    ],
)
def test_time_focus_reads_the_period_a_question_names(question: str, start: str, end: str, latest: bool) -> None:
    focus = time_focus(question, TODAY)
    assert focus.period == Period(date.fromisoformat(start), date.fromisoformat(end))
    assert focus.latest is latest


@pytest.mark.parametrize(
    "question",
    [
        "What was agreed most recently?",
        "What is the latest agreement?",
        "When did the two sides last meet?",
        "Thỏa thuận mới nhất là gì?",
    ],
)
def test_time_focus_knows_a_question_for_the_most_recent(question: str) -> None:
    focus = time_focus(question, TODAY)
    assert focus.latest and focus.period is None


@pytest.mark.parametrize(
    "question",
    ["Who led the Lao side?", "What was his last name?", "How many troops were there in the 1990s?", "What may be signed?"],
)
def test_time_focus_is_empty_for_questions_about_no_time(question: str) -> None:
    assert not time_focus(question, TODAY)


def test_period_holds_its_own_days_only() -> None:
    march = Period(date(2023, 3, 1), date(2023, 3, 31))
    assert march.holds("2023-03-01") and march.holds("2023-03-31")
    assert not march.holds("2023-04-01") and not march.holds(None)


TEXT = "Page one says this.\n\nPage two says that."


def test_page_at_counts_pages_of_a_pdf_only() -> None:
    pdf = Document("a.pdf", "a.pdf", "A", TEXT, text_hash(TEXT), format="pdf", pages=(TEXT.index("Page two"),))
    assert pdf.page_at(0) == 1 and pdf.page_at(TEXT.index("two")) == 2
    assert Document("a.txt", "a.txt", "A", TEXT, text_hash(TEXT), format="txt").page_at(5) is None


def test_a_record_describes_its_pages_and_its_date_range() -> None:
    document = Document("a.pdf", "a.pdf", "A", TEXT, "0" * 64, format="pdf", pages=(21,), published="2023-03-28")
    record = DocumentRecord.of(document, chunks=2)
    described = record.describe("a.pdf", len(TEXT))
    assert described["pages"] == 2 and described["published"] == "2023-03-28" and described["chunks"] == 2
    assert described["page_ranges"] == [{"page": 1, "start": 0, "end": 21}, {"page": 2, "start": 21, "end": len(TEXT)}]
    assert record.published_within("2023-03-28", None) and record.published_within(None, "2023-03-28")
    assert not record.published_within("2023-03-29", None)
    undated = DocumentRecord.of(Document("b.txt", "b.txt", "B", TEXT, "1" * 64))
    assert undated.published_within(None, None) and not undated.published_within("1900-01-01", None)


def test_a_record_written_before_dates_takes_its_date_from_its_metadata() -> None:
    old = {"path": "a.txt", "title": "A", "sha256": "0" * 64, "metadata": {"date": "2023-03-28"}}
    assert DocumentRecord.from_dict(old).published == "2023-03-28"
    assert DocumentRecord.from_dict({**old, "published": None}).published is None
