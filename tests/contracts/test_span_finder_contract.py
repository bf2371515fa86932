"""The short-answer finder contract: one guess (or None) per window, in order, each a clean span of its
window's sentence (never of the context read before it) with a confidence between 0 and 1.

The rule finder runs in the fast tier; the trained span model is slow (it loads a model).
"""

from __future__ import annotations

import pytest

from assistant.answerers.spans import SPAN_FINDERS, SentenceWindow, open_span_finder
from assistant.question import Question

TEXT = (
    "The Son La Border Guard Command met the Luang Prabang Military Command. "
    "The Lao side was led by Colonel Viliem Vongthisan. "
    "The meeting took place in Son La on March 28, 2023. "
    "Both sides praised the cooperation."
)


def sentence(text: str) -> tuple[int, int]:
    start = TEXT.index(text)
    return start, start + len(text)


def window(text: str, with_context: bool = True) -> SentenceWindow:
    start, end = sentence(text)
    before = TEXT.rfind(". ", 0, start - 2)
    return SentenceWindow(TEXT, before + 2 if with_context and before > 0 else (0 if with_context else start), start, end)


FINDERS = [pytest.param(name, marks=[pytest.mark.slow] if name == "model" else []) for name in SPAN_FINDERS.names()]
WINDOWS = [
    window("The Lao side was led by Colonel Viliem Vongthisan."),
    window("The meeting took place in Son La on March 28, 2023."),
    window("Both sides praised the cooperation."),
    window("The Son La Border Guard Command met the Luang Prabang Military Command.", with_context=False),
]


@pytest.mark.parametrize("name", FINDERS)
@pytest.mark.parametrize("question", ["Who led the Lao side?", "When did the meeting take place?", "Where was the meeting?"])
def test_guesses_are_clean_spans_of_their_window_sentence(name: str, question: str) -> None:
    guesses = open_span_finder(name).find(Question.analyse(question), WINDOWS)
    assert len(guesses) == len(WINDOWS)
    for window_, guess in zip(WINDOWS, guesses, strict=True):
        if guess is None:
            continue
        assert window_.start <= guess.start < guess.end <= window_.end
        span = TEXT[guess.start : guess.end]
        assert span == span.strip() and span[-1] not in ",;."
        assert 0.0 <= guess.confidence <= 1.0


@pytest.mark.parametrize("name", FINDERS)
def test_the_answer_is_found_where_the_sentence_states_it(name: str) -> None:
    finder = open_span_finder(name)
    led, held = WINDOWS[0], WINDOWS[1]
    (who,) = finder.find(Question.analyse("Who led the Lao side?"), [led])
    (when,) = finder.find(Question.analyse("When did the meeting take place?"), [held])
    assert who is not None and "Viliem Vongthisan" in TEXT[who.start : who.end]
    assert when is not None and "March 28, 2023" in TEXT[when.start : when.end]


@pytest.mark.parametrize("name", FINDERS)
def test_no_windows_no_guesses(name: str) -> None:
    assert open_span_finder(name).find(Question.analyse("Who led the Lao side?"), []) == []
