"""Answerers: a question and its retrieved passages in, an answer of verified quotes (or an abstention) out.

The extractive answerer (`extractive.py`) is the default. Whatever the
implementation, every quote it returns must be its document's text at its
offsets; the answerer contract suite (tests/contracts/test_answerer_contract.py)
checks that, and that an off-topic question is refused. Adding one is a
module, a line in `ANSWERERS`, and that suite passing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from assistant.registry import Registry

if TYPE_CHECKING:
    from assistant.question import Question
    from assistant.records import Answer, Document, Passage
    from assistant.settings import SearchSettings


class TermStats(Protocol):
    """Corpus statistics an answerer may weigh: how rare a term is, and whether it occurs at all."""

    def idf(self, term: str) -> float: ...

    def knows(self, term: str) -> bool: ...


class Evidence(Protocol):
    """What an answer was decided on; abstention is a low `score`."""

    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class Decision:
    """An answer together with the evidence it was decided on (for calibration and debugging), and the
    documents of the passages it was chosen from (what its sources' offsets index into)."""

    answer: Answer
    evidence: Evidence | None
    documents: Mapping[str, Document] = field(default_factory=dict)


class Answerer(Protocol):
    def decide(self, question: Question, passages: list[Passage], stats: TermStats) -> Decision:
        """The answer to `question` from `passages` (best first), or an abstention."""
        ...


# An implementation: the search settings in, an answerer out.
ANSWERERS: Registry[type[Answerer]] = Registry(
    "answerer",
    {
        "extractive": "assistant.answerers.extractive:ExtractiveAnswerer",
        "llm": "assistant.answerers.llm:LLMAnswerer",  # opt-in: a local model server, every citation verified
    },
)


def answerer_names() -> tuple[str, ...]:
    return ANSWERERS.names()


def open_answerer(settings: SearchSettings) -> Answerer:
    return ANSWERERS.get(settings.answerer)(settings)  # type: ignore[call-arg]
