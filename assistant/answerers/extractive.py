"""The extractive answerer: choosing the sentences that answer a question, and deciding when to abstain.

Pure logic over passages that are already retrieved: no model, no files. An
answer is made only of verbatim sentences of the documents, each cited, and
every quote is checked against the document text before it leaves here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from assistant.answerers import Decision, TermStats
from assistant.answerers.span_rules import RuleFinder, rule_span
from assistant.answerers.spans import SentenceWindow, SpanFinder, open_span_finder
from assistant.languages import language_for
from assistant.question import Question
from assistant.records import Answer, Passage, ShortAnswer, Source
from assistant.segment import count_words
from assistant.settings import ChoiceWeights, EvidenceWeights, SearchSettings
from assistant.textnorm import analyze, document_terms, unmarked


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
    kind_stated: bool = True  # the best sentence has a span of the kind asked for that is not the question's own words
    unknown_words: tuple[str, ...] = ()  # the question's topic words that no indexed article uses ("population")
    follow_up: bool = False  # the question leaned on earlier turns, whose words raise its coverage
    span_confidence: float | None = None  # the finder's confidence in the best sentence's short answer, if asked
    weights: EvidenceWeights = field(default_factory=EvidenceWeights)

    @property
    def score(self) -> float:
        value = self.coverage + self.weights.dense * max(self.dense, 0.0)
        if not self.kind_match:
            value -= self.weights.wrong_kind
        if not self.kind_stated:
            value -= self.weights.unstated_kind_follow_up if self.follow_up else self.weights.unstated_kind
        value -= self.weights.missing_name * len(self.missing_names)
        value -= self.weights.unknown_word * len(self.unknown_words)
        if self.span_confidence is not None:
            value -= self.weights.unsure_span * (1.0 - self.span_confidence)
        return value - self.weights.unknown_name * len(self.unknown_names)


def matched_words(question: Question, terms: set[str]) -> set[str]:
    """Question words found in `terms`, counting both words of a compound found joined.

    A word typed with its marks is not found where the text writes the same letters with other marks
    ("Pháp", France, is not the "phạt" of a fine), but is where the text writes it without any.
    """
    found = {w for w in question.words if w in terms}
    if question.marked and found:
        written_with_marks = {unmarked(t) for t in terms if not t.isascii()}
        found -= {w for w, as_typed in question.marked if w in written_with_marks and as_typed not in terms}
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


def candidates(
    passages: list[Passage], question: Question, stats: TermStats, choice: ChoiceWeights | None = None
) -> list[Candidate]:
    """Every sentence of the passages once, scored for the question.

    A sentence is credited with the words of the sentence before it at a
    discount (less of one when it opens with a pronoun or connective), since
    a fact often sits in the sentence after the one that names the topic
    ("Accordingly, they will ..."). The question's similarity to the sentence
    and the passage's fused score weigh in as `choice` says.
    """
    choice = choice or ChoiceWeights()
    language = language_for(question.language)
    weights = QuestionWeights(question, stats)
    top = passages[0].score if passages and passages[0].score > 0 else 1.0
    seen: dict[tuple[str, int, int], Candidate] = {}
    for passage in passages:
        prior = passage.score / top
        previous_terms: set[str] = set()
        similarities = passage.sentence_scores
        if len(similarities) != len(passage.chunk.sentences):
            similarities = (passage.dense_score,) * len(passage.chunk.sentences)
        for (start, end), similarity in zip(passage.chunk.sentences, similarities, strict=True):
            candidate = Candidate(passage, start, end)
            candidate.terms = set(document_terms(candidate.text))
            discount = 0.8 if language.opens_with_anaphor(candidate.text) else 0.6
            own_coverage, own_focus = weights.measure(candidate.terms)
            joined_coverage, joined_focus = weights.measure(candidate.terms | previous_terms)
            candidate.coverage = max(own_coverage, discount * joined_coverage)
            focus = max(own_focus, discount * joined_focus)
            candidate.kind_match = question.kind is None or language.holds_kind(candidate.text, question.kind)
            candidate.score = (
                focus
                + choice.similarity * similarity
                + choice.passage * prior
                + (choice.kind if question.kind and candidate.kind_match else 0.0)
            )
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
    language = language_for(question.language)
    return Evidence(
        coverage=max(best.coverage, QuestionWeights(question, stats).measure(set(analyzed.terms))[0]),
        dense=passage.dense_score,
        kind_match=best.kind_match,
        missing_names=missing,
        unknown_names=tuple(n for n in missing if not stats.knows(n)),
        kind_stated=question.kind is None or rule_span(question, window_of(best)) is not None,
        unknown_words=tuple(
            w for w in question.words if w not in question.names and not stats.knows(w) and not language.is_generic(w)
        ),
        follow_up=question.follow_up,
        weights=weights,
    )


RULE_FINDER = RuleFinder()


def select(ranked: list[Candidate], question: Question, max_words: int) -> list[Candidate]:
    """The best sentence, then others within `max_words` that add question words it lacks
    or answer as well as it does ("What did they sign?": the minutes and the memorandum). For a
    question wanting several things, a sentence holding every question word the best one holds
    answers as well: the list may go on in it ("Which documents did they sign?")."""
    if not ranked:
        return []
    chosen = [ranked[0]]
    covered = matched_words(question, ranked[0].terms)
    best_words = frozenset(covered)
    lists = language_for(question.language).wants_list(question.text)
    words = count_words(ranked[0].text)
    quoted = {ranked[0].text}
    for candidate in ranked[1:]:
        if candidate.score < 0.8 * ranked[0].score:
            break
        if candidate.text in quoted:
            continue  # the same sentence in another article adds nothing to the answer
        size = count_words(candidate.text)
        own = matched_words(question, candidate.terms)
        adds = own - covered
        as_well = candidate.score >= 0.95 * ranked[0].score or (lists and own >= best_words)
        if (adds or as_well) and words + size <= max_words:
            chosen.append(candidate)
            quoted.add(candidate.text)
            covered |= adds
            words += size
    return chosen


def abstain(question: Question) -> Answer:
    """The answer that says the documents do not answer, in the question's language."""
    said = language_for(question.language).abstention.format(question=question.text.strip())
    return Answer(question=question.text, answer=said, abstained=True, sources=[])


