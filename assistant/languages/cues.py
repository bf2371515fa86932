"""The part of a language plug-in that is patterns, read one way for every language.

A plug-in gives its `Cues` and inherits `CueLanguage`'s answers to the
`Language` questions that are a pattern's match (an explanation asked for,
an excluded phrase, a pronoun, a clause break …); it writes itself only
what needs more than a pattern: the kind of fact asked for, the spans that
state it, lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.languages import Kind


def as_typed(text: str) -> str:
    return text


@dataclass(frozen=True)
class Cues:
    explanation: re.Pattern[str]  # a question wanting a reason or an account, searched in `read(question)`
    exclusion: re.Pattern[str]  # group 1: what the answer is not about ("besides the memorandum")
    anaphora: re.Pattern[str]  # a pronoun that leans on an earlier turn
    continuation: re.Pattern[str]  # a question that opens as a continuation ("and the Lao side?")
    referring: tuple[tuple[Kind, re.Pattern[str]], ...]  # pronouns by the kind of entity they point to
    anaphor_start: re.Pattern[str]  # a sentence opening by pointing back ("Accordingly, …")
    clause_break: re.Pattern[str]  # where one clause of a sentence ends and another begins
    generic: frozenset[str]  # normalised words that only frame a question
    read: Callable[[str], str] = as_typed  # how a question is read for explanations: as typed, or folded


class CueLanguage:
    """The `Language` answers that are a match of the plug-in's `cues`."""

    cues: Cues

    def wants_explanation(self, question: str) -> bool:
        return bool(self.cues.explanation.search(self.cues.read(question)))

    def excluded_phrases(self, question: str) -> list[str]:
        return [m.group(1) for m in self.cues.exclusion.finditer(question)]

    def leans_on_earlier_turn(self, question: str) -> bool:
        return bool(self.cues.anaphora.search(question) or self.cues.continuation.search(question))

    def referred_kinds(self, question: str) -> set[Kind]:
        return {kind for kind, pattern in self.cues.referring if pattern.search(question)}

    def opens_with_anaphor(self, sentence: str) -> bool:
        return bool(self.cues.anaphor_start.match(sentence))

    def is_generic(self, word: str) -> bool:
        return word in self.cues.generic

    def clause_breaks(self, sentence: str) -> list[int]:
        return [m.start() for m in self.cues.clause_break.finditer(sentence)]
