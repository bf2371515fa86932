"""Short-answer finders: the span of a sentence that answers a question, with how sure the finder is.

The extractive answerer asks a finder about its best few sentences, each
with the sentence before it as context, and quotes the short answer inside
the sentence it comes from. Two finders: the trained span model
(`span_model.py`, the default) and the language's rules for dates, numbers,
people and places (`span_rules.py`), which need no model and serve the fast
test tier. `SearchSettings.short_answers` chooses (ASSISTANT_SHORT_ANSWERS
sets its default).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from assistant.registry import Registry

if TYPE_CHECKING:
    from assistant.question import Question


@dataclass(frozen=True)
class SentenceWindow:
    """A sentence of a document to find the answer in, and where the finder starts reading (the sentence before)."""

    text: str  # the whole document text: offsets below index into it
    context_start: int
    start: int
    end: int
    language: str = ""  # the document's, when known: its spans are read by its language's rules


@dataclass(frozen=True)
class SpanGuess:
    """A span of a window's sentence, as document offsets; `confidence` (0 to 1) above one half means the
    finder thinks the answer is here rather than not in this sentence at all."""

    start: int
    end: int
    confidence: float


class SpanFinder(Protocol):
    languages: frozenset[str] | None  # the question languages it serves; None: any the language plug-ins know

    def find(self, question: Question, windows: list[SentenceWindow]) -> list[SpanGuess | None]:
        """For each window, its best span (None when the finder has none), in order."""
        ...


SPAN_FINDERS: Registry[type[SpanFinder]] = Registry(
    "short-answer finder",
    {"model": "assistant.answerers.span_model:SpanModel", "rules": "assistant.answerers.span_rules:RuleFinder"},
)

_opened: dict[str, SpanFinder] = {}
_opening = threading.Lock()


def open_span_finder(name: str) -> SpanFinder:
    """The finder called `name`, made once per process (the model loads once)."""
    with _opening:
        if name not in _opened:
            _opened[name] = SPAN_FINDERS.get(name)()
        return _opened[name]
