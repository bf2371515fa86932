"""Short answers by the language's rules: a date, number, person or place, placed by the question's words.

No model: the fast test tier uses these, and the extractive answerer asks
them whether a sentence states the kind of fact a question asks for at all
(a follow-up asking "How old is he?" of a sentence with no number in it).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from assistant.answerers.spans import SentenceWindow, SpanGuess
from assistant.languages import language_for
from assistant.question import Question
from assistant.textnorm import analyze

# Chosen on the SQuAD tuning half's who/when/where/how-many questions (token F1 0.469; 0.45–0.47 for windows
# of 30–100 characters, decays of 0–0.6, with or without idf weights).
SHORT_ANSWER_WINDOW = 30  # characters on each side of a span in which the question's words vouch for it
ORDER_DECAY = 0.6  # a question word's weight is 1 / (1 + decay × its place among the question's words)


def rule_span(question: Question, window: SentenceWindow) -> tuple[int, int] | None:
    """The span of the window's sentence (document offsets) that answers a question asking for a time,
    number, person or place.

    The language names the spans that could be such a fact; a span made only of the question's own
    words restates the question and is passed over. Of the rest, the one with the most question words
    around it in its clause wins (those inside the span do not count; the question's first words, its
    main topic, weigh most), then the nearest to one: in "… was led by Political Commissar of the Son La
    provincial …, while the Lao side was led by Colonel Viliem Vongthisan", asked "Who led the Lao side
    at the Son La border meeting?", the name after "Lao side … led".
    """
    if question.kind is None:
        return None
    language = language_for(window.language or question.language)  # the sentence's language writes its spans
    text = window.text[window.start : window.end]
    analyzed = analyze(text)
    asked = set(question.words) | {part for _, parts in question.compounds for part in parts}
    anchors = [(word, at) for word, at in zip(analyzed.words, analyzed.starts, strict=True) if word in asked]

    def restates(start: int, end: int) -> bool:
        words = analyze(text[start:end]).words
        return not words or all(word in asked for word in words)

    breaks = language.clause_breaks(text)  # in order, as are the anchors: both are searched by bisection
    positions = [at for _, at in anchors]
    order = {word: i for i, word in enumerate(question.words)}

    def same_clause(low: int, high: int) -> bool:
        return bisect_left(breaks, high) == bisect_left(breaks, low)

    def support(span: tuple[int, int]) -> tuple[float, int, int, int]:
        """(−weight of the question words around the span in its clause, characters to the nearest, −its
        length, where it starts): least is best; of two names alike, the longer is the more specific."""
        start, end = span
        first = bisect_left(positions, start - SHORT_ANSWER_WINDOW)
        last = bisect_right(positions, end + SHORT_ANSWER_WINDOW)
        near: set[str] = set()
        gaps = []
        # The window's question words, and the nearest one on each side beyond it (a clause break that
        # cuts one off cuts off every one further away).
        for i in [first - 1, *range(first, last), last]:
            if not 0 <= i < len(anchors) or start <= positions[i] < end:
                continue
            word, at = anchors[i]
            if not same_clause(min(at, start), max(at, end)):
                continue
            gap = start - at if at < start else at - end
            gaps.append(gap)
            if gap <= SHORT_ANSWER_WINDOW:
                near.add(word)
        weight = sum(1 / (1 + ORDER_DECAY * order.get(word, len(order))) for word in near)
        return -weight, min(gaps, default=0), start - end, start

    spans = [s for s in language.answer_spans(text, question.kind) if not restates(*s)]
    if not spans:
        return None
    start, end = min(spans, key=support)
    return window.start + start, window.start + end


class RuleFinder:
    """The language's spans for a date, number, person or place, chosen by the question words around them;
    sure of a span when it finds one, silent for questions of another kind."""

    languages: frozenset[str] | None = None

    def find(self, question: Question, windows: list[SentenceWindow]) -> list[SpanGuess | None]:
        found = [rule_span(question, window) for window in windows]
        return [SpanGuess(*span, confidence=1.0) if span else None for span in found]
