"""The seed QA set (tests/qa/seed_qa.jsonl) and conversations, with the shipped settings.

Settings are chosen on the SQuAD tuning half (benchmarks/levers.py); here the
tune split shows the fusion table and each question's evidence, and both
splits are reported, with the near-miss set (tests/qa/near_miss.jsonl) and
its abstention curve. Writes benchmarks/results/seed_qa.json.

    .venv/bin/python benchmarks/seed_qa.py
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from assistant.answerers.extractive import Evidence
from assistant.core import Assistant
from assistant.evaluation import Outcome, QAItem, conversation_turns, load_qa, summarize
from assistant.indexer import update_index
from assistant.settings import EvidenceWeights, IndexSettings, SearchSettings

ROOT = Path(__file__).resolve().parent.parent
QA_FILE = ROOT / "tests" / "qa" / "seed_qa.jsonl"
CONVERSATIONS = ROOT / "tests" / "qa" / "seed_conversations.jsonl"
NEAR_MISSES = ROOT / "tests" / "qa" / "near_miss.jsonl"
# Near-miss weights measured on the SQuAD tuning half but not shipped (README, "Near-misses"), with their threshold.
ALTERNATIVE = (EvidenceWeights(unknown_word=0.25), 0.878)
RESULTS = ROOT / "benchmarks" / "results" / "seed_qa.json"

FUSIONS = [("bm25 alone", "bm25", {}), ("dense alone", "dense", {})]
FUSIONS += [(f"weighted w={w}", "hybrid", {"fusion": "weighted", "dense_weight": w}) for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)]
FUSIONS += [(f"rrf k={k}", "hybrid", {"fusion": "rrf", "rrf_k": k}) for k in (10, 60)]


def retrieval_table(assistant: Assistant, items: list) -> list[dict]:
    rows = []
    for label, mode, overrides in FUSIONS:
        assistant.retriever.settings = replace(SearchSettings(), **overrides)
        outcomes = [
            Outcome(item, assistant.ask(item.question), assistant.search(item.question, k=10, mode=mode)) for item in items
        ]
        stats = summarize(outcomes, assistant.index.documents)
        rows.append({"fusion": label, **{k: stats[k] for k in ("fact_recall_at_1", "fact_recall_at_5", "fact_mrr")}})
    assistant.retriever.settings = assistant.settings
    return rows


def near_miss_table(assistant: Assistant, items: list[QAItem]) -> dict[str, Any]:
    """Abstention on near-misses (tests/qa/near_miss.jsonl: corpus names, unstated facts) beside the seed set.

    Per split: near-misses refused, off-topic questions refused, answerable questions answered; abstention
    precision and recall with near-misses and off-topic questions as the ones to refuse; the same over a
    range of thresholds (the curve), to show what a different threshold would trade; and the same with
    the measured but unshipped near-miss weights (`ALTERNATIVE`, at its SQuAD-calibrated threshold).
    """
    near = load_qa(NEAR_MISSES)
    found: dict[str, list[tuple[str, bool, Evidence | None]]] = {"tune": [], "heldout": []}
    for item, group in [(i, "near") for i in near] + [(i, "off" if i.unanswerable else "answerable") for i in items]:
        found[item.split].append((group, item.unanswerable, assistant.decide(item.question).evidence))

    def scored(weights: EvidenceWeights) -> dict[str, list[tuple[str, bool, float]]]:
        return {
            split: [(g, must, replace(e, weights=weights).score if e else float("-inf")) for g, must, e in rows]
            for split, rows in found.items()
        }

    def at(rows: list[tuple[str, bool, float]], cut: float) -> dict[str, Any]:
        refused = [(group, must) for group, must, score in rows if score < cut]
        count = {g: sum(1 for group, _, _ in rows if group == g) for g in ("near", "off", "answerable")}
        return {
            "threshold": round(cut, 3),
            "near_misses_refused": f"{sum(g == 'near' for g, _ in refused)}/{count['near']}",
            "off_topic_refused": f"{sum(g == 'off' for g, _ in refused)}/{count['off']}",
            "answerable_answered": f"{count['answerable'] - sum(g == 'answerable' for g, _ in refused)}/{count['answerable']}",
            "abstention_precision": round(sum(must for _, must in refused) / len(refused), 4) if refused else 1.0,
            "abstention_recall": round(sum(must for _, must in refused) / sum(must for _, must, _ in rows), 4),
        }

    shipped, alternative = scored(assistant.settings.evidence), scored(ALTERNATIVE[0])
    table: dict[str, Any] = {split: at(rows, assistant.settings.min_evidence) for split, rows in shipped.items()}
    table["curve"] = {split: [at(rows, 0.6 + 0.05 * step) for step in range(17)] for split, rows in shipped.items()}
    table["alternative"] = {
        "weights": asdict(ALTERNATIVE[0]),
        **{split: at(rows, ALTERNATIVE[1]) for split, rows in alternative.items()},
    }
    return table


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    items = load_qa(QA_FILE)
    tune = [i for i in items if i.split == "tune"]
    heldout = [i for i in items if i.split == "heldout"]
    with tempfile.TemporaryDirectory() as folder:
        update_index(ROOT / "corpus", Path(folder), IndexSettings())
        assistant = Assistant.load(Path(folder))
        fusion_rows = retrieval_table(assistant, [i for i in tune if not i.unanswerable])
        print(f"{'fusion (tune split)':<20} {'R@1':>6} {'R@5':>6} {'MRR':>6}")
        for row in fusion_rows:
            print(f"{row['fusion']:<20} {row['fact_recall_at_1']:>6} {row['fact_recall_at_5']:>6} {row['fact_mrr']:>6}")

        print("\nevidence on the tune split (answerable first):")
        for item in sorted(tune, key=lambda i: i.unanswerable):
            decision = assistant.decide(item.question)
            e = decision.evidence
            print(
                f"  {'OFF ' if item.unanswerable else 'ANS '}{e.score if e else 0:6.3f} cov={e.coverage if e else 0:.2f} "
                f"dense={e.dense if e else 0:.2f} kind={e.kind_match if e else '-'} missing={e.missing_names if e else ()} "
                f"| {item.question}"
            )

        report = {"settings": asdict(assistant.settings), "fusion_tune": fusion_rows}
        for name, split in (("tune", tune), ("heldout", heldout)):
            began = time.perf_counter()
            outcomes = [Outcome(i, assistant.ask(i.question), assistant.search(i.question, k=10)) for i in split]
            report[name] = summarize(outcomes, assistant.index.documents)
            report[name]["seconds_per_question"] = round((time.perf_counter() - began) / max(len(split), 1), 4)
            for outcome in outcomes:
                if not outcome.correct:
                    print(f"  MISS [{name}] {outcome.item.question} -> {outcome.answer.answer[:110]}")
        report["conversations"] = conversation_turns(assistant, CONVERSATIONS)
        report["near_misses"] = near_miss_table(assistant, items)
        print(json.dumps({k: report[k] for k in ("tune", "heldout", "conversations")}, indent=1))
        print(json.dumps({k: v for k, v in report["near_misses"].items() if k != "curve"}, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
