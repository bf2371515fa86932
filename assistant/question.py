"""The question, analysed once: the record that retrieval and every answerer read.

Built from the text a person typed and the topics of the conversation so
far; nothing downstream analyses the question's text again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from assistant.conversation import MAX_TOPICS, is_follow_up
from assistant.dates import TimeFocus, time_focus
from assistant.languages import Kind, language_for
from assistant.languages.detect import detect_language
from assistant.textnorm import VIETNAMESE_STOP_WORDS, analyze, unmarked

_FIRST_WORD = re.compile(r"\W*[^\W_]+")
# Letters that only Vietnamese writes among the languages we meet: a first guess, until a real detector.
_VIETNAMESE_LETTERS = re.compile("[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)
_LOWER_CASE_WORD = re.compile(r"(?<![\w’'])[^\W\d_A-ZĐÀ-Ỹ][\w’']*")


def guess_language(text: str) -> str:
    """What serves when the detector cannot tell (a question of names and numbers): "vi" when a word written
    in lower case has letters only Vietnamese writes, or is a Vietnamese function word written with its marks
    ("là", "thì"); names do not count ("What about Điện Biên?" is English), since English writes Vietnamese
    names with their marks."""
    for word in (w.group() for w in _LOWER_CASE_WORD.finditer(unicodedata.normalize("NFC", text))):
        if _VIETNAMESE_LETTERS.search(word) or (not word.isascii() and word in VIETNAMESE_STOP_WORDS):
            return "vi"
    return "en"


@dataclass(frozen=True)
class Question:
    """A question with everything measured of it.

    `terms` are what BM25 searches (compounds joined whatever the case);
    `words` the question's own content words, less those after "besides";
    `names` the capitalised words after the first, which an answer's passage
    must contain. A follow-up carries `context`: the earlier topic questions
    it leans on, searched beside it.
    """

    text: str
    language: str
    kind: Kind | None
    terms: tuple[str, ...]
    words: tuple[str, ...]
    compounds: tuple[tuple[str, tuple[str, str]], ...]
    names: tuple[str, ...]
    follow_up: bool = False
    context: str = ""
    context_terms: tuple[str, ...] = ()
    context_words: tuple[str, ...] = ()  # words of the context the question does not have itself
    time: TimeFocus = field(default_factory=TimeFocus)  # the period it names, whether it wants the most recent
    marked: tuple[tuple[str, str], ...] = ()  # (word, as written with its marks) for words typed with marks

    @property
    def dense_text(self) -> str:
        """What the embedder sees: the context, then the question."""
        return f"{self.context} {self.text}".strip()

    @classmethod
    def analyse(
        cls, text: str, topics: Sequence[str] = (), entities: Sequence[tuple[str, Kind]] = (), today: date | None = None
    ) -> Question:
        """Analyse `text`; `topics` are the conversation's earlier topic questions, oldest first, and
        `entities` what its last answers named, with their kinds: a follow-up is searched and read with
        its topics and with the entities its pronouns point to ("his" → the person last named).
        "Last year" is counted from `today` (the calendar's, unless given)."""
        normalized = unicodedata.normalize("NFKC", text)
        analyzed = analyze(normalized, "all")
        code = detect_language(text) or guess_language(text)
        language = language_for(code)
        follow_up = bool(topics) and is_follow_up(text, len(analyzed.words), language)
        excluded = set(analyze(" ".join(language.excluded_phrases(text))).words)
        first_word = _FIRST_WORD.match(normalized)
        after_first = first_word.end() if first_word else 0
        names = [
            w
            for w, capital, at in zip(analyzed.words, analyzed.capitalized, analyzed.starts, strict=True)
            if capital and at >= after_first
        ]
        referred = language.referred_kinds(normalized) if follow_up else set()
        context = " ".join([*topics[-MAX_TOPICS:], *(name for name, kind in entities if kind in referred)]) if follow_up else ""
        context_analyzed = analyze(context, "all") if context else None
        own = set(analyzed.words)
        return cls(
            text=text,
            language=code,
            kind=language.answer_kind(normalized),
            terms=tuple(analyzed.terms),
            words=tuple(dict.fromkeys(w for w in analyzed.words if w not in excluded)),
            compounds=tuple(
                (c, (analyzed.words[i], analyzed.words[j])) for c, (i, j) in zip(analyzed.compounds, analyzed.pairs, strict=True)
            ),
            names=tuple(dict.fromkeys(names)),
            follow_up=follow_up,
            context=context,
            context_terms=tuple(context_analyzed.terms) if context_analyzed else (),
            context_words=tuple(dict.fromkeys(w for w in context_analyzed.words if w not in own)) if context_analyzed else (),
            time=time_focus(normalized, today or date.today()),
            marked=tuple({unmarked(m): m for m in reversed(analyzed.marked)}.items()),
        )
