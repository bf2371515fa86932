"""Answer selection and abstention on hand-made passages, no model needed."""

from dataclasses import replace

import pytest

from assistant.answerers.extractive import Candidate, answer_question, compose, evidence_for, select
from assistant.answerers.extractive import candidates as rank_candidates
from assistant.backends.local.lexical import BM25Index
from assistant.languages.english import ENGLISH
from assistant.question import Question
from assistant.records import Chunk, Document, Passage
from assistant.segment import chunk_text
from assistant.settings import BM25Params, ChoiceWeights, EvidenceWeights, SearchSettings
from assistant.textnorm import document_terms

TEXT = (
    "The Son La Border Guard Command met the Luang Prabang Military Command. "
    "The Lao side was led by Colonel Viliem Vongthisan.\n\n"
    "At the event, the two sides signed a Memorandum of Understanding. "
    "Accordingly, they will exchange information about border security.\n\n"
    "The meeting took place in Son La on March 28, 2023. "
    "The Border Guard Command also presented cattle to Lao households."
)
DOCUMENT = Document("meeting.txt", "meeting.txt", "Border meeting", TEXT, "0" * 64)


def make_passages(dense: float = 0.5) -> list[Passage]:
    spans = chunk_text(TEXT, max_words=200, overlap_sentences=0)
    chunk = Chunk(0, DOCUMENT.doc_id, spans[0].start, spans[0].end, spans[0].sentences)
    return [Passage(1, chunk, DOCUMENT, score=1.0, bm25_score=5.0, dense_score=dense)]


@pytest.fixture(scope="module")
def stats() -> BM25Index:
    sentences = [TEXT[s:e] for c in chunk_text(TEXT, 200, 0) for s, e in c.sentences]
    other = ["An unrelated sentence about the weather.", "Another one about football."]
    return BM25Index.build([document_terms(t) for t in sentences + other], BM25Params())


def ask(question: str, stats, dense: float = 0.5, context: str = ""):
    """The answerer with the shipped evidence weights and threshold."""
    analysed = Question.analyse(question, [context] if context else [])
    settings = SearchSettings()
    return answer_question(analysed, make_passages(dense), stats, settings.min_evidence, 60, settings.evidence)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who led the Lao side?", "person"),
        ("Where was it held?", "place"),
        ("When did the meeting take place?", "time"),
        ("What year was it?", "time"),
        ("How many cattle were given?", "quantity"),
        ("What did they sign?", None),
    ],
)
def test_answer_kind(question, kind):
    assert ENGLISH.answer_kind(question) == kind


def test_sentence_kinds():
    assert ENGLISH.holds_kind("It was held on March 28.", "time")
    assert not ENGLISH.holds_kind("It was held in the capital.", "time")
    assert ENGLISH.holds_kind("It was led by Colonel Viliem Vongthisan.", "person")
    assert ENGLISH.holds_kind("They met in Luang Prabang.", "place")
    assert ENGLISH.holds_kind("They gave 40 cows.", "quantity")


def test_answers_with_the_sentence_holding_the_fact(stats):
    decision = ask("Who led the Lao side?", stats)
    assert not decision.answer.abstained
    assert decision.answer.sources[0].quote == "The Lao side was led by Colonel Viliem Vongthisan."
    assert decision.answer.answer.startswith("Colonel Viliem Vongthisan — The Lao side was led by Colonel Viliem Vongthisan. [1]")


def test_every_quote_is_the_document_text_at_its_offsets(stats):
    for question in ("Who led the Lao side?", "What was signed?", "When was the meeting?", "What was given to households?"):
        answer = ask(question, stats).answer
        assert answer.sources
        for source in answer.sources:
            assert TEXT[source.start : source.end] == source.quote


def test_the_fact_in_the_sentence_after_the_topic_is_found(stats):
    answer = ask("What will they exchange under the memorandum?", stats).answer
    quotes = [s.quote for s in answer.sources]
    assert "Accordingly, they will exchange information about border security." in quotes


