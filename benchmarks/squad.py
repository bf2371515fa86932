"""SQuAD v1.1 dev as a retrieval and answering benchmark, on the held-out half of its articles.

Each of the 2,067 paragraphs is a document titled by its article. The 48
articles are split with a fixed seed (the same as benchmarks/bm25_variants.py
and levers.py, which tune on the other half); only the held-out half is
reported here. Unanswerable questions: the held-out articles are split again,
one part is removed from the index (an incremental update), and that part's
questions must then be refused, while the rest must still be answered.
Embeddings are cached by text in benchmarks/cache/. Writes
benchmarks/results/squad.json.

    .venv/bin/python benchmarks/squad.py [--every 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from bm25_variants import SPLIT_SEED, SQUAD

from assistant.core import Assistant
from assistant.embedder import Embedder
from assistant.evaluation import Outcome, QAItem, evaluate
from assistant.indexer import update_index
from assistant.settings import IndexSettings

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / "cache" / "squad-texts.npz"
RESULTS = ROOT / "benchmarks" / "results" / "squad.json"


class TextCacheEmbedder(Embedder):
    """The real model, remembering every text it embedded across runs (and every query within one)."""

    def __init__(self) -> None:
        super().__init__()
        self.cache: dict[str, np.ndarray] = {}
        self.queries: dict[str, np.ndarray] = {}
        if CACHE.exists():
            stored = np.load(CACHE)
            self.cache = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    def encode_query(self, text: str) -> np.ndarray:
        if text not in self.queries:
            self.queries[text] = super().encode_query(text)
        return self.queries[text]

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = [t for t, k in zip(texts, keys, strict=True) if k not in self.cache]
        if missing:
            for text, vector in zip(missing, super().encode_documents(missing, progress), strict=True):
                self.cache[hashlib.sha1(text.encode()).hexdigest()] = vector
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            np.savez(CACHE, keys=np.array(list(self.cache)), vectors=np.array(list(self.cache.values())))
        return np.vstack([self.cache[k] for k in keys]).astype(np.float32)


def write_corpus(folder: Path) -> tuple[list[str], list[str], dict[str, list[QAItem]]]:
    """The paragraphs as articles; returns the tuning and held-out article names, and the questions by article."""
    articles = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    titles = sorted(a["title"] for a in articles)
    random.Random(SPLIT_SEED).shuffle(titles)
    tune, heldout = titles[: len(titles) // 2], titles[len(titles) // 2 :]
    questions: dict[str, list[QAItem]] = {}
    for article in articles:
        (folder / article["title"]).mkdir(parents=True)
        for number, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{article['title']}/{number:03d}.md"
            heading = article["title"].replace("_", " ")
            (folder / doc_id).write_text(f"# {heading}\n\n{paragraph['context']}\n", encoding="utf-8")
            questions.setdefault(article["title"], []).extend(
                QAItem(qa["question"], qa["answers"][0]["text"], (doc_id,), split="heldout") for qa in paragraph["qas"]
            )
    return tune, heldout, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="ask every Nth question of the held-out half")
    every = parser.parse_args().every
    embedder = TextCacheEmbedder()
    with tempfile.TemporaryDirectory() as folder:
        corpus, index_dir = Path(folder) / "corpus", Path(folder) / "index"
        _, heldout, questions = write_corpus(corpus)
        began = time.perf_counter()
        update_index(corpus, index_dir, IndexSettings(), embedder=embedder, progress=True)
        build_seconds = time.perf_counter() - began
        assistant = Assistant.load(index_dir)
        items = [q for title in heldout for q in questions[title]][::every]
        report = evaluate(assistant, items, progress=True)
        latencies = []
        for item in items[:200]:
            embedder.queries.clear()  # the latency includes encoding the question
            started = time.perf_counter()
            assistant.ask(item.question)
            latencies.append((time.perf_counter() - started) * 1000)

        removed_titles = heldout[: len(heldout) // 2]
        kept_titles = heldout[len(heldout) // 2 :]
        for title in removed_titles:
            shutil.rmtree(corpus / title)
        update_index(corpus, index_dir, embedder=embedder)
        assistant.refresh()
        removed = [q for title in removed_titles for q in questions[title]][::every]
        kept = [q for title in kept_titles for q in questions[title]][::every]
        refused = sum(assistant.ask(q.question).abstained for q in removed)
        kept_outcomes = [Outcome(q, assistant.ask(q.question)) for q in kept]
    report.update(
        {
            "articles_heldout": len(heldout),
            "build_seconds_with_cache": round(build_seconds, 1),
            "answer_latency_ms_p50": round(statistics.median(latencies), 1),
            "answer_latency_ms_p95": round(sorted(latencies)[int(0.95 * len(latencies)) - 1], 1),
            "removed_article_questions": len(removed),
            "abstention_recall_on_removed": round(refused / len(removed), 4),
            "kept_article_questions": len(kept),
            "answerable_share_lost": round(sum(o.answer.abstained for o in kept_outcomes) / len(kept), 4),
            "kept_answer_accuracy": round(sum(o.correct for o in kept_outcomes) / len(kept), 4),
        }
    )
    print(json.dumps(report, indent=1))
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
