"""Short-answer levers, chosen on the span model's validation articles only.

The span model trains on the SQuAD tuning half less four articles
(benchmarks/train_span_model.py); those four are where its settings are
chosen, since its confidence on articles it trained on is no guide. For
each setting of how many sentences it reads, how much surer a lower
sentence must be to be quoted first, and the least confidence for a short
answer: short-answer exact match and F1 (a question with no short answer
scores 0), how often the first source is the gold paragraph, and how often
the answer holds the gold span. The rule finder is measured beside it.
Writes benchmarks/results/span_levers.json.

    .venv/bin/python benchmarks/span_levers.py [--every 1]
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from squad import ROOT, TextCacheEmbedder, options, retrieve, squad_index
from train_span_model import VALIDATION_ARTICLES

from assistant.answerers.extractive import answer_question
from assistant.answerers.span_model import SpanModel
from assistant.answerers.span_rules import RuleFinder
from assistant.answerers.spans import SentenceWindow, SpanFinder, SpanGuess
from assistant.evaluation import contains_fact, span_f1, squad_normalise
from assistant.question import Question
from assistant.settings import ChoiceWeights

RESULTS = ROOT / "benchmarks" / "results" / "span_levers.json"
SETTINGS = [
    replace(ChoiceWeights(), span_sentences=n, span_lead=lead, span_confidence=least)
    for n in (1, 2, 3)
    for lead in ((1.0,) if n == 1 else (0.2, 0.35, 0.5, 1.0))
    for least in (0.2, 0.35, 0.5, 0.65)
]


class MemoFinder:
    """A finder that answers each (question, window) once, however many settings ask."""

    def __init__(self, finder: SpanFinder) -> None:
        self.finder = finder
        self.memo: dict[tuple[str, SentenceWindow], SpanGuess | None] = {}

    def find(self, question: Question, windows: list[SentenceWindow]) -> list[SpanGuess | None]:
        missing = [w for w in windows if (question.text, w) not in self.memo]
        for window, guess in zip(missing, self.finder.find(question, missing), strict=True):
            self.memo[question.text, window] = guess
        return [self.memo[question.text, w] for w in windows]


def main() -> None:
    args = options(__doc__)
    embedder = TextCacheEmbedder(args.embedder)
    with tempfile.TemporaryDirectory() as folder:
        squad = squad_index(Path(folder), embedder)
        assistant = squad.assistant(embedder)
        items = squad.asked(squad.tune[:VALIDATION_ARTICLES], args.every)
        settings = assistant.settings
        retrieved = retrieve(assistant, items)
        stats = assistant.index.stats
        finders = {"model": MemoFinder(SpanModel()), "rules": MemoFinder(RuleFinder())}
        rows = []
        for name, finder in finders.items():
            for choice in SETTINGS if name == "model" else [ChoiceWeights()]:
                exact = f1 = first_gold = holds = given = 0.0
                for item, question, passages in retrieved:
                    answer = answer_question(
                        question, passages, stats, settings.min_evidence, settings.answer_max_words,
                        settings.evidence, choice, finder,
                    ).answer  # fmt: skip
                    golds = [item.answer, *item.alternatives] if item.answer else []
                    first_gold += bool(answer.sources) and answer.sources[0].doc_id in item.doc_ids
                    holds += not answer.abstained and any(contains_fact(answer.answer, g) for g in golds)
                    if answer.short_answer is not None:
                        given += 1
                        text = answer.short_answer.text
                        exact += any(squad_normalise(text) == squad_normalise(g) for g in golds)
                        f1 += max((span_f1(text, g) for g in golds), default=0.0)
                n = len(retrieved)
                row = {
                    "finder": name,
                    "choice": asdict(choice),
                    "short_answers_given": round(given / n, 4),
                    "exact_match": round(exact / n, 4),
                    "f1": round(f1 / n, 4),
                    "first_source_gold": round(first_gold / n, 4),
                    "answer_accuracy": round(holds / n, 4),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    best = max((r for r in rows if r["finder"] == "model"), key=lambda r: (r["f1"], r["first_source_gold"]))
    report = {"questions": len(items), "articles": squad.tune[:VALIDATION_ARTICLES], "rows": rows, "best_f1": best}
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print("best", json.dumps(best))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
