"""Quality levers measured on the SQuAD tuning half: fusion, dense weight, and the abstention threshold.

The index holds all 2,067 paragraphs (as benchmarks/squad.py builds it, same
embedding cache); only questions of the tuning half of the articles are
asked. Abstention is calibrated as squad.py measures it, on tuning articles
only: half of them are removed from the index, and the evidence of their
questions (which must be refused) is set against the evidence of the kept
ones (which must be answered). Writes benchmarks/results/levers.json.

    .venv/bin/python benchmarks/levers.py [--every 5] [--embedder torch]
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from squad import ROOT, TextCacheEmbedder, options, retrieve, squad_index
from tqdm import tqdm

from assistant.answerers.extractive import Evidence, answer_question
from assistant.core import Assistant
from assistant.evaluation import QAItem, contains_fact, document_ranking, retrieval_metrics
from assistant.settings import ChoiceWeights, EvidenceWeights, SearchSettings

RESULTS = ROOT / "benchmarks" / "results" / "levers.json"
FUSIONS = [("bm25 alone", "bm25", {}), ("dense alone", "dense", {})]
FUSIONS += [(f"weighted w={w}", "hybrid", {"dense_weight": w}) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
FUSIONS += [(f"rrf k={k}", "hybrid", {"fusion": "rrf", "rrf_k": k}) for k in (10, 60)]
WEIGHTINGS = [
    EvidenceWeights(dense=dense, wrong_kind=kind, missing_name=name, unknown_name=unknown)
    for dense in (0.5, 0.75, 1.0)
    for kind in (0.1, 0.25)
    for name in (0.1, 0.25, 0.5)
    for unknown in (0.0, 0.5, 1.0)
]
# Near-miss levers, beside the shipped weights: no span of the asked kind, and topic words no article uses.
WEIGHTINGS += [
    replace(EvidenceWeights(), unstated_kind=kind, unknown_word=word)
    for kind in (0.0, 0.25, 0.5, 1.0)
    for word in (0.0, 0.25, 0.5)
    if (kind, word) != (0.0, 0.0)
]
# The span model's doubt that the best sentence holds the answer (its confidence is overrated on the tuning
# half's articles, which it was trained on, so a weight chosen here is checked on the held-back sets).
WEIGHTINGS += [replace(EvidenceWeights(), unsure_span=unsure) for unsure in (0.1, 0.25, 0.5, 0.75)]
CHOICES = [
    ChoiceWeights(similarity=s, passage=p, kind=k)
    for s in (0.0, 1.0, 2.0, 3.0)
    for p in (0.15, 1.0, 1.5, 2.0, 3.0)
    for k in (0.2, 0.4)
]
LOSS_BUDGET = 0.05  # share of answerable questions an abstention threshold may lose


def fusion_table(assistant: Assistant, items: list) -> list[dict]:
    rows = []
    for label, mode, overrides in FUSIONS:
        assistant.retriever.settings = replace(assistant.settings, **overrides)
        rankings = [
            (document_ranking(assistant.search(item.question, k=50, mode=mode)), set(item.doc_ids))
            for item in tqdm(items, desc=label, leave=False)
        ]
        rows.append({"fusion": label, **retrieval_metrics(rankings)})
        print(f"{label:<16} " + "  ".join(f"{k} {v:.3f}" for k, v in rows[-1].items() if k != "fusion"), flush=True)
    assistant.retriever.settings = assistant.settings
    return rows


def choice_table(assistant: Assistant, items: list[QAItem]) -> list[dict]:
    """For each weighting of sentence choice: how often the first source is the gold paragraph, the answer
    holds the gold span, and an answerable question is refused. Passages are retrieved once per question."""
    settings = assistant.settings
    retrieved = retrieve(assistant, items)
    stats = assistant.index.stats
    rows = []
    for choice in CHOICES:
        first_gold = holds = refused = 0
        for item, question, passages in retrieved:
            answer = answer_question(
                question, passages, stats, settings.min_evidence, settings.answer_max_words, settings.evidence, choice
            ).answer
            first_gold += bool(answer.sources) and answer.sources[0].doc_id in item.doc_ids
            holds += not answer.abstained and item.answer is not None and contains_fact(answer.answer, item.answer)
            refused += answer.abstained
        n = len(retrieved)
        row = {
            "choice": asdict(choice),
            "default": choice == settings.choice,
            "first_source_gold": round(first_gold / n, 4),
            "answer_accuracy": round(holds / n, 4),
            "refused": round(refused / n, 4),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def calibration(kept: list[float], removed: list[float]) -> dict:
    """The threshold that refuses most removed-article questions while losing at most LOSS_BUDGET of the kept."""
    best = {"threshold": None, "abstention_recall": 0.0, "answerable_lost": 0.0}
    for threshold in sorted(set(kept) | set(removed)):
        lost = sum(score < threshold for score in kept) / len(kept)
        if lost > LOSS_BUDGET:
            break
        best = {
            "threshold": round(threshold, 4),
            "abstention_recall": round(sum(score < threshold for score in removed) / len(removed), 4),
            "answerable_lost": round(lost, 4),
        }
    return best


def abstention_table(kept: list[Evidence | None], removed: list[Evidence | None]) -> list[dict]:
    """For each weighting of the evidence: the current threshold's effect, and the best threshold within budget."""

    def scores(evidence: list[Evidence | None], weights: EvidenceWeights) -> list[float]:
        return [replace(e, weights=weights).score if e else float("-inf") for e in evidence]

    current = SearchSettings()
    rows = []
    for weights in WEIGHTINGS:
        kept_scores, removed_scores = scores(kept, weights), scores(removed, weights)
        row = {
            "weights": asdict(weights),
            "kept_questions": len(kept),
            "removed_questions": len(removed),
            "default": weights == current.evidence,
            "at_default_threshold": {
                "threshold": current.min_evidence,
                "abstention_recall": round(sum(s < current.min_evidence for s in removed_scores) / len(removed), 4),
                "answerable_lost": round(sum(s < current.min_evidence for s in kept_scores) / len(kept), 4),
            },
            f"best_within_{LOSS_BUDGET:.0%}_loss": calibration(kept_scores, removed_scores),
        }
        rows.append(row)
        print(json.dumps(row))
    return rows


def main() -> None:
    args = options(__doc__)
    every = args.every
    embedder = TextCacheEmbedder(args.embedder)
    with tempfile.TemporaryDirectory() as folder:
        squad = squad_index(Path(folder), embedder)
        tune = squad.tune
        assistant = squad.assistant(embedder)
        items = squad.asked(tune, every)
        rows = fusion_table(assistant, items)
        choices = choice_table(assistant, items)

        removed_titles, kept_titles = tune[: len(tune) // 2], tune[len(tune) // 2 :]
        squad.remove(removed_titles, embedder)
        assistant.refresh()

        def evidence(titles: list[str]) -> list[Evidence | None]:
            asked = squad.asked(titles, every)
            return [assistant.decide(q.question).evidence for q in tqdm(asked, desc="evidence", leave=False)]

        kept, removed = evidence(kept_titles), evidence(removed_titles)
    report = {"questions": len(items), "fusion": rows, "choice": choices, "abstention": abstention_table(kept, removed)}
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
