"""Fusion method and dense weight, measured on the SQuAD tuning half.

BM25 and dense candidates (50 each) fused by a min-max weighted sum at
several dense weights and by reciprocal rank fusion; recall of the gold
paragraph. Paragraph embeddings are cached in benchmarks/cache/. Writes
benchmarks/results/fusion.json.

    .venv/bin/python benchmarks/fusion.py [--every 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np
from bm25_variants import ROOT, tuning_half
from tqdm import tqdm

from assistant.dense import VectorIndex
from assistant.embedder import Embedder
from assistant.fusion import reciprocal_rank_fusion, weighted_fusion
from assistant.lexical import BM25Index
from assistant.settings import BM25Params, IndexSettings
from assistant.textnorm import document_terms, query_terms

CACHE = ROOT / "benchmarks" / "cache"
RESULTS = ROOT / "benchmarks" / "results" / "fusion.json"
CANDIDATES = 50
METHODS = [("bm25 alone", None), ("dense alone", None)]
METHODS += [(f"weighted w={w}", w) for w in (0.2, 0.3, 0.4, 0.5, 0.6)]
METHODS += [(f"rrf k={k}", k) for k in (10, 60)]


def cached_vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    key = hashlib.sha256("\x00".join([embedder.model_name, *texts]).encode()).hexdigest()[:16]
    path = CACHE / f"squad-tune-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = embedder.encode_documents(texts, progress=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def rank_of(ranking: list[int], gold: int) -> int | None:
    return ranking.index(gold) + 1 if gold in ranking[:10] else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="ask every Nth question")
    paragraphs, questions = tuning_half(parser.parse_args().every)
    embedder = Embedder(IndexSettings().model)
    vectors = VectorIndex.build(cached_vectors(embedder, paragraphs))
    bm25 = BM25Index.build([document_terms(p) for p in paragraphs], BM25Params())
    ranks: dict[str, list[int | None]] = {label: [] for label, _ in METHODS}
    for question, gold in tqdm(questions, desc="questions"):
        terms = query_terms(question)
        lexical_all = bm25.scores(terms)
        lexical_ids = np.argsort(-lexical_all, kind="stable")[:CANDIDATES]
        query = embedder.encode_query(question)
        dense_ids, _ = vectors.search(query, CANDIDATES)
        pool = np.unique(np.concatenate([lexical_ids, dense_ids]))
        lexical = {int(i): float(lexical_all[i]) for i in pool}
        dense = dict(zip(map(int, pool), map(float, vectors.similarities(query, pool)), strict=True))
        for label, parameter in METHODS:
            if label == "bm25 alone":
                ranking = [int(i) for i in lexical_ids]
            elif label == "dense alone":
                ranking = [int(i) for i in dense_ids]
            elif label.startswith("rrf"):
                ranking = [i for i, _ in reciprocal_rank_fusion([lexical_ids.tolist(), dense_ids.tolist()], int(parameter))]
            else:
                ranking = [i for i, _ in weighted_fusion(lexical, dense, float(parameter))]
            ranks[label].append(rank_of(ranking, gold))
    rows = []
    for label, found in ranks.items():
        n = len(found)
        row = {
            "fusion": label,
            "recall_at_1": round(sum(r == 1 for r in found) / n, 4),
            "recall_at_5": round(sum(r is not None and r <= 5 for r in found) / n, 4),
            "mrr_at_10": round(sum(1 / r for r in found if r) / n, 4),
        }
        rows.append(row)
        print(f"{label:<16} R@1 {row['recall_at_1']:.3f}  R@5 {row['recall_at_5']:.3f}  MRR {row['mrr_at_10']:.3f}")
    RESULTS.write_text(json.dumps({"questions": len(questions), "rows": rows}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
