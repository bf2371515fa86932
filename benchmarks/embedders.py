"""The embedding backends side by side: throughput, query latency, agreement, and SQuAD recall.

In one run, for PyTorch (sentence-transformers), ONNX fp32 and ONNX int8:
- throughput on 2,000 SQuAD sentences (as the indexer embeds them: title,
  newline, sentence), best of two passes, and the same through
  sentence-transformers' own `encode` as the reference;
- the time to encode one question (p50 of 200 SQuAD questions);
- the cosine between each backend's vectors and PyTorch's;
- recall on SQuAD: the whole dev set indexed with that backend (embeddings
  cached per backend in benchmarks/cache/), questions of the tuning half
  (which decides the default: at least 1.8x PyTorch's throughput and at most
  0.5 points of hybrid recall@5 lost) and of the held-out half (reported).
Writes benchmarks/results/embedders.json.

    .venv/bin/python benchmarks/embedders.py [--every 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from squad import ROOT, TextCacheEmbedder, squad_index
from tqdm import tqdm

from assistant.embedders import Embedder, embedder_names
from assistant.evaluation import evaluate
from assistant.segment import split_sentences

RESULTS = ROOT / "benchmarks" / "results" / "embedders.json"
SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
MIN_SPEEDUP = 1.8
MAX_RECALL5_LOSS = 0.005


def sample(count: int) -> tuple[list[str], list[str]]:
    """`count` distinct sentences as the indexer embeds them, and 200 questions, spread over the dev set."""
    articles = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    texts, questions = [], []
    for article in articles:
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            texts += [f"{title}\n{context[s:e]}" for s, e in split_sentences(context, 0, len(context))]
            questions += [qa["question"] for qa in paragraph["qas"]]
    texts = list(dict.fromkeys(texts))
    return texts[:: len(texts) // count][:count], questions[:: len(questions) // 200][:200]


def best_of_two(encode: Callable[[list[str]], object], texts: list[str]) -> float:
    times = []
    for _ in range(2):
        began = time.perf_counter()
        encode(texts)
        times.append(time.perf_counter() - began)
    return min(times)


def speed(texts: list[str], questions: list[str], cache: Path) -> tuple[dict, dict[str, np.ndarray]]:
    rows, vectors = {}, {}
    for backend in embedder_names():
        embedder = Embedder(name=backend, cache_dir=cache)
        embedder.encode_documents(texts[:64])  # warm up
        seconds = best_of_two(embedder.encode_documents, texts)
        query_ms = []
        for question in questions:
            began = time.perf_counter()
            embedder.encode_query(question)
            query_ms.append((time.perf_counter() - began) * 1000)
        vectors[backend] = embedder.encode_documents(texts)
        rows[backend] = {"texts_per_s": round(len(texts) / seconds, 1), "query_ms_p50": round(statistics.median(query_ms), 2)}
        if backend == "torch":
            model = embedder._encoder.model
            raw = best_of_two(lambda t: model.encode(t, batch_size=32, normalize_embeddings=True), texts)  # noqa: B023
            rows["torch"]["raw_encode_texts_per_s"] = round(len(texts) / raw, 1)
    for backend, row in rows.items():
        cosines = (vectors[backend] * vectors["torch"]).sum(axis=1)
        row["speedup_vs_torch"] = round(row["texts_per_s"] / rows["torch"]["texts_per_s"], 2)
        row["cosine_to_torch_mean"] = round(float(cosines.mean()), 4)
        row["cosine_to_torch_min"] = round(float(cosines.min()), 4)
        print(backend, json.dumps(row), flush=True)
    return rows, vectors


def recall(backend: str, every: int) -> dict:
    embedder = TextCacheEmbedder(backend)
    with tempfile.TemporaryDirectory() as folder:
        squad = squad_index(Path(folder), embedder)
        assistant = squad.assistant(embedder)
        halves = {}
        for half, titles in (("tuning", squad.tune), ("heldout", squad.heldout)):
            report = evaluate(assistant, squad.asked(titles, every), progress=True)
            halves[half] = {
                "questions": report["questions"],
                "dense": report["retrieval"]["dense"],
                "hybrid": report["retrieval"]["hybrid"],
                "answer_accuracy": report["answers"]["answer_accuracy"],
            }
    print(backend, json.dumps(halves), flush=True)
    return halves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="ask every Nth question of each half")
    every = parser.parse_args().every
    texts, questions = sample(2000)
    with tempfile.TemporaryDirectory() as cache:
        rows, _ = speed(texts, questions, Path(cache))
    for backend in tqdm(embedder_names(), desc="SQuAD per backend"):
        rows[backend]["squad"] = recall(backend, every)
    base = rows["torch"]["squad"]["tuning"]["hybrid"]["recall_at_5"]
    for row in rows.values():
        loss = base - row["squad"]["tuning"]["hybrid"]["recall_at_5"]
        row["tuning_hybrid_recall_at_5_loss"] = round(loss, 4)
        row["meets_default_rule"] = row["speedup_vs_torch"] >= MIN_SPEEDUP and loss <= MAX_RECALL5_LOSS
    report = {"texts": len(texts), "questions_timed": len(questions), "backends": rows}
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({b: {k: v for k, v in r.items() if k != "squad"} for b, r in rows.items()}, indent=1))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