def window_of(candidate: Candidate) -> SentenceWindow:
    """The candidate's sentence, read with the sentence before it in its passage (where its topic is often named)."""
    sentences = candidate.passage.chunk.sentences
    at = sentences.index((candidate.start, candidate.end))
    context_start = sentences[at - 1][0] if at > 0 else candidate.start
    document = candidate.passage.document
    return SentenceWindow(document.text, context_start, candidate.start, candidate.end, document.metadata.get("language", ""))


def find_short_answer(
    ranked: list[Candidate], question: Question, finder: SpanFinder, choice: ChoiceWeights
) -> tuple[list[Candidate], ShortAnswer | None, float | None]:
    """The ranking with the sentence that holds the surest answer span first, when it is far surer than the
    first's; that span as the short answer when the finder is sure enough; and the finder's confidence in
    it (None when it offers no span: the rules for a question of no kind they know, or a question wanting
    an explanation, which gets no short answer either)."""
    if language_for(question.language).wants_explanation(question.text):
        return ranked, None, None
    top = ranked[: choice.span_sentences]
    windows = [window_of(c) for c in top]
    served = finder.languages
    if served is not None and not {question.language, *(w.language for w in windows if w.language)} <= served:
        finder = RULE_FINDER  # a question or a sentence in a language the finder never learnt
    guesses = finder.find(question, windows)
    lead, at = max(((g.confidence, i) for i, g in enumerate(guesses) if g), default=(0.0, 0))
    if at > 0 and guesses[0] is not None and lead - guesses[0].confidence >= choice.span_lead:
        ranked = [top[at], *(c for c in ranked if c is not top[at])]
        guesses = [guesses[at]]
    guess = guesses[0]
    if guess is None or guess.confidence < choice.span_confidence:
        return ranked, None, guess.confidence if guess else None
    document = ranked[0].passage.document
    start, end = guess.start, guess.end
    language = language_for(question.language)
    if language.wants_list(question.text):  # "Which provinces …?": every item, not the surest one
        at = ranked[0].start
        wide_start, wide_end = (at + offset for offset in language.list_around(ranked[0].text, (start - at, end - at)))
        added = document_terms(document.text[wide_start:start] + " " + document.text[end:wide_end])
        if not set(added) <= set(question.terms):  # items the question names itself are no answer
            start, end = wide_start, wide_end
    short = ShortAnswer(document.text[start:end], document.doc_id, start, end)
    if not ranked[0].start <= short.start < short.end <= ranked[0].end:
        raise AssertionError(f"short answer {short} is not inside its quote")
    return ranked, short, guess.confidence


def compose(question: str, chosen: list[Candidate], short: ShortAnswer | None = None) -> Answer:
    """An answer of verbatim quotes, each followed by its [n] marker, with its sources; the short answer first."""
    sources = []
    parts = [f"{short.text} —"] if short is not None else []
    for n, candidate in enumerate(chosen, start=1):
        document = candidate.passage.document
        quote = document.text[candidate.start : candidate.end]
        if not quote or quote != quote.strip() or quote != candidate.text:
            raise AssertionError(f"quote {candidate.key} is not a clean verbatim span of its document")
        sources.append(Source.of(n, document, candidate.start, candidate.end, candidate.score))
        parts.append(f"{quote} [{n}]")
    return Answer(question=question, answer=" ".join(parts), abstained=False, sources=sources, short_answer=short)


def answer_question(
    question: Question,
    passages: list[Passage],
    stats: TermStats,
    min_evidence: float,
    max_words: int,
    weights: EvidenceWeights | None = None,
    choice: ChoiceWeights | None = None,
    finder: SpanFinder | None = None,
) -> Decision:
    choice = choice or ChoiceWeights()
    ranked = candidates(passages, question, stats, choice)
    if not ranked:
        return Decision(abstain(question), None)
    ranked, short, confidence = find_short_answer(ranked, question, finder or RULE_FINDER, choice)
    evidence = replace(evidence_for(ranked[0], question, stats, weights or EvidenceWeights()), span_confidence=confidence)
    if evidence.score < min_evidence:
        return Decision(abstain(question), evidence)
    return Decision(compose(question.text, select(ranked, question, max_words), short), evidence)


class ExtractiveAnswerer:
    """Verbatim sentences of the passages, chosen by the question's words, kind and names; abstains on weak evidence."""

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.finder = open_span_finder(settings.short_answers)

    def decide(self, question: Question, passages: list[Passage], stats: TermStats) -> Decision:
        settings = self.settings
        return answer_question(
            question,
            passages,
            stats,
            settings.min_evidence,
            settings.answer_max_words,
            settings.evidence,
            settings.choice,
            self.finder,
        )
