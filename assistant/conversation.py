"""Follow-up questions without an LLM: carry the topic of earlier turns into retrieval.

"Where was it held?" after "Who co-chaired the fifth defence policy dialogue?"
is searched as both together, while its own words still decide the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.languages import FALLBACK, Kind, Language, language_for
from assistant.textnorm import analyze

MAX_TOPICS = 2  # earlier topic questions a follow-up is searched with

if TYPE_CHECKING:
    from assistant.question import Question
    from assistant.records import Answer


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
    """The topic questions of a conversation and the entities its last answers named; one per browser
    session or chat, never shared."""

    topics: list[str] = field(default_factory=list)
    entities: list[tuple[str, Kind]] = field(default_factory=list)  # what "he", "there", "then" may point to

    def record(self, question: Question, answer: Answer | None = None) -> None:
        """Remember a turn: a standalone question starts a new topic, a follow-up extends it.

        The answer's short answer (the person, place, date or number it found) becomes the entity a
        follow-up's pronoun of that kind resolves to: after "Who led the Lao side?", "his" in "What is
        his position?" is Colonel Viliem Vongthisan, while "they" still means the sides of the topic.
        A new topic forgets the old entities; a conversation keeps its last MAX_TOPICS topic questions
        and one entity of each kind.
        """
        short = answer.short_answer if answer is not None else None
        if question.follow_up:
            self.topics = [*self.topics, question.text][-MAX_TOPICS:]
        else:
            self.topics, self.entities = [question.text], []
        if short is not None and question.kind is not None:  # one entity per kind: the newest
            self.entities = [(name, kind) for name, kind in self.entities if kind != question.kind]
            self.entities.append((short.text, question.kind))
