"""Lists inside a sentence ("A, B and C"): the whole list a short answer is one item of. Pure.

A language gives its cues (`ListCues`): its conjunctions, the words that
belong to the sentence rather than to a list's first item ("on", "của"),
the words that open an item ("the"), the pronouns an item never holds (a
clause after "and" has one), and the endings of verb forms that cannot open
an item where the answer has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.languages import Span

MAX_ITEM_WORDS = 8


@dataclass(frozen=True)
class ListCues:
    conjunctions: tuple[str, ...]  # "and", "or"
    before_list: frozenset[str]  # lower case
    determiners: frozenset[str] = frozenset()  # words that open an item, read leftwards: the item starts there
    clause_words: frozenset[str] = frozenset()  # pronouns and relatives: an item has none
    verb_endings: tuple[str, ...] = ()  # "ed", "ing": no item opens with one where the answer does not
    possessive_endings: tuple[str, ...] = ()  # "’s": the word before a list, not its first item
    # Made from the conjunctions: what joins two items, where an item ends, whether a joint holds a conjunction.
    joint_after: re.Pattern[str] = field(init=False, repr=False)
    joint_before: re.Pattern[str] = field(init=False, repr=False)
    item_end: re.Pattern[str] = field(init=False, repr=False)
    conjunction: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        words = "|".join(self.conjunctions)
        joint = rf",\s+(?:(?:{words})\s+)?|\s+(?:{words})\s+"
        object.__setattr__(self, "joint_after", re.compile(joint))
        object.__setattr__(self, "joint_before", re.compile(rf"(?:{joint})$"))
        object.__setattr__(self, "item_end", re.compile(rf",\s|\s+(?:{words})\s+|[;:.!?()]|\s[–—]\s|$"))
        object.__setattr__(self, "conjunction", re.compile(rf"\b(?:{words})\b"))


def _alike(cues: ListCues, item: str, span_text: str) -> bool:
    """Whether `item` could be another item of the list `span_text` is in: a few words, a name beside a name
    and a common phrase beside a common phrase, no pronoun (a clause, not an item), no verb form opening it
    where the span has none."""
    words, own = item.split(), span_text.split()
    if not words or len(words) > MAX_ITEM_WORDS:
        return False
    if own[0][0].isupper() and not words[0][0].isupper():
        return False
    if any(word.lower().strip(",.") in cues.clause_words for word in words):
        return False
    endings = cues.verb_endings
    return not (endings and words[0].lower().endswith(endings) and not own[0].lower().endswith(endings))


def _first_item(cues: ListCues, segment: str, span_text: str) -> str:
    """The end of `segment` that is a list's first item, read leftwards until a word the sentence owns."""
    taken: list[str] = []
    names = span_text[0].isupper()
    for word in reversed(segment.split()):
        lowered = word.lower()
        owned = lowered in cues.before_list or (cues.possessive_endings and word.endswith(cues.possessive_endings))
        if owned or (names and not word[0].isupper()):
            break
        taken.insert(0, word)
        if lowered in cues.determiners or len(taken) == MAX_ITEM_WORDS:
            break
    return " ".join(taken)


def list_span(sentence: str, span: Span, cues: ListCues) -> Span:
    """The whole list that `span` of `sentence` is an item of, or `span` itself when it is no item of one
    (a list has one conjunction, before its last item)."""
    start, end = span
    span_text = sentence[start:end]
    if not span_text.strip():
        return span
    after, before, item_end, conjunction = cues.joint_after, cues.joint_before, cues.item_end, cues.conjunction
    conjoined = False
    right = at = end
    while (joint := after.match(sentence, at)) is not None:
        stop = item_end.search(sentence, joint.end())
        ends = stop.start() if stop else len(sentence)
        if not _alike(cues, sentence[joint.end() : ends], span_text):
            break
        at = ends
        if conjunction.search(joint.group()):  # the item after "and" ends the list
            conjoined, right = True, at
            break
    left = at = start
    while (joint := before.search(sentence, 0, at)) is not None:
        if conjunction.search(joint.group()) and conjoined:
            break  # a list has one "and"
        segment = sentence[: joint.start()]
        segment = segment[segment.rfind(",") + 1 :]
        item = _first_item(cues, segment, span_text)
        if not item or not _alike(cues, item, span_text):
            break
        conjoined |= bool(conjunction.search(joint.group()))
        left = at = joint.start() - len(item)
        if item != segment.strip():
            break  # cut short by a word of the sentence: the list's first item
    return (left, right) if conjoined else span