def test_time_questions_prefer_a_sentence_with_a_date(stats):
    answer = ask("When did the Son La meeting take place?", stats).answer
    assert "March 28, 2023" in answer.sources[0].quote


def test_exclusion_words_are_not_credited(stats):
    answer = ask("What did the Border Guard Command present besides the memorandum?", stats).answer
    assert "cattle" in answer.sources[0].quote


def test_off_topic_question_abstains_without_sources(stats):
    decision = ask("What is the capital of France?", stats, dense=0.1)
    assert decision.answer.abstained
    assert decision.answer.sources == []
    assert decision.answer.answer.startswith("The documents do not say")


def test_a_missing_name_lowers_the_evidence(stats):
    known = ask("Who led the Lao side at the meeting?", stats)
    unknown = ask("Who led the Cambodian side at the meeting?", stats)
    assert unknown.evidence.missing_names == ("cambodian",)
    assert unknown.evidence.score < known.evidence.score
    assert unknown.answer.abstained


def test_a_name_must_appear_written_as_a_name():
    profile = Question.analyse("Who is the president of the United States?")
    assert profile.names == ("unit", "state")


def test_follow_up_words_decide_over_the_carried_topic(stats):
    answer = ask("What did they sign?", stats, context="Who led the Lao side?").answer
    assert "Memorandum of Understanding" in answer.sources[0].quote


def test_selection_respects_the_word_budget(stats):
    profile = Question.analyse("Who led the Lao side and what did they sign and present?")
    ranked = rank_candidates(make_passages(), profile, stats)
    chosen = select(ranked, profile, max_words=12)
    assert len(chosen) == 1  # the best sentence always, nothing more past the budget
    assert len(select(ranked, profile, max_words=60)) > 1


def test_compose_refuses_a_quote_that_is_not_document_text(stats):
    profile = Question.analyse("Who led the Lao side?")
    best = rank_candidates(make_passages(), profile, stats)[0]
    best.end += 1  # the span now ends in white space: no longer a clean verbatim sentence
    with pytest.raises(AssertionError):
        compose("q", [best])


def test_the_same_sentence_in_two_articles_is_quoted_once(stats):
    copy = Document("copy.txt", "copy.txt", "Border meeting", TEXT, "1" * 64)
    passages = make_passages()
    twin = Passage(
        2, Chunk(1, copy.doc_id, passages[0].chunk.start, passages[0].chunk.end, passages[0].chunk.sentences), copy, 1.0, 5.0, 0.5
    )
    profile = Question.analyse("What did they sign?")
    chosen = select(rank_candidates([*passages, twin], profile, stats), profile, max_words=60)
    assert len({c.text for c in chosen}) == len(chosen)


@pytest.mark.parametrize("favoured", [0, 3])
def test_the_question_sentence_similarity_ranks_sentences_the_words_cannot_tell_apart(stats, favoured):
    (passage,) = make_passages()
    scores = tuple(0.9 if i == favoured else 0.1 for i in range(len(passage.chunk.sentences)))
    scored = replace(passage, sentence_scores=scores)
    question = Question.analyse("Zebras?")  # shares no word with any sentence
    best = rank_candidates([scored], question, stats, ChoiceWeights(similarity=1.0))[0]
    assert (best.start, best.end) == passage.chunk.sentences[favoured]


