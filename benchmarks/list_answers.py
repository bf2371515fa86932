"""Answers to questions that want several things ("Which provinces …?"), with and without list handling.

List handling widens a short answer to the whole list its span is an item of
and quotes other sentences that hold every question word the best one holds.
Measured on the span model's validation articles (the SQuAD tuning half's
four articles it did not train on; benchmarks/span_levers.py): over the
questions the language takes for list questions, and over all questions
(to show nothing else moves), short-answer exact match and F1 (no short
answer scores 0) and how often the answer holds the gold span. Writes
benchmarks/results/list_answers.json.

    .venv/bin/python benchmarks/list_answers.py [--every 1]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from unittest import mock

from squad import ROOT, TextCacheEmbedder, options, retrieve, squad_index
from train_span_model import VALIDATION_ARTICLES

from assistant.answerers.extractive import answer_question
from assistant.answerers.span_model import SpanModel
from assistant.evaluation import contains_fact, span_f1, squad_normalise
from assistant.languages.english import English

RESULTS = ROOT / "benchmarks" / "results" / "list_answers.json"


def main() -> None:
    args = options(__doc__)
    embedder = TextCacheEmbedder(args.embedder)
    with tempfile.TemporaryDirectory() as folder:
        squad = squad_index(Path(folder), embedder)
        assistant = squad.assistant(embedder)
        items = squad.asked(squad.tune[:VALIDATION_ARTICLES], args.every)
        settings, stats, finder = assistant.settings, assistant.index.stats, SpanModel()
        retrieved = retrieve(assistant, items)
        wants_list = English().wants_list
        report: dict[str, object] = {"questions": len(retrieved), "articles": squad.tune[:VALIDATION_ARTICLES]}
        shorts: dict[int, list[str | None]] = {}
        for handling in ("with lists", "without lists"):
            scores = {"lists": [0, 0.0, 0.0, 0], "all": [0, 0.0, 0.0, 0]}  # questions, exact, f1, answer holds gold
            patch = mock.patch.object(English, "wants_list", return_value=False) if handling == "without lists" else None
            if patch:
                patch.start()
            for position, (item, question, passages) in enumerate(retrieved):
                answer = answer_question(
                    question, passages, stats, settings.min_evidence, settings.answer_max_words,
                    settings.evidence, settings.choice, finder,
                ).answer  # fmt: skip
                golds = [item.answer, *item.alternatives] if item.answer else []
                text = answer.short_answer.text if answer.short_answer else None
                exact = text is not None and any(squad_normalise(text) == squad_normalise(g) for g in golds)
                f1 = max((span_f1(text, g) for g in golds), default=0.0) if text is not None else 0.0
                holds = not answer.abstained and any(contains_fact(answer.answer, g) for g in golds)
                shorts.setdefault(position, [item.question, item.answer]).append(text)
                for group in ("lists", "all") if wants_list(question.text) else ("all",):
                    row = scores[group]
                    row[0] += 1
                    row[1] += exact
                    row[2] += f1
                    row[3] += holds
            if patch:
                patch.stop()
            report[handling] = {
                group: {
                    "questions": int(n),
                    "exact_match": round(exact / max(n, 1), 4),
                    "f1": round(f1 / max(n, 1), 4),
                    "answer_accuracy": round(holds / max(n, 1), 4),
                }
                for group, (n, exact, f1, holds) in scores.items()
            }
            print(handling, json.dumps(report[handling]), flush=True)
    report["changed"] = [
        {"question": q, "gold": gold, "with lists": widened, "without": alone}
        for q, gold, widened, alone in shorts.values()
        if widened != alone
    ]
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
