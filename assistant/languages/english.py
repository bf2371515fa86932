"""English: question cues, follow-up cues, and the spans that state a date, a number, a person or a place.

Written for news and minutes as much as for questions; the patterns work on
any Latin-script text with English month names and capitalised names, which
is why English serves languages that have no plug-in yet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from assistant.languages import Kind, Span
from assistant.languages.cues import CueLanguage, Cues
from assistant.languages.lists import ListCues, list_span
from assistant.textnorm import analyze

# "What is general relativity?" asks for no general: the word between "what" and the noun is no verb.
_NOT_A_VERB = r"(?!(?:is|are|was|were|do|does|did|has|have|had)\b)"
_PLACE_NOUN_CUES = "country|nation|city|state|province|county|region|river|mountain|ocean|sea|island|continent|town|village"
_NAMED_NOUN_CUES = (
    "team|company|organi[sz]ation|group|university|college|school|newspaper|network|station|channel|party|church"
    "|language|empire|dynasty|king|emperor|president|person|man|woman|player|author|architect|scientist|general"
    "|leader|band|album|film|movie|book|show|award|trophy|prize|agency|airline|museum|building|stadium|bridge"
    "|street|park|treaty|war|battle|tribe|family|ship|army|navy|division|council|court|committee|institution"
)
# The kind of fact a question asks for; the first cue that matches decides.
# Questions that want a reason or an account, which no short span answers.
_EXPLANATION = re.compile(r"\b(?:why|explain|describe|what (?:is|was|are|were) the (?:reason|purpose|significance))\b", re.I)
_KIND_CUES: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("time", re.compile(r"\b(when|what (year|date|day|month|time)|which (year|date|day|month)|how long ago)\b")),
    (
        "quantity",
        re.compile(r"\b(how (many|much|long|old|far|tall|large|big|high|wide|deep|fast)|what (number|percentage|amount|size))\b"),
    ),
    ("person", re.compile(r"\b(who|whom|whose)\b")),
    ("place", re.compile(r"\b(where)\b")),
    # "Which NFL team …?", "In what country …?": a named thing or place, whatever the question word.
    ("place", re.compile(rf"\b(?:what|which)\s+(?:{_NOT_A_VERB}[a-z]+\s+)?(?:{_PLACE_NOUN_CUES})\b")),
    (
        "person",
        re.compile(rf"\b(?:what|which)\s+(?:{_NOT_A_VERB}[a-z]+\s+)?(?:{_NAMED_NOUN_CUES})\b|\bwhat (?:is|was) the name\b"),
    ),
)
# "besides the memorandum": what follows is what the answer is not about.
_EXCLUSION = re.compile(
    r"\b(?:besides|other than|apart from|aside from|except(?: for)?)\s+((?:the\s+)?[\w’'-]+(?:\s+[A-ZĐ][\w’'-]*)*)"
)
_ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|theirs|he|him|his|she|her|hers|there|that|this|these|those|the same|the latter|the former)\b",
    re.IGNORECASE,
)
_REFERRING: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("person", re.compile(r"\b(he|him|his|she|her|hers|himself|herself)\b", re.IGNORECASE)),
    ("place", re.compile(r"\b(there)\b", re.IGNORECASE)),
    ("time", re.compile(r"\b(then|that day|that year)\b", re.IGNORECASE)),
)
_CONTINUATION = re.compile(r"^\s*(and|also|what about|how about|and what about|then|so)\b", re.IGNORECASE)
_ANAPHOR_START = re.compile(
    r"^(he|she|they|it|this|these|those|its|their|his|her|accordingly|thus|therefore|also|in addition)\b", re.IGNORECASE
)

_MONTH_NAMES = "january february march april may june july august september october november december".split()
_MONTH = rf"(?:{'|'.join(_MONTH_NAMES)})"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# Does a sentence hold a time at all (ranking): months, years, weekdays, relative days.
_TIME = re.compile(
    rf"\b({_MONTH}\b|(?:1[89]|20)\d{{2}}\b|{_WEEKDAY}\b"
    r"|yesterday|today|tomorrow|(?:last|past|previous|next|coming|same) (?:day|week|month|year)s?\b|annual)",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\b(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundreds?"
    r"|thousands?|millions?|dozens?|first|second|third|fourth|fifth|sixth)\b",
    re.IGNORECASE,
)
_RANK_WORDS = (
    "colonel general lieutenant major captain commissar minister ministers president chairman chairwoman "
    "director commander officer ambassador secretary premier governor mr mrs ms dr deputy counterpart"
)
_RANKS = re.compile(rf"\b({'|'.join(_RANK_WORDS.split())})\b", re.IGNORECASE)
_RANK_SET = frozenset(_RANK_WORDS.split()) | frozenset("senior junior lt gen col maj capt brig".split())
_PLACE = re.compile(
    r"\b(?:in|at|to|from|near|of)\s+(?:the\s+)?(?:[a-z]+\s+){0,3}?[A-ZĐ][\w’']+"
    r"|\b(province|city|district|capital|country|region|border area|headquarters)\b"
)
_CAPITALISED_PAIR = re.compile(r"(?<!^)(?<![\w’'])[A-ZĐ][\w’']+\s+[A-ZĐ][\w’']+")  # word starts only: linear time

# Spans that can be a short answer, longest forms first.
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
# In spans a month is written with its capital: "40 may have died" holds no date.
_MONTH_SPAN = rf"(?:{'|'.join(m.capitalize() for m in _MONTH_NAMES)})"
_WEEKDAY_SPAN = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_TIME_SPAN = re.compile(
    rf"\b(?:{_MONTH_SPAN}\s+{_ORDINAL},?\s+\d{{4}}"
    rf"|{_ORDINAL}\s+(?:of\s+)?{_MONTH_SPAN},?\s+\d{{4}}"
    rf"|{_MONTH_SPAN}\s+{_ORDINAL}\b"
    rf"|{_ORDINAL}\s+(?:of\s+)?{_MONTH_SPAN}"
    rf"|{_MONTH_SPAN},?\s+(?:of\s+)?\d{{4}}"
    r"|\d{4}s"
    r"|\d{1,2}(?:st|nd|rd|th)\s+[Cc]entury"
    r"|(?:1\d|20)\d{2}"
    rf"|{_WEEKDAY_SPAN})\b"
)
_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|dozen)"
)
_SCALE = r"(?:\s*(?:%|percent|per cent)|\s+(?:hundred|thousand|million|billion|trillion)s?)?"
_QUANTITY_SPAN = re.compile(
    rf"(?:[$£€]\s?)?(?<![\w-])(?:\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?"
    rf"|{_NUMBER_WORD}(?:[- ]{_NUMBER_WORD})*){_SCALE}(?![\w-])",
    re.IGNORECASE,
)
_YEAR_ONLY = re.compile(r"(?:1[5-9]|20)\d{2}")
_TOKEN = re.compile(r"[\w\u0300-\u036f’'.-]+")  # combining marks too: "Sơn" written decomposed is one word
# Capitalised words that open a sentence or a clause without naming anything.
_NOT_NAMES = frozenset(
    "the a an in on at of for to from by with and but or as this that these those it its he she they his her "
    "their there then when while after before during since under over however meanwhile accordingly also".split()
)
# Words that frame a question rather than name its topic, as the normaliser writes them.
_GENERIC = frozenset(
    analyze(
        "aim aims meant mean means happen happened mention mentioned kind type name named called call describe "
        "described purpose role main term use used way result reason part many much example take place held hold "
        "occur besides within article document report text story"
    ).words
)
_CLAUSE_BREAK = re.compile(r";|:(?=\s)|\s[–—]\s|,\s+(?=(?:while|whereas|but|although|though|and)\b)", re.IGNORECASE)
_PLACE_NOUNS = frozenset("province city district region town village capital county state country island".split())
_PLACE_BEFORE = frozenset("in at from near to into across inside outside throughout".split())


# "Which provinces …?", "What are …?", "Name the …": a question whose answer is several things.
_LIST_QUESTION = re.compile(
    rf"\b(?:what|which)\s+(?:{_NOT_A_VERB}[a-z]+\s+)?{_NOT_A_VERB}[a-z]*[^\Wsui]s\b"
    r"|\b(?:what|who|which) (?:are|were)\b|\b(?:list|name) (?:the|all)\b"
    r"|\bwhat (?:kind of )?(?:information|assistance|support|help|aid|equipment)\b",  # uncountable, often several things
    re.IGNORECASE,
)
_NAMING_QUESTION = re.compile(r"\b(?:called|known as|named|termed)\W*$", re.IGNORECASE)  # "What are these cells called?"
# Lists: "A, B and C", read with English's conjunctions and the words a list's first item never holds.
LIST_CUES = ListCues(
    conjunctions=("and", "or"),
    before_list=frozenset(
        "on of in at for to from by with about into over under between among including like as such than and or that "
        "which who is are was were be been has have had will would can could should may might must do does did".split()
    ),
    determiners=frozenset("the a an its their his her our this these those".split()),
    clause_words=frozenset("it they them he him she her we us which that who whom".split()),
    verb_endings=("ed", "ing"),
    possessive_endings=("’s", "'s"),
)


def _is_rank(word: str) -> bool:
    return word.lower().rstrip(".") in _RANK_SET


def _name_groups(sentence: str) -> list[tuple[int, int, int]]:
    """Runs of capitalised words (ranks included) as (start, end, words), skipping words that only open a clause.

    A run is cut where a rank begins a name after other words ("… Border Guard Command | Senior Colonel
    Ca Van Lap"), but a title alone stays whole ("Political Commissar").
    """
    runs: list[list[re.Match[str]]] = [[]]
    for token in _TOKEN.finditer(sentence):
        run = runs[-1]
        if run and sentence[run[-1].end() : token.start()].strip():
            runs.append(run := [])  # punctuation between two words ends a name
        if token.group()[0].isupper():
            run.append(token)
        elif run:
            runs.append([])
    groups = []
    for run in runs:
        while run and run[0].group().lower().rstrip(".") in _NOT_NAMES:
            run.pop(0)
        words = [t.group() for t in run]
        cut = next(
            (
                i
                for i in range(1, len(run))
                if _is_rank(words[i]) and not _is_rank(words[i - 1]) and not all(_is_rank(w) for w in words[i:])
            ),
            None,
        )
        for part in (run[:cut], run[cut:]) if cut else (run,):
            if part:
                groups.append((part[0].start(), part[-1].end() - part[-1].group().endswith("."), len(part)))
    return groups


class English(CueLanguage):
    code = "en"
    abstention = "The documents do not say: no indexed article answers “{question}”."
    latest = "Latest ({date}): "
    quoted_from = "From an article in {language}: "
    language_names: Mapping[str, str] = MappingProxyType({"en": "English", "vi": "Vietnamese"})
    cues = Cues(
        explanation=_EXPLANATION,
        exclusion=_EXCLUSION,
        anaphora=_ANAPHORA,
        continuation=_CONTINUATION,
        referring=_REFERRING,
        anaphor_start=_ANAPHOR_START,
        clause_break=_CLAUSE_BREAK,
        generic=_GENERIC,
    )

    def answer_kind(self, question: str) -> Kind | None:
        lowered = question.lower()
        for kind, pattern in _KIND_CUES:
            if pattern.search(lowered):
                return kind
        return None

    def holds_kind(self, sentence: str, kind: Kind) -> bool:
        if kind == "time":
            return bool(_TIME.search(sentence))
        if kind == "quantity":
            return bool(_QUANTITY.search(sentence))
        if kind == "person":
            return bool(_RANKS.search(sentence) or _CAPITALISED_PAIR.search(sentence))
        return bool(_PLACE.search(sentence))

    def answer_spans(self, sentence: str, kind: Kind) -> list[Span]:
        if kind == "time":
            return [m.span() for m in _TIME_SPAN.finditer(sentence)]
        if kind == "quantity":
            dates = [m.span() for m in _TIME_SPAN.finditer(sentence)]
            return [
                m.span()
                for m in _QUANTITY_SPAN.finditer(sentence)
                if not _YEAR_ONLY.fullmatch(m.group()) and not any(a <= m.start() < b for a, b in dates)
            ]
        groups = _name_groups(sentence)
        if kind == "person":
            # Names of people and bodies (a title alone is not one); a single word only where it does not open the sentence.
            return [
                (start, end)
                for start, end, words in groups
                if (words >= 2 or start > 0) and not all(_is_rank(w) for w in sentence[start:end].split())
            ]
        spans = []
        for start, end, _ in groups:
            before = [w.lower() for w in sentence[:start].split()[-2:]] or [""]
            after_preposition = before[-1] in _PLACE_BEFORE or (before[-1] == "the" and before[0] in _PLACE_BEFORE)
            after_place_noun = before[-1] == "of" and before[0] in _PLACE_NOUNS  # "the province of Luang Prabang"
            if after_preposition or after_place_noun:
                spans.append((start, end))
        return spans

    def wants_list(self, question: str) -> bool:
        return bool(_LIST_QUESTION.search(question)) and not _NAMING_QUESTION.search(question)

    def list_around(self, sentence: str, span: Span) -> Span:
        return list_span(sentence, span, LIST_CUES)


ENGLISH = English()