def test_without_sentence_scores_the_passage_score_stands_in(stats):
    question = Question.analyse("Who led the Lao side?")
    (passage,) = make_passages()
    plain = rank_candidates([passage], question, stats, ChoiceWeights(similarity=1.0))
    uniform = replace(passage, sentence_scores=(passage.dense_score,) * len(passage.chunk.sentences))
    assert [c.key for c in plain] == [c.key for c in rank_candidates([uniform], question, stats, ChoiceWeights(similarity=1.0))]


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("Who led the Lao side?", "Colonel Viliem Vongthisan"),
        ("When did the meeting take place?", "March 28, 2023"),
        ("Where did the meeting take place?", "Son La"),
        ("Who did the Son La Border Guard Command meet?", "Luang Prabang Military Command"),
    ],
)
def test_a_short_answer_is_a_span_of_the_first_quote(stats, question, short):
    answer = ask(question, stats).answer
    assert answer.short_answer is not None and answer.short_answer.text == short
    found = answer.short_answer
    assert TEXT[found.start : found.end] == found.text
    first = answer.sources[0]
    assert found.doc_id == first.doc_id and first.start <= found.start < found.end <= first.end
    assert answer.answer.startswith(f"{short} — ")


def test_no_short_answer_where_the_question_wants_more_than_a_span(stats):
    answer = ask("What did the two sides sign?", stats).answer
    assert not answer.abstained and answer.short_answer is None
    assert answer.to_dict()["short_answer"] is None


def test_a_span_that_restates_the_question_is_not_the_answer(stats):
    """Both commands are names next to "met"; the one the question already names is not the answer."""
    answer = ask("Who met the Luang Prabang Military Command?", stats).answer
    assert answer.short_answer is not None and answer.short_answer.text == "Son La Border Guard Command"


def test_a_topic_word_no_article_uses_counts_against_answering(stats):
    """ "How old …": the corpus never speaks of age, so the sentence about the man is not an answer."""
    question = Question.analyse("How old is Colonel Viliem Vongthisan?")
    weighed = answer_question(question, make_passages(), stats, 0.88, 60, EvidenceWeights(unknown_word=1.0))
    assert weighed.evidence.unknown_words == ("old",) and weighed.answer.abstained
    ignored = answer_question(question, make_passages(), stats, 0.88, 60, EvidenceWeights(unknown_word=0.0))
    assert not ignored.answer.abstained
    framing = answer_question(Question.analyse("What kind of memorandum did they sign?"), make_passages(), stats, 0.88, 60)
    assert framing.evidence.unknown_words == ()  # "kind" frames the question, it is not its topic


def test_a_kind_question_whose_sentence_states_no_such_fact(stats):
    (passage,) = make_passages()
    start, end = next(s for s in passage.chunk.sentences if TEXT[s[0] : s[1]].startswith("The Lao side"))
    best = Candidate(passage, start, end, terms=set(document_terms(TEXT[start:end])))
    asked_when = evidence_for(
        best, Question.analyse("When was the Lao side led by Colonel Vongthisan?"), stats, EvidenceWeights()
    )
    assert not asked_when.kind_stated
    asked_who = evidence_for(best, Question.analyse("Who led the Lao side?"), stats, EvidenceWeights())
    assert asked_who.kind_stated
    assert asked_when.score == pytest.approx(replace(asked_when, kind_stated=True).score - EvidenceWeights().unstated_kind)


def test_a_follow_up_whose_sentence_states_no_fact_of_the_asked_kind_is_refused(stats):
    """ "How old is he?" after a question about the colonel: his sentence is found, but it states no age."""
    (passage,) = make_passages()
    start, end = next(s for s in passage.chunk.sentences if TEXT[s[0] : s[1]].startswith("The Lao side"))
    best = Candidate(passage, start, end, terms=set(document_terms(TEXT[start:end])), coverage=1.0)
    question = Question.analyse("How old is he?", ["Who led the Lao side?"], [("Colonel Viliem Vongthisan", "person")])
    evidence = evidence_for(best, question, stats, EvidenceWeights())
    assert evidence.follow_up and not evidence.kind_stated
    assert evidence.score < SearchSettings().min_evidence
    standalone = evidence_for(best, Question.analyse("How old is Colonel Viliem Vongthisan?"), stats, EvidenceWeights())
    assert not standalone.follow_up and standalone.score > evidence.score + 0.5  # the penalty is the follow-up's
