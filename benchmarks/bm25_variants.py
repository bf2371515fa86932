"""BM25 variant and parameters, measured on the SQuAD tuning half (BM25 alone, no embeddings).

Each SQuAD paragraph is a document titled by its article; the 48 articles are
split with a fixed seed and only the tuning half is used here. Writes
benchmarks/results/bm25_variants.json.

    .venv/bin/python benchmarks/bm25_variants.py [--every 5]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from assistant.backends.local.lexical import BM25Index
from assistant.settings import BM25Params
from assistant.textnorm import document_terms, query_terms

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
RESULTS = ROOT / "benchmarks" / "results" / "bm25_variants.json"
SPLIT_SEED = 13
GRID = [(method, k1, b) for method in ("okapi", "bm25+") for k1, b in ((1.2, 0.75), (1.5, 0.75), (0.9, 0.4), (1.2, 0.5))]


def tuning_half(every: int) -> tuple[list[str], list[tuple[str, int]]]:
    articles = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    titles = sorted(a["title"] for a in articles)
    random.Random(SPLIT_SEED).shuffle(titles)
    tune = set(titles[: len(titles) // 2])
    paragraphs: list[str] = []
    questions: list[tuple[str, int]] = []
    for article in articles:
        if article["title"] not in tune:
            continue
        for paragraph in article["paragraphs"]:
            paragraphs.append(article["title"].replace("_", " ") + "\n" + paragraph["context"])
            questions += [(qa["question"], len(paragraphs) - 1) for qa in paragraph["qas"]]
    return paragraphs, questions[::every]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="ask every Nth question")
    every = parser.parse_args().every
    paragraphs, questions = tuning_half(every)
    terms = [document_terms(p) for p in paragraphs]
    query = [query_terms(q) for q, _ in questions]
    rows = []
    for method, k1, b in GRID:
        index = BM25Index.build(terms, BM25Params(method=method, k1=k1, b=b))
        ranks = []
        for q_terms, (_, gold) in zip(query, questions, strict=True):
            top = np.argsort(-index.scores(q_terms), kind="stable")[:10]
            hit = np.flatnonzero(top == gold)
            ranks.append(int(hit[0]) + 1 if len(hit) else None)
        n = len(ranks)
        row = {
            "method": method,
            "k1": k1,
            "b": b,
            "recall_at_1": round(sum(r == 1 for r in ranks) / n, 4),
            "recall_at_5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
            "mrr_at_10": round(sum(1 / r for r in ranks if r) / n, 4),
        }
        rows.append(row)
        scores = f"R@1 {row['recall_at_1']:.3f}  R@5 {row['recall_at_5']:.3f}  MRR {row['mrr_at_10']:.3f}"
        print(f"{method:6} k1={k1:<4} b={b:<5} {scores}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {"paragraphs": len(paragraphs), "questions": len(questions), "split_seed": SPLIT_SEED, "rows": rows}
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"{len(paragraphs)} paragraphs, {len(questions)} questions; wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
