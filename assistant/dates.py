"""Dates in documents and in questions, in English and Vietnamese: pure functions, no I/O.

A document's `published` date comes from what its reader found (page or
file metadata, front matter `date:`), else from a dateline in its first
lines ("HÀ NỘI, 28/3/2023", "Vientiane, March 28, 2023"), else it is
unknown — never the file's modification time, which says when it was
copied, not when it was written. Day-first numeric dates (28/3/2023) are
read as Vietnamese and European writers write them.

A question's time is read as a `TimeFocus`: a period it names ("in March
2023", "last year", "năm 2023") and whether it wants the most recent
("latest", "mới nhất"). Relative periods are measured from a `today` the
caller gives, so tests do not depend on the calendar.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from assistant.textnorm import fold

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_YEAR = r"(?P<year>(?:19|20)\d\d)"

# Full dates, tried in this order on text folded to lower case without diacritics.
_FULL_DATES = (
    re.compile(rf"\b{_YEAR}-(?P<month>\d\d?)-(?P<day>\d\d?)(?![\d-])"),  # ISO, also the start of a timestamp
    re.compile(rf"\bngay\s+(?P<day>\d\d?)\s+thang\s+(?P<month>\d\d?)\s*(?:,\s*)?nam\s+{_YEAR}\b"),
    re.compile(rf"(?<![\d/.-])(?P<day>\d\d?)[/.-](?P<month>\d\d?)[/.-]{_YEAR}\b"),
    re.compile(rf"\b(?P<month_name>{_MONTH})\.?\s+(?P<day>\d\d?)(?:st|nd|rd|th)?,?\s+{_YEAR}\b"),
    re.compile(rf"\b(?P<day>\d\d?)(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month_name>{_MONTH})\.?,?\s+{_YEAR}\b"),
    re.compile(rf"\bd:{_YEAR}(?P<month>\d\d)(?P<day>\d\d)"),  # a PDF's info dictionary
)
# Metadata fields that may hold a publication date, most trusted first.
DATE_FIELDS = ("published", "date", "created")
DATELINE_CHARS = 300  # a dateline sits in the first line or two of an article


def _full_date(match: re.Match[str]) -> date | None:
    groups = match.groupdict()
    month = MONTHS[groups["month_name"]] if groups.get("month_name") else int(groups["month"])
    try:
        return date(int(groups["year"]), month, int(groups["day"]))
    except ValueError:  # 31/2, 13/13: not a date
        return None


def find_date(text: str) -> date | None:
    """The first full date written in `text`, or None. Every pattern is tried and the earliest match wins."""
    folded = fold(text)
    found: list[tuple[int, date]] = []
    for pattern in _FULL_DATES:
        for match in pattern.finditer(folded):
            if (day := _full_date(match)) is not None:
                found.append((match.start(), day))
                break
    return min(found)[1] if found else None


def published_date(metadata: Mapping[str, str], text: str, body_start: int = 0) -> str | None:
    """A document's publication date as YYYY-MM-DD: from its metadata, else a dateline, else None."""
    for key in DATE_FIELDS:
        if key in metadata and (day := find_date(metadata[key])) is not None:
            return day.isoformat()
    day = find_date(text[body_start : body_start + DATELINE_CHARS])
    return day.isoformat() if day is not None else None


def parse_iso_day(value: str) -> date:
    """A YYYY-MM-DD date given by a person (--since, --until, the web page's range); ValueError if it is not one."""
    try:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", value.strip()):
            return date.fromisoformat(value.strip())
    except ValueError:
        pass
    raise ValueError(f"{value!r} is not a date written YYYY-MM-DD")


@dataclass(frozen=True)
class Period:
    """Days from `start` to `end`, both included."""

    start: date
    end: date

    def holds(self, day: str | None) -> bool:
        """Whether the ISO date `day` falls in the period (an unknown day does not)."""
        return day is not None and self.start.isoformat() <= day <= self.end.isoformat()

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def month_period(year: int, month: int) -> Period:
    return Period(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))


def year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31))


@dataclass(frozen=True)
class TimeFocus:
    """What a question says about time: a period it is about, and whether it wants the most recent."""

    period: Period | None = None
    latest: bool = False

    def __bool__(self) -> bool:
        return self.period is not None or self.latest


# Cues on folded text (lower case, no diacritics), English and Vietnamese side by side.
_LATEST = re.compile(
    r"\b(?:most recent(?:ly)?|latest|newest|last time|(?:moi|gan day|gan) nhat|lan cuoi)\b"
    r"|\bwhen\b.*\blast\b(?!\s+(?:year|month|week))"  # "when did they last meet?"
)
_MONTHS_OF_YEAR = (
    re.compile(rf"\b(?P<month_name>{_MONTH})\.?(?:\s+of)?,?\s+{_YEAR}\b"),
    re.compile(rf"\bthang\s+(?P<month>\d\d?)\s*(?:/|nam)\s*{_YEAR}\b"),
)
_YEAR_ONLY = re.compile(rf"\b(?:in|during|of|since|nam)\s+{_YEAR}\b")
_RELATIVE = {
    "last year": ("year", -1),
    "nam ngoai": ("year", -1),
    "nam truoc": ("year", -1),
    "this year": ("year", 0),
    "nam nay": ("year", 0),
    "last month": ("month", -1),
    "thang truoc": ("month", -1),
    "this month": ("month", 0),
    "thang nay": ("month", 0),
}
_RELATIVE_CUE = re.compile(r"\b(?:" + "|".join(_RELATIVE) + r")\b")


def _relative_period(unit: str, shift: int, today: date) -> Period:
    if unit == "year":
        return year_period(today.year + shift)
    first = today.replace(day=1)
    if shift < 0:
        first = (first - timedelta(days=1)).replace(day=1)
    return month_period(first.year, first.month)


def time_focus(question: str, today: date) -> TimeFocus:
    """The period a question names and whether it asks for the most recent, read from its words."""
    folded = fold(question)
    latest = bool(_LATEST.search(folded))
    for pattern in _MONTHS_OF_YEAR:
        if (match := pattern.search(folded)) is not None:
            groups = match.groupdict()
            month = MONTHS[groups["month_name"]] if groups.get("month_name") else int(groups["month"])
            if 1 <= month <= 12:
                return TimeFocus(month_period(int(groups["year"]), month), latest)
    if (match := _YEAR_ONLY.search(folded)) is not None:
        return TimeFocus(year_period(int(match.group("year"))), latest)
    if (match := _RELATIVE_CUE.search(folded)) is not None:
        unit, shift = _RELATIVE[match.group()]
        return TimeFocus(_relative_period(unit, shift, today), latest)
    return TimeFocus(None, latest)
