"""Follow-up questions without an LLM: carry the topic of earlier turns into retrieval.

"Where was it held?" after "Who co-chaired the fifth defence policy dialogue?"
is searched as both together, while its own words still decide the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.textnorm import analyze

_ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|theirs|he|him|his|she|her|hers|there|that|this|these|those|the same|the latter|the former)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(r"^\s*(and|also|what about|how about|and what about|then|so)\b", re.IGNORECASE)


def is_follow_up(question: str) -> bool:
    """Whether a question leans on an earlier turn: a pronoun, a continuation, or no topic of its own."""
    if _ANAPHORA.search(question) or _CONTINUATION.match(question):
        return True
    return len(analyze(question, "all").words) <= 1


@dataclass
class ConversationState:
    """The topic questions of a conversation; one per browser session or chat, never shared."""

    topics: list[str] = field(default_factory=list)
    max_topics: int = 2

    def context_for(self, question: str) -> str:
        """Earlier topic text to search with `question`, or "" if it stands alone."""
        if not self.topics or not is_follow_up(question):
            return ""
        return " ".join(self.topics[-self.max_topics :])

    def record(self, question: str, context: str) -> None:
        """Remember a turn: a standalone question starts a new topic, a follow-up extends it."""
        if context:
            self.topics.append(question)
        else:
            self.topics = [question]
