"""Follow-up questions without an LLM: carry the topic of earlier turns into retrieval.

"Where was it held?" after "Who co-chaired the fifth defence policy dialogue?"
is searched as both together, while its own words still decide the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.languages import FALLBACK, Language, language_for
from assistant.textnorm import analyze

if TYPE_CHECKING:
    from assistant.question import Question


def is_follow_up(question: str, content_words: int | None = None, language: Language | None = None) -> bool:
    """Whether a question leans on an earlier turn: a pronoun, a continuation, or no topic of its own.

    `content_words` is the count of the question's content words, when already analysed; `language`
    gives the cues (the fallback language's when not given).
    """
    if (language or language_for(FALLBACK)).leans_on_earlier_turn(question):
        return True
    if content_words is None:
        content_words = len(analyze(question, "all").words)
    return content_words <= 1


@dataclass
class ConversationState:
    """The topic questions of a conversation; one per browser session or chat, never shared."""

    topics: list[str] = field(default_factory=list)

    def record(self, question: Question) -> None:
        """Remember a turn: a standalone question starts a new topic, a follow-up extends it."""
        if question.follow_up:
            self.topics.append(question.text)
        else:
            self.topics = [question.text]
