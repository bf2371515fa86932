"""The extractive answerer: choosing the sentences that answer a question, and deciding when to abstain.

Pure logic over passages that are already retrieved: no model, no files. An
answer is made only of verbatim sentences of the documents, each cited, and
every quote is checked against the document text before it leaves here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answerers import Decision, TermStats
from assistant.question import Question
from assistant.records import Answer, Passage, Source
from assistant.segment import count_words
from assistant.settings import EvidenceWeights, SearchSettings
from assistant.textnorm import analyze, document_terms

ABSTENTION = "The documents do not say: no indexed article answers “{question}”."

_MONTHS = "january february march april may june july august september october november december"
_TIME = re.compile(
    rf"\b((?:{'|'.join(_MONTHS.split())})\b|(?:1[89]|20)\d{{2}}\b|(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    r"|yesterday|today|tomorrow|(?:last|past|previous|next|coming|same) (?:day|week|month|year)s?\b|annual)",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\b(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundreds?"
    r"|thousands?|millions?|dozens?|first|second|third|fourth|fifth|sixth)\b",
    re.IGNORECASE,
)
_RANKS = re.compile(
    r"\b(colonel|general|lieutenant|major|captain|commissar|minister|ministers|president|chairman|chairwoman"
    r"|director|commander|officer|ambassador|secretary|premier|governor|mr|mrs|ms|dr|deputy|counterpart)\b",
    re.IGNORECASE,
)
_PLACE = re.compile(
    r"\b(?:in|at|to|from|near|of)\s+(?:the\s+)?(?:[a-z]+\s+){0,3}?[A-ZĐ][\w’']+"
    r"|\b(province|city|district|capital|country|region|border area|headquarters)\b"
)
_CAPITALISED_PAIR = re.compile(r"(?<!^)\b[A-ZĐ][\w’']+\s+[A-ZĐ][\w’']+")
_ANAPHOR_START = re.compile(
    r"^(he|she|they|it|this|these|those|its|their|his|her|accordingly|thus|therefore|also|in addition)\b", re.IGNORECASE
)


def has_kind(sentence: str, kind: str | None) -> bool:
    if kind is None:
        return True
    if kind == "time":
        return bool(_TIME.search(sentence))
    if kind == "quantity":
        return bool(_QUANTITY.search(sentence))
    if kind == "person":
        return bool(_RANKS.search(sentence) or _CAPITALISED_PAIR.search(sentence))
    return bool(_PLACE.search(sentence))


@dataclass
class Candidate:
    """A sentence of a retrieved passage, with what was measured of it."""

    passage: Passage
    start: int
    end: int
    coverage: float = 0.0
    kind_match: bool = True
    score: float = 0.0
    terms: set[str] = field(default_factory=set)

    @property
    def text(self) -> str:
        return self.passage.document.text[self.start : self.end]

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.passage.document.doc_id, self.start, self.end)


@dataclass(frozen=True)
class Evidence:
    """How well the best candidate supports an answer; abstain when `score` is low."""

    coverage: float
    dense: float
    kind_match: bool
    missing_names: tuple[str, ...]
    unknown_names: tuple[str, ...] = ()  # missing from every indexed article, not just this passage
    weights: EvidenceWeights = field(default_factory=EvidenceWeights)

    @property
    def score(self) -> float:
        value = self.coverage + self.weights.dense * max(self.dense, 0.0)
        if not self.kind_match:
            value -= self.weights.wrong_kind
        value -= self.weights.missing_name * len(self.missing_names)
        return value - self.weights.unknown_name * len(self.unknown_names)


def matched_words(question: Question, terms: set[str]) -> set[str]:
    """Question words found in `terms`, counting both words of a compound found joined."""
    found = {w for w in question.words if w in terms}
    for compound, parts in question.compounds:
        if compound in terms:
            found.update(parts)
    return found


class QuestionWeights:
    """The idf weight of each question word, computed once per question, and the coverages they give.

    A word the corpus never uses counts half: it may be a paraphrase that the
    dense score answers for, while a missing name is judged apart.
    """

    def __init__(self, question: Question, stats: TermStats) -> None:
        def weight(word: str) -> float:
            return stats.idf(word) * (1.0 if stats.knows(word) else 0.5)

        self.question = question
        self.own = {w: weight(w) for w in question.words}
        self.context = {w: weight(w) for w in question.context_words}
        self.own_total = sum(self.own.values())
        self.context_total = sum(self.context.values())

    def measure(self, terms: set[str]) -> tuple[float, float]:
        """(coverage, focus) of `terms`.

        Coverage is the share of the question's weight found, earlier turns'
        words at half weight: the evidence for answering at all. Focus ranks
        sentences: the question's own words decide and earlier turns only break
        ties, so "What did they sign?" after a question about a meeting finds the
        signing, not the sentence that best matches the earlier question.
        """
        found = matched_words(self.question, terms)
        own = sum(weight for word, weight in self.own.items() if word in found)
        context = sum(weight for word, weight in self.context.items() if word in terms)
        total = self.own_total + 0.5 * self.context_total
        coverage = (own + 0.5 * context) / total if total else 0.0
        focus = (own / self.own_total if self.own_total else 0.0) + 0.25 * (
            context / self.context_total if self.context_total else 0.0
        )
        return coverage, focus


def candidates(passages: list[Passage], question: Question, stats: TermStats) -> list[Candidate]:
    """Every sentence of the passages once, scored for the question.

    A sentence is credited with the words of the sentence before it at a
    discount (less of one when it opens with a pronoun or connective), since
    a fact often sits in the sentence after the one that names the topic
    ("Accordingly, they will ...").
    """
    weights = QuestionWeights(question, stats)
    top = passages[0].score if passages and passages[0].score > 0 else 1.0
    seen: dict[tuple[str, int, int], Candidate] = {}
    for passage in passages:
        prior = passage.score / top
        previous_terms: set[str] = set()
        for start, end in passage.chunk.sentences:
            candidate = Candidate(passage, start, end)
            candidate.terms = set(document_terms(candidate.text))
            discount = 0.8 if _ANAPHOR_START.match(candidate.text) else 0.6
            own_coverage, own_focus = weights.measure(candidate.terms)
            joined_coverage, joined_focus = weights.measure(candidate.terms | previous_terms)
            candidate.coverage = max(own_coverage, discount * joined_coverage)
            focus = max(own_focus, discount * joined_focus)
            candidate.kind_match = has_kind(candidate.text, question.kind)
            candidate.score = focus + 0.15 * prior + (0.2 if question.kind and candidate.kind_match else 0.0)
            previous_terms = candidate.terms
            if candidate.key not in seen or seen[candidate.key].score < candidate.score:
                seen[candidate.key] = candidate
    return sorted(seen.values(), key=lambda c: (-c.score, c.key))


def evidence_for(best: Candidate, question: Question, stats: TermStats, weights: EvidenceWeights) -> Evidence:
    """Evidence from the best sentence and its passage.

    A name in the question ("Japan", "United States") must appear written as
    a name in the passage: "stated" does not vouch for "States".
    """
    passage = best.passage
    analyzed = analyze(f"{passage.document.title}\n{passage.text}")
    names = analyzed.names
    found = {w for w in question.names if w in names}
    found |= {part for compound, parts in question.compounds if compound in names for part in parts}
    missing = tuple(n for n in question.names if n not in found)
    return Evidence(
        coverage=max(best.coverage, QuestionWeights(question, stats).measure(set(analyzed.terms))[0]),
        dense=passage.dense_score,
        kind_match=best.kind_match,
        missing_names=missing,
        unknown_names=tuple(n for n in missing if not stats.knows(n)),
        weights=weights,
    )


def select(ranked: list[Candidate], question: Question, max_words: int) -> list[Candidate]:
    """The best sentence, then others within `max_words` that add question words it lacks
    or answer as well as it does ("What did they sign?": the minutes and the memorandum)."""
    if not ranked:
        return []
    chosen = [ranked[0]]
    covered = matched_words(question, ranked[0].terms)
    words = count_words(ranked[0].text)
    quoted = {ranked[0].text}
    for candidate in ranked[1:]:
        if candidate.score < 0.8 * ranked[0].score:
            break
        if candidate.text in quoted:
            continue  # the same sentence in another article adds nothing to the answer
        size = count_words(candidate.text)
        adds = matched_words(question, candidate.terms) - covered
        if (adds or candidate.score >= 0.95 * ranked[0].score) and words + size <= max_words:
            chosen.append(candidate)
            quoted.add(candidate.text)
            covered |= adds
            words += size
    return chosen


def abstain(question: str) -> Answer:
    return Answer(question=question, answer=ABSTENTION.format(question=question.strip()), abstained=True, sources=[])


def compose(question: str, chosen: list[Candidate]) -> Answer:
    """An answer of verbatim quotes, each followed by its [n] marker, with its sources."""
    sources = []
    parts = []
    for n, candidate in enumerate(chosen, start=1):
        document = candidate.passage.document
        quote = document.text[candidate.start : candidate.end]
        if not quote or quote != quote.strip() or quote != candidate.text:
            raise AssertionError(f"quote {candidate.key} is not a clean verbatim span of its document")
        sources.append(
            Source(
                n=n,
                doc_id=document.doc_id,
                path=document.path,
                title=document.title,
                quote=quote,
                start=candidate.start,
                end=candidate.end,
                score=candidate.score,
            )
        )
        parts.append(f"{quote} [{n}]")
    return Answer(question=question, answer=" ".join(parts), abstained=False, sources=sources)


def answer_question(
    question: Question,
    passages: list[Passage],
    stats: TermStats,
    min_evidence: float,
    max_words: int,
    weights: EvidenceWeights | None = None,
) -> Decision:
    ranked = candidates(passages, question, stats)
    if not ranked:
        return Decision(abstain(question.text), None)
    evidence = evidence_for(ranked[0], question, stats, weights or EvidenceWeights())
    if evidence.score < min_evidence:
        return Decision(abstain(question.text), evidence)
    return Decision(compose(question.text, select(ranked, question, max_words)), evidence)


class ExtractiveAnswerer:
    """Verbatim sentences of the passages, chosen by the question's words, kind and names; abstains on weak evidence."""

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings

    def decide(self, question: Question, passages: list[Passage], stats: TermStats) -> Decision:
        settings = self.settings
        return answer_question(question, passages, stats, settings.min_evidence, settings.answer_max_words, settings.evidence)
