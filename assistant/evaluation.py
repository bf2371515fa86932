"""Measuring answers against a question file: the numbers the QA thresholds are asserted on.

A question file has one JSON object per line: `question`, and `answer` (the
gold fact) and/or `doc_id`, or `"unanswerable": true`. `split` ("tune" or
"heldout") says whether a question may be used for tuning.
"""

from __future__ import annotations

import json
import logging
import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from assistant.backends import MODES
from assistant.errors import AssistantError
from assistant.records import Answer, Document, Passage, ShortAnswer, Source
from assistant.textnorm import fold

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QAItem:
    question: str
    answer: str | None = None
    doc_ids: tuple[str, ...] = ()
    unanswerable: bool = False
    split: str = "tune"
    alternatives: tuple[str, ...] = ()  # other accepted answers (SQuAD gives up to five)

    @property
    def golds(self) -> tuple[str, ...]:
        return (self.answer, *self.alternatives) if self.answer is not None else self.alternatives


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def squad_normalise(text: str) -> list[str]:
    """SQuAD's official answer normalisation: lower case, no punctuation, no articles, single spaces; as tokens."""
    lowered = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return _ARTICLES.sub(" ", lowered).split()


def span_f1(predicted: str, gold: str) -> float:
    """Token F1 between two answers after SQuAD's normalisation."""
    ours, theirs = squad_normalise(predicted), squad_normalise(gold)
    common = sum((Counter(ours) & Counter(theirs)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(ours), common / len(theirs)
    return 2 * precision * recall / (precision + recall)


def load_qa(path: Path) -> list[QAItem]:
    """Questions from a JSONL file; a malformed line is an error naming its line number."""
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise AssistantError(f"cannot read question file {path}: {error}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            doc_ids = row.get("doc_id", ())
            answers = row.get("answer")
            answers = [answers] if isinstance(answers, str) or answers is None else list(answers)
            item = QAItem(
                question=row["question"],
                answer=answers[0],
                alternatives=tuple(answers[1:]),
                doc_ids=(doc_ids,) if isinstance(doc_ids, str) else tuple(doc_ids),
                unanswerable=bool(row.get("unanswerable", False)),
                split=row.get("split", "tune"),
            )
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
            raise AssistantError(f"{path}:{number}: not a question object ({error})") from None
        if not item.unanswerable and item.answer is None and not item.doc_ids:
            raise AssistantError(f"{path}:{number}: needs an answer, a doc_id, or unanswerable: true")
        items.append(item)
    return items


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", fold(text)).strip()


def contains_fact(text: str, fact: str) -> bool:
    """Whether `text` states `fact`, ignoring case, diacritics and spacing."""
    return _squash(fact) in _squash(text)


def quotes_verified(answer: Answer, documents: Mapping[str, Document]) -> bool:
    """Every quote, and the short answer, equals its document's text at its offsets."""
    spans: list[Source | ShortAnswer] = [*answer.sources, *([answer.short_answer] if answer.short_answer else [])]
    return all(verbatim(span, documents) for span in spans)


def verbatim(span: Source | ShortAnswer, documents: Mapping[str, Document]) -> bool:
    """Whether a quote or short answer is non-empty and equals its document's text at its offsets."""
    text = span.quote if isinstance(span, Source) else span.text
    return bool(text) and span.doc_id in documents and documents[span.doc_id].text[span.start : span.end] == text


@dataclass
class Outcome:
    item: QAItem
    answer: Answer
    passages: list[Passage] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        if self.item.unanswerable:
            return self.answer.abstained
        if self.answer.abstained:
            return False
        if self.item.answer is not None:
            return contains_fact(self.answer.answer, self.item.answer)
        return any(s.doc_id in self.item.doc_ids for s in self.answer.sources)

    @property
    def short_exact(self) -> bool:
        """Whether the short answer equals a gold answer after SQuAD's normalisation (no short answer: no)."""
        short = self.answer.short_answer
        return short is not None and any(squad_normalise(short.text) == squad_normalise(g) for g in self.item.golds)

    @property
    def short_f1(self) -> float:
        short = self.answer.short_answer
        return max((span_f1(short.text, g) for g in self.item.golds), default=0.0) if short is not None else 0.0

    @property
    def first_source_gold(self) -> bool:
        """Whether the answer's first source is a gold document (the answerer kept the retriever's evidence)."""
        return bool(self.answer.sources) and self.answer.sources[0].doc_id in self.item.doc_ids

    @property
    def fact_rank(self) -> int | None:
        """Rank of the first passage that holds the gold fact (or comes from a gold document)."""
        for passage in self.passages:
            if self.item.answer is not None:
                if contains_fact(passage.text, self.item.answer):
                    return passage.rank
            elif passage.document.doc_id in self.item.doc_ids:
                return passage.rank
        return None


def summarize(outcomes: list[Outcome], documents: Mapping[str, Document]) -> dict[str, Any]:
    """Counts and rates over answerable and unanswerable questions."""
    answerable = [o for o in outcomes if not o.item.unanswerable]
    unanswerable = [o for o in outcomes if o.item.unanswerable]
    ranks = [o.fact_rank for o in answerable]
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "answered_correctly": sum(o.correct for o in answerable),
        "false_abstentions": sum(o.answer.abstained for o in answerable),
        "wrong_answers": sum(not o.answer.abstained and not o.correct for o in answerable),
        "unanswerable": len(unanswerable),
        "abstained_correctly": sum(o.answer.abstained for o in unanswerable),
        "answered_unanswerable": sum(not o.answer.abstained for o in unanswerable),
        "quotes": sum(len(o.answer.sources) for o in outcomes),
        "verified_quote_share": _share(sum(quotes_verified(o.answer, documents) for o in outcomes), len(outcomes)),
        "fact_recall_at_1": _share(sum(r == 1 for r in ranks), len(ranks)),
        "fact_recall_at_5": _share(sum(r is not None and r <= 5 for r in ranks), len(ranks)),
        "fact_mrr": _share(sum(1 / r for r in ranks if r), len(ranks)),
    }


def _share(count: float, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def document_ranking(passages: Sequence[Passage]) -> list[str]:
    """The documents of ranked passages, each once, in the order of its best passage."""
    return list(dict.fromkeys(p.document.doc_id for p in passages))


def recall_at(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    return 1.0 if any(doc in relevant for doc in ranking[:k]) else 0.0


def reciprocal_rank(ranking: Sequence[str], relevant: set[str], k: int = 10) -> float:
    return next((1.0 / rank for rank, doc in enumerate(ranking[:k], start=1) if doc in relevant), 0.0)


def ndcg_at(ranking: Sequence[str], relevant: set[str], k: int = 10) -> float:
    """Binary-relevance nDCG: every gold document counts 1, wherever it is ranked in the top k."""
    gain = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], start=1) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    return gain / ideal if ideal else 0.0


def retrieval_metrics(rankings: Sequence[tuple[Sequence[str], set[str]]]) -> dict[str, float]:
    """Mean recall@1/5/10, MRR@10 and nDCG@10 over (ranking, relevant documents) pairs."""
    n = len(rankings)
    if n == 0:
        return {}
    return {
        "recall_at_1": round(sum(recall_at(r, g, 1) for r, g in rankings) / n, 4),
        "recall_at_5": round(sum(recall_at(r, g, 5) for r, g in rankings) / n, 4),
        "recall_at_10": round(sum(recall_at(r, g, 10) for r, g in rankings) / n, 4),
        "mrr_at_10": round(sum(reciprocal_rank(r, g) for r, g in rankings) / n, 4),
        "ndcg_at_10": round(sum(ndcg_at(r, g) for r, g in rankings) / n, 4),
    }


def evaluate(
    assistant: Assistant, items: Sequence[QAItem], progress: bool = False, scope: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Retrieval of the gold documents by BM25, dense and hybrid search, and the full answerer; `scope`
    (doc_ids, where, since, until) restricts every question to those documents, as on `ask`."""
    scope = scope or {}
    with_documents = [i for i in items if i.doc_ids and not i.unanswerable]
    rankings: dict[str, list[tuple[list[str], set[str]]]] = {mode: [] for mode in MODES}
    outcomes: list[Outcome] = []
    for item in tqdm(items, desc="evaluating", unit="question", disable=not progress):
        if item in with_documents:
            for mode in MODES:
                ranking = document_ranking(assistant.search(item.question, k=50, mode=mode, **scope))
                rankings[mode].append((ranking, set(item.doc_ids)))
        outcomes.append(Outcome(item, assistant.ask(item.question, **scope)))
    answerable = [o for o in outcomes if not o.item.unanswerable]
    unanswerable = [o for o in outcomes if o.item.unanswerable]
    with_gold = [o for o in answerable if o.item.doc_ids]
    with_answer = [o for o in answerable if o.item.golds]
    given = [o for o in with_answer if o.answer.short_answer is not None]
    abstentions = [o for o in outcomes if o.answer.abstained]
    sources = [(o.answer, s) for o in outcomes for s in o.answer.sources]
    documents = assistant.index.documents
    verified = sum(verbatim(s, documents) for _, s in sources)
    shorts = [o.answer.short_answer for o in outcomes if o.answer.short_answer is not None]
    verified_shorts = sum(verbatim(s, documents) for s in shorts)
    return {
        "questions": len(items),
        "retrieval": {"questions": len(with_documents), **{mode: retrieval_metrics(rankings[mode]) for mode in MODES}},
        "answers": {
            "answerable": len(answerable),
            "answer_accuracy": _share(sum(o.correct for o in answerable), len(answerable)),
            "first_source_gold": _share(sum(o.first_source_gold for o in with_gold), len(with_gold)),
            "short_answers": _share(sum(o.answer.short_answer is not None for o in answerable), len(answerable)),
            "short_exact_match": _share(sum(o.short_exact for o in with_answer), len(with_answer)),
            "short_f1": _share(sum(o.short_f1 for o in with_answer), len(with_answer)),
            "short_f1_where_given": _share(sum(o.short_f1 for o in given), len(given)),
            "unanswerable": len(unanswerable),
            "abstentions": len(abstentions),
            "abstention_precision": _share(sum(o.item.unanswerable for o in abstentions), len(abstentions)),
            "abstention_recall": _share(sum(o.answer.abstained for o in unanswerable), len(unanswerable)),
            "quotes": len(sources),
            "verified_quote_share": _share(verified, len(sources)) if sources else 1.0,
            "verified_short_answer_share": _share(verified_shorts, len(shorts)) if shorts else 1.0,
        },
    }


def conversation_turns(assistant: Assistant, path: Path) -> dict[str, dict[str, int]]:
    """Turns of the conversations in `path` (JSON lines: split, turns of [question, fact or null]) answered
    right — the fact, or an abstention where the turn has none — by split; misses are logged."""
    from assistant.conversation import ConversationState

    counts: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        conversation = json.loads(line)
        state = ConversationState()
        tally = counts.setdefault(conversation["split"], {"turns": 0, "right": 0})
        for question, fact in conversation["turns"]:
            answer = assistant.ask(question, state=state)
            right = answer.abstained if fact is None else not answer.abstained and contains_fact(answer.answer, fact)
            tally["turns"] += 1
            tally["right"] += right
            if not right:
                log.info("MISS [conversation %s] %s -> %s", conversation["split"], question, answer.answer[:110])
    return counts
