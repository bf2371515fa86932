"""Vietnamese: question cues, follow-up cues, and the spans that state a date, a number, a person or a place.

Cues are matched on the question folded (lower case, marks dropped), since
people often type Vietnamese without its marks ("ai chu tri hoi dam?"),
except where folding makes two words one: "đâu" (where) and "đầu" (first),
"đó" (that) and "do" (by) fold alike, so those are matched as written, with
their marks. Names are runs of capitalised syllables ("Hoàng Xuân Chiến");
ranks ("Thượng tướng", "Đại tá") open them as they do in English.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from assistant.languages import Kind, Span
from assistant.languages.cues import CueLanguage, Cues
from assistant.languages.lists import ListCues, list_span
from assistant.textnorm import analyze, fold

# The kind of fact a question asks for, on the folded question; the first cue that matches decides.
_KIND_CUES: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        "time",
        re.compile(
            r"\b(?:khi nao|bao gio|luc nao|hoi nao|ngay nao|ngay may|thang nao|thang may|nam nao|thoi gian nao|thoi diem nao)\b"
        ),
    ),
    ("quantity", re.compile(r"\b(?:bao nhieu|bao lau|bao xa|so luong|ty le)\b")),
    ("person", re.compile(r"\b(?:ai|nguoi nao|vi nao|ong nao|ba nao|dong chi nao|nhung ai)\b")),
    (
        "place",
        re.compile(
            r"\b(?:o dau|tai dau|den dau|tu dau|noi nao|dia diem nao|dia phuong nao|tinh nao|huyen nao|xa nao"
            r"|thanh pho nao|nuoc nao|quoc gia nao|khu vuc nao)\b"
        ),
    ),
)
_HOW_MANY = re.compile(r"\bmấy\b")  # "mấy" (how many) folds into "may" (machine, luck): matched as written
_WHERE = re.compile(r"\bđâu\b")  # "đâu" (where) folds into "dau", as does "đầu" (first)
_EXPLANATION = re.compile(r"\b(?:tai sao|vi sao|vi le gi|giai thich|mo ta|nhu the nao|ra sao|the nao)\b")
_EXCLUSION = re.compile(r"\bngoài\s+(.+?)\s+(?:ra|thì)\b", re.IGNORECASE)  # "ngoài biên bản ra": not about it
# Pronouns and continuations, as written: "ông ấy", "họ", "ở đó", "còn phía Lào thì sao?".
_ANAPHORA = re.compile(r"\b(?:ông ấy|bà ấy|anh ấy|chị ấy|họ|nó|đó|ấy|này|đấy|vị này|ông ta|bà ta)\b", re.IGNORECASE)
_CONTINUATION = re.compile(r"^\s*(?:còn|thế còn|vậy còn|và|con)\b|\bthì sao\b|\bthi sao\b", re.IGNORECASE)
_REFERRING: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("person", re.compile(r"\b(?:ông ấy|bà ấy|anh ấy|chị ấy|ông ta|bà ta|vị này|người này)\b", re.IGNORECASE)),
    ("place", re.compile(r"\b(?:ở đó|tại đó|nơi đó|ở đấy|tại đây)\b", re.IGNORECASE)),
    ("time", re.compile(r"\b(?:khi đó|lúc đó|hôm đó|năm đó|thời điểm đó)\b", re.IGNORECASE)),
)
_ANAPHOR_START = re.compile(
    r"^(?:theo đó|ông|bà|họ|đây|điều này|việc này|ngoài ra|bên cạnh đó|đồng thời|qua đó|nhờ đó|vì vậy|do đó)\b",
    re.IGNORECASE,
)
_LIST_QUESTION = re.compile(r"\b(?:nhung|cac)\s+(?:\w+\s+){0,3}?(?:nao|gi)\b|\bgom nhung\b|\bke ten\b")

# "năm" (five) is left out: news writes numbers in digits, and "năm" is far more often "year".
_NUMBER_WORDS = "một hai ba bốn sáu bảy tám chín mười mươi lăm mốt trăm nghìn ngàn triệu tỷ tỉ chục"
_NUMBER_WORD = "(?:" + "|".join(_NUMBER_WORDS.split()) + ")"
_NUMBER = rf"(?:\d{{1,3}}(?:[.,]\d{{3}})+|\d+(?:,\d+)?|{_NUMBER_WORD}(?:\s+{_NUMBER_WORD})*)"
# "hai bên", "hai nước": both sides, both countries, no count asked for.
_QUANTITY_SPAN = re.compile(rf"(?<![\w/.-]){_NUMBER}(?:\s*%|\s+phần trăm)?(?![\w/-])(?!\s+(?:bên|nước|phía)\b)", re.IGNORECASE)
_TIME_SPAN = re.compile(
    r"\b(?:ngày\s+\d{1,2}(?:\s*/\s*\d{1,2}(?:\s*/\s*\d{4})?|\s+tháng\s+\d{1,2}(?:\s+năm\s+\d{4})?)"
    r"|tháng\s+\d{1,2}(?:\s*/\s*\d{4}|\s+năm\s+\d{4})?"
    r"|năm\s+\d{4}"
    r"|\d{1,2}/\d{1,2}(?:/\d{4})?)",
    re.IGNORECASE,
)
_TIME = re.compile(r"\b(?:ngày|tháng|năm|hôm|tuần|quý)\b|\d{1,2}/\d{1,2}|\b(?:19|20)\d{2}\b", re.IGNORECASE)
_RANK_PHRASES = (
    "đại tướng", "thượng tướng", "trung tướng", "thiếu tướng", "đại tá", "thượng tá", "trung tá", "thiếu tá",
    "đại úy", "thượng úy", "trung úy", "bộ trưởng", "thứ trưởng", "chính ủy", "chỉ huy trưởng", "phó chủ tịch",
    "chủ tịch", "tổng bí thư", "bí thư", "đại sứ", "tư lệnh",
)  # fmt: skip
_RANKS = re.compile(r"\b(?:" + "|".join(_RANK_PHRASES) + r")\b")
_RANK_SYLLABLES = frozenset(syllable for phrase in _RANK_PHRASES for syllable in phrase.split())
_PLACE_NOUNS = ("tỉnh", "huyện", "xã", "thành phố", "thủ đô", "thị xã", "quận", "nước", "vùng", "khu vực")
_PLACE = re.compile(r"\b(?:" + "|".join(_PLACE_NOUNS) + r"|tại|ở)\s+[A-ZĐÂĂÊÔƠƯ]", re.IGNORECASE)
_CAPITALISED = re.compile(r"[^\W\d_][\w’'-]*")
_CLAUSE_BREAK = re.compile(r";|:(?=\s)|\s[–—-]\s|,\s+(?=(?:trong khi|nhưng|còn|đồng thời|song)\b)", re.IGNORECASE)
# Words that frame a question rather than name its topic, as the normaliser writes them.
_GENERIC = frozenset(analyze("tên gọi loại kiểu điều vấn đề nội dung bài báo viết nói nhắc đề cập diễn ra tổ chức").words)


def _name_runs(sentence: str) -> list[tuple[int, int, int]]:
    """Runs of capitalised syllables (a rank before them kept) as (start, end, syllables)."""
    runs: list[tuple[int, int, int]] = []
    tokens = list(_CAPITALISED.finditer(sentence))
    at = 0
    while at < len(tokens):
        token = tokens[at]
        if not token.group()[0].isupper():
            at += 1
            continue
        last = at
        while (
            last + 1 < len(tokens)
            and tokens[last + 1].group()[0].isupper()
            and not sentence[tokens[last].end() : tokens[last + 1].start()].strip()
        ):
            last += 1
        runs.append((token.start(), tokens[last].end(), last - at + 1))
        at = last + 1
    return runs


class Vietnamese(CueLanguage):
    code = "vi"
    abstention = "Các tài liệu không nói điều này: không bài viết nào đã lập chỉ mục trả lời “{question}”."
    latest = "Mới nhất ({date}): "
    quoted_from = "Theo một bài viết bằng {language}: "
    language_names: Mapping[str, str] = MappingProxyType({"en": "tiếng Anh", "vi": "tiếng Việt"})
    cues = Cues(
        explanation=_EXPLANATION,
        exclusion=_EXCLUSION,
        anaphora=_ANAPHORA,
        continuation=_CONTINUATION,
        referring=_REFERRING,
        anaphor_start=_ANAPHOR_START,
        clause_break=_CLAUSE_BREAK,
        generic=_GENERIC,
        read=fold,
    )

    def answer_kind(self, question: str) -> Kind | None:
        folded = fold(question)
        for kind, pattern in _KIND_CUES:
            if pattern.search(folded):
                return kind
        if _HOW_MANY.search(question.lower()):
            return "quantity"
        if _WHERE.search(question.lower()):
            return "place"
        return None

    def holds_kind(self, sentence: str, kind: Kind) -> bool:
        if kind == "time":
            return bool(_TIME.search(sentence))
        if kind == "quantity":
            return bool(_QUANTITY_SPAN.search(sentence))
        if kind == "person":
            return bool(_RANKS.search(sentence.lower()) or any(words >= 2 for _, _, words in _name_runs(sentence)))
        return bool(_PLACE.search(sentence))

    def answer_spans(self, sentence: str, kind: Kind) -> list[Span]:
        if kind == "time":
            return [m.span() for m in _TIME_SPAN.finditer(sentence)]
        if kind == "quantity":
            dates = [m.span() for m in _TIME_SPAN.finditer(sentence)]
            return [
                m.span()
                for m in _QUANTITY_SPAN.finditer(sentence)
                if not any(a <= m.start() < b for a, b in dates) and not re.fullmatch(r"(?:19|20)\d{2}", m.group())
            ]
        runs = _name_runs(sentence)
        if kind == "person":
            # A name has two syllables or more and is not a rank alone; a rank written before it belongs to it.
            # A run opening the sentence is its subject ("Đoàn Việt Nam", the delegation), unless a rank opens it.
            spans = []
            for start, end, words in runs:
                syllables = sentence[start:end].lower().split()
                opens_with_rank = syllables[0] in _RANK_SYLLABLES
                if words >= 2 and not all(s in _RANK_SYLLABLES for s in syllables) and (start > 0 or opens_with_rank):
                    spans.append((start, end))
            return spans
        spans = []
        lowered = sentence.lower()
        for start, end, _ in runs:
            before = lowered[:start].rstrip()
            if before.endswith(_PLACE_NOUNS) or before.endswith(("tại", "ở", "đến", "từ", "sang")):
                spans.append((start, end))
        return spans

    def wants_list(self, question: str) -> bool:
        return bool(_LIST_QUESTION.search(fold(question)))

    def list_around(self, sentence: str, span: Span) -> Span:
        return list_span(sentence, span, LIST_CUES)


# Lists: "A, B và C"; the words before a list's first item ("về", "gồm") belong to the sentence.
LIST_CUES = ListCues(
    conjunctions=("và", "hoặc", "cùng"),
    before_list=frozenset("của và các những được là có trong với cho đã sẽ về từ tại ở như gồm nhằm để theo đến giữa".split()),
    clause_words=frozenset("họ nó ông ấy bà ấy mà rằng".split()),
)

VIETNAMESE = Vietnamese()
