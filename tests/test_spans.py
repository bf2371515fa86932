"""Pure parts of short answers: decoding the span model's scores, trimming spans, and choosing which
sentence's span to give (with a stand-in finder, so no model loads)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from assistant.answerers.extractive import candidates, find_short_answer
from assistant.answerers.span_model import MAX_SPAN_TOKENS, best_span, trim
from assistant.answerers.spans import SentenceWindow, SpanGuess
from assistant.question import Question
from assistant.records import Chunk, Document, Passage, text_hash
from assistant.segment import chunk_text
from assistant.settings import ChoiceWeights


def test_best_span_is_the_best_start_and_end_among_allowed_tokens() -> None:
    starts = np.array([1.0, 0.0, 5.0, 0.0, 9.0])
    ends = np.array([1.0, 0.0, 0.0, 4.0, 0.0])
    allowed = [False, True, True, True, False]  # token 4 (start 9.0) is outside the sentence
    first, last, margin = best_span(starts, ends, allowed)  # type: ignore[misc]
    assert (first, last) == (2, 3)
    assert margin == (5.0 + 4.0) - (1.0 + 1.0)  # over [CLS], token 0


def test_best_span_never_ends_before_it_starts_nor_runs_too_long() -> None:
    size = MAX_SPAN_TOKENS + 10
    starts, ends = np.zeros(size), np.zeros(size)
    starts[size - 1], ends[1] = 10.0, 10.0  # the best start comes after the best end
    ends[size - 1] = 1.0
    found = best_span(starts, ends, [i > 0 for i in range(size)])
    assert found is not None and found[0] <= found[1] < found[0] + MAX_SPAN_TOKENS
    assert best_span(starts, ends, [False] * size) is None


def test_trim_drops_spaces_and_punctuation_at_the_edges_but_keeps_a_bracket_pair() -> None:
    text = ' "Viliem Vongthisan", (Laos) '
    assert text[slice(*trim(text, 0, 20))] == "Viliem Vongthisan"
    start = text.index("(")
    assert text[slice(*trim(text, start, start + 6))] == "(Laos)"
    assert text[slice(*trim(text, start, start + 5))] == "Laos"


TEXT = (
    "The Son La Border Guard Command met the Luang Prabang Military Command. "
    "The Lao side was led by Colonel Viliem Vongthisan. "
    "The meeting took place in Son La on March 28, 2023."
)


def ranked_for(question: Question) -> list:  # type: ignore[type-arg]
    document = Document("m.txt", "m.txt", "Meeting", TEXT, text_hash(TEXT))
    span = chunk_text(TEXT, 200, 0)[0]
    chunk = Chunk(0, "m.txt", span.start, span.end, span.sentences)
    passage = Passage(1, chunk, document, score=1.0, bm25_score=5.0, dense_score=0.5, sentence_scores=(0.5, 0.5, 0.5))
    return candidates([passage], question, _Stats())


class _Stats:
    def idf(self, term: str) -> float:
        return 1.0

    def knows(self, term: str) -> bool:
        return True


class StandIn:
    """Guesses a fixed phrase in each sentence that holds it, with the confidence given for it."""

    languages = None

    def __init__(self, phrases: dict[str, float]) -> None:
        self.phrases = phrases

    def find(self, question: Question, windows: list[SentenceWindow]) -> list[SpanGuess | None]:
        out: list[SpanGuess | None] = []
        for window in windows:
            sentence = window.text[window.start : window.end]
            hit = next(((p, c) for p, c in self.phrases.items() if p in sentence), None)
            at = window.start + sentence.index(hit[0]) if hit else 0
            out.append(SpanGuess(at, at + len(hit[0]), hit[1]) if hit else None)
        return out


def test_the_short_answer_is_the_first_quotes_span_when_the_finder_is_sure() -> None:
    question = Question.analyse("Who led the Lao side?")
    ranked = ranked_for(question)
    assert "Lao side" in ranked[0].text
    finder = StandIn({"Colonel Viliem Vongthisan": 0.9})
    reordered, short, _ = find_short_answer(ranked, question, finder, ChoiceWeights())
    assert reordered[0] is ranked[0]
    assert short is not None and short.text == "Colonel Viliem Vongthisan"
    assert TEXT[short.start : short.end] == short.text
    unsure = StandIn({"Colonel Viliem Vongthisan": 0.3})
    assert find_short_answer(ranked, question, unsure, ChoiceWeights())[1] is None


def test_a_lower_sentence_far_surer_of_its_span_is_quoted_first() -> None:
    question = Question.analyse("Who led the Lao side?")
    ranked = ranked_for(question)
    second = ranked[1].text
    phrase = "March 28, 2023" if "March" in second else "Luang Prabang Military Command"
    finder = StandIn({"Colonel Viliem Vongthisan": 0.55, phrase: 0.95})
    never = replace(ChoiceWeights(), span_lead=1.0)  # never promoted
    assert find_short_answer(ranked, question, finder, never)[0][0] is ranked[0]
    promoted, short, _ = find_short_answer(ranked, question, finder, replace(never, span_lead=0.3))
    assert promoted[0] is ranked[1] and sorted(map(id, promoted)) == sorted(map(id, ranked))
    assert short is not None and short.text == phrase


def test_a_question_wanting_a_reason_gets_no_short_answer() -> None:
    question = Question.analyse("Why did the Lao side meet the Son La command?")
    ranked = ranked_for(question)
    finder = StandIn({"Colonel Viliem Vongthisan": 0.99})
    assert find_short_answer(ranked, question, finder, ChoiceWeights())[1] is None
