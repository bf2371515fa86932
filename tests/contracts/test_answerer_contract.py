"""The answerer contract: whatever composes the answer, every quote (and the short answer) is its document's
text at its offsets, and a question the passages do not answer is refused without sources.

Passages are made by hand, so the suite runs without a model or an index.
An answerer that needs a server gets a maker in `MAKERS` that starts one.
"""

from __future__ import annotations

import atexit
import math
from collections import Counter
from collections.abc import Callable

import pytest

from assistant.answerers import ANSWERERS, Answerer, Decision, open_answerer
from assistant.question import Question
from assistant.records import Chunk, Document, Passage, text_hash
from assistant.segment import chunk_text
from assistant.settings import SearchSettings
from assistant.textnorm import document_terms

MEETING = (
    "The Son La Border Guard Command met the Luang Prabang Military Command. "
    "The Lao side was led by Colonel Viliem Vongthisan.\n\n"
    "At the event, the two sides signed a Memorandum of Understanding. "
    "Accordingly, they will exchange information about border security.\n\n"
    "The meeting took place in Son La on March 28, 2023."
)
DIALOGUE = "The fifth defence policy dialogue was held in Hanoi. General Hoang Xuan Chien co-chaired it."
OTHER = ["An unrelated sentence about the weather.", "Another one about football.", "A third about cooking rice."]
ANSWERABLE = ["Who led the Lao side?", "What did the two sides sign?", "When did the meeting take place?"]


def _llm(settings: SearchSettings) -> Answerer:
    """The llm answerer asking a fake server (tests/fake_llm.py) whose "model" cites the best sentence."""
    from dataclasses import replace

    from assistant.answerers.llm import LLMAnswerer
    from tests.fake_llm import FakeLLM

    global _FAKE_LLM
    if _FAKE_LLM is None:
        _FAKE_LLM = FakeLLM()
        atexit.register(_FAKE_LLM.stop)
    return LLMAnswerer(replace(settings, llm_url=_FAKE_LLM.url))


_FAKE_LLM = None
# An answerer that needs more than its settings (a server) gets its maker here.
MAKERS: dict[str, Callable[[SearchSettings], Answerer]] = {"llm": _llm}


class SentenceStats:
    """Term statistics over a few sentences: enough for an answerer to weigh words."""

    def __init__(self, texts: list[str]) -> None:
        self.frequencies = Counter(term for text in texts for term in set(document_terms(text)))
        self.count = len(texts)

    def idf(self, term: str) -> float:
        frequency = self.frequencies.get(term, 0)
        return math.log(1 + (self.count - frequency + 0.5) / (frequency + 0.5))

    def knows(self, term: str) -> bool:
        return term in self.frequencies


def passages(dense: float = 0.6) -> list[Passage]:
    found = []
    for rank, (doc_id, text) in enumerate([("meeting.txt", MEETING), ("dialogue.txt", DIALOGUE)], start=1):
        document = Document(doc_id, doc_id, doc_id.removesuffix(".txt").title(), text, text_hash(text))
        span = chunk_text(text, max_words=200, overlap_sentences=0)[0]
        found.append(Passage(rank, Chunk(0, doc_id, span.start, span.end, span.sentences), document, 1.0 / rank, 5.0, dense))
    return found


STATS = SentenceStats([MEETING[s:e] for s, e in chunk_text(MEETING, 200, 0)[0].sentences] + [DIALOGUE, *OTHER])


@pytest.fixture(params=ANSWERERS.names())
def answerer(request: pytest.FixtureRequest) -> Answerer:
    name: str = request.param
    settings = SearchSettings(answerer=name)
    return MAKERS[name](settings) if name in MAKERS else open_answerer(settings)


def decide(answerer: Answerer, question: str, found: list[Passage] | None = None, dense: float = 0.6) -> Decision:
    return answerer.decide(Question.analyse(question), passages(dense) if found is None else found, STATS)


def test_answers_quote_their_documents_exactly(answerer):
    for question in ANSWERABLE:
        answer = decide(answerer, question).answer
        assert not answer.abstained and answer.sources, question
        assert answer.question == question
        documents = {p.document.doc_id: p.document for p in passages()}
        for source in answer.sources:
            document = documents[source.doc_id]
            assert document.text[source.start : source.end] == source.quote
            assert (source.path, source.title) == (document.path, document.title)
        assert [s.n for s in answer.sources] == list(range(1, len(answer.sources) + 1))
        short = answer.short_answer
        if short is not None:  # a span of its document, inside a quoted sentence
            assert documents[short.doc_id].text[short.start : short.end] == short.text and short.text
            assert any(s.doc_id == short.doc_id and s.start <= short.start < short.end <= s.end for s in answer.sources)


def test_the_answer_holds_the_fact(answerer):
    answer = decide(answerer, "Who led the Lao side?").answer
    assert "Viliem Vongthisan" in answer.answer


def test_no_passages_is_an_abstention(answerer):
    answer = decide(answerer, "Who led the Lao side?", found=[]).answer
    assert answer.abstained and answer.sources == [] and answer.answer


def test_an_off_topic_question_is_refused_without_sources(answerer):
    answer = decide(answerer, "What is the capital of France?", dense=0.1).answer
    assert answer.abstained and answer.sources == []
    assert answer.answer.startswith("The documents do not say")


def test_deciding_is_deterministic(answerer):
    assert decide(answerer, ANSWERABLE[1]) == decide(answerer, ANSWERABLE[1])
