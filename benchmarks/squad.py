"""SQuAD v1.1 dev as a retrieval and answering benchmark, on the held-out half of its articles.

Each of the 2,067 paragraphs is a document titled by its article. The 48
articles are split with a fixed seed (the same as benchmarks/bm25_variants.py
and levers.py, which tune on the other half); only the held-out half is
reported here. Unanswerable questions: the held-out articles are split again,
one part is removed from the index (an incremental update), and that part's
questions must then be refused, while the rest must still be answered; and,
before that, near-misses (tests/qa/squad_near_miss.jsonl) must be refused.
Embeddings are cached by text (and backend) in benchmarks/cache/. Writes
benchmarks/results/squad.json.

    .venv/bin/python benchmarks/squad.py [--every 5] [--embedder torch]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bm25_variants import SPLIT_SEED, SQUAD
from tqdm import tqdm

from assistant.backends.local import LocalVersion
from assistant.backends.local.store import load_index
from assistant.core import Assistant
from assistant.embedders import Embedder, embedder_names
from assistant.evaluation import Outcome, QAItem, conversation_turns, evaluate, load_qa
from assistant.indexer import update_index
from assistant.question import Question
from assistant.records import Passage
from assistant.settings import IndexSettings

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / "cache"
RESULTS = ROOT / "benchmarks" / "results" / "squad.json"
# Questions naming SQuAD's people, places and things but asking what no paragraph states; asked of the whole
# index (both halves' articles), split by line into tune and held back like the seed near-misses.
_NEAR = load_qa(ROOT / "tests" / "qa" / "squad_near_miss.jsonl")
# Conversations over SQuAD's articles (pronouns, ellipsis, follow-ups asking what no paragraph states),
# every third held back; asked of the whole index.
CONVERSATIONS = ROOT / "tests" / "qa" / "squad_conversations.jsonl"
NEAR_MISSES = ([q for q in _NEAR if q.split == "tune"], [q for q in _NEAR if q.split == "heldout"])


class TextCacheEmbedder(Embedder):
    """The real model, remembering every text it embedded across runs (and every query within one).

    The cache is one file per model and embedder (`cache_file`; SQuAD's by default), made again when
    `fresh`; `embedded` counts the texts this run had to embed."""

    def __init__(
        self,
        backend: str = IndexSettings.embedder,
        model: str = IndexSettings.model,
        cache_file: str | None = None,
        fresh: bool = False,
    ) -> None:
        super().__init__(model, name=backend, cache_dir=CACHE / "models")
        self.path = CACHE / (cache_file or f"squad-texts-{backend}.npz")
        self.cache: dict[str, np.ndarray] = {}
        self.queries: dict[str, np.ndarray] = {}
        self.embedded = 0
        if self.path.exists() and not fresh:
            stored = np.load(self.path)
            self.cache = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    def encode_query(self, text: str) -> np.ndarray:
        if text not in self.queries:
            self.queries[text] = super().encode_query(text)
        return self.queries[text]

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in self.cache))
        if missing:
            self.embedded += len(missing)
            for text, vector in zip(missing, super().encode_documents(missing, progress), strict=True):
                self.cache[hashlib.sha1(text.encode()).hexdigest()] = vector
            CACHE.mkdir(parents=True, exist_ok=True)
            np.savez(self.path, keys=np.array(list(self.cache)), vectors=np.array(list(self.cache.values())))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
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
                QAItem(
                    qa["question"],
                    qa["answers"][0]["text"],
                    (doc_id,),
                    split="heldout",
                    alternatives=tuple(a["text"] for a in qa["answers"][1:]),
                )
                for qa in paragraph["qas"]
            )
    return tune, heldout, questions


@dataclass
class SquadIndex:
    corpus: Path
    index_dir: Path
    tune: list[str]  # article names of the tuning half
    heldout: list[str]
    questions: dict[str, list[QAItem]]  # by article name
    build_seconds: float

    def asked(self, titles: list[str], every: int) -> list[QAItem]:
        return [q for title in titles for q in self.questions[title]][::every]

    def assistant(self, embedder: TextCacheEmbedder) -> Assistant:
        """An assistant on this index that encodes questions with `embedder` (and its memo)."""
        return Assistant.from_version(LocalVersion(load_index(self.index_dir)), embedder, index_dir=self.index_dir)

    def remove(self, titles: list[str], embedder: TextCacheEmbedder) -> None:
        """Delete these articles from the corpus and update the index (an assistant moves on at its next question)."""
        for title in titles:
            shutil.rmtree(self.corpus / title)
        update_index(self.corpus, self.index_dir, embedder=embedder)


def retrieve(assistant: Assistant, items: list[QAItem]) -> list[tuple[QAItem, Question, list[Passage]]]:
    """Each question analysed and its answer passages retrieved once, for comparing answerer settings on them."""
    found = []
    for item in tqdm(items, desc="retrieving", leave=False):
        question = Question.analyse(item.question)
        found.append((item, question, assistant.retriever.search(question, assistant.settings.answer_passages)))
    return found


def squad_index(folder: Path, embedder: TextCacheEmbedder) -> SquadIndex:
    """Every SQuAD paragraph written as an article under `folder` and indexed with `embedder`'s backend."""
    corpus, index_dir = folder / "corpus", folder / "index"
    tune, heldout, questions = write_corpus(corpus)
    began = time.perf_counter()
    update_index(corpus, index_dir, IndexSettings(embedder=embedder.name), embedder=embedder, progress=True)
    return SquadIndex(corpus, index_dir, tune, heldout, questions, time.perf_counter() - began)


def options(about: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=about.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="ask every Nth question of the half")
    parser.add_argument("--embedder", choices=embedder_names(), default=IndexSettings.embedder, help="how the model runs")
    return parser.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    args = options(__doc__)
    every = args.every
    embedder = TextCacheEmbedder(args.embedder)
    with tempfile.TemporaryDirectory() as folder:
        squad = squad_index(Path(folder), embedder)
        heldout = squad.heldout
        assistant = squad.assistant(embedder)
        items = squad.asked(heldout, every)
        report = evaluate(assistant, items, progress=True)
        latencies = []
        for item in items[:200]:
            embedder.queries.clear()  # the latency includes encoding the question
            started = time.perf_counter()
            assistant.ask(item.question)
            latencies.append((time.perf_counter() - started) * 1000)
        conversations = conversation_turns(assistant, CONVERSATIONS)
        near_misses = {
            split: f"{sum(assistant.ask(q.question).abstained for q in questions)}/{len(questions)}"
            for split, questions in (("tune", NEAR_MISSES[0]), ("heldout", NEAR_MISSES[1]))
        }

        removed_titles = heldout[: len(heldout) // 2]
        kept_titles = heldout[len(heldout) // 2 :]
        squad.remove(removed_titles, embedder)
        assistant.refresh()
        removed, kept = squad.asked(removed_titles, every), squad.asked(kept_titles, every)
        refused = sum(assistant.ask(q.question).abstained for q in removed)
        kept_outcomes = [Outcome(q, assistant.ask(q.question)) for q in kept]
    report.update(
        {
            "embedder": embedder.name,
            "articles_heldout": len(heldout),
            "build_seconds_with_cache": round(squad.build_seconds, 1),
            "answer_latency_ms_p50": round(statistics.median(latencies), 1),
            "answer_latency_ms_p95": round(sorted(latencies)[int(0.95 * len(latencies)) - 1], 1),
            "removed_article_questions": len(removed),
            "abstention_recall_on_removed": round(refused / len(removed), 4),
            "kept_article_questions": len(kept),
            "answerable_share_lost": round(sum(o.answer.abstained for o in kept_outcomes) / len(kept), 4),
            "kept_answer_accuracy": round(sum(o.correct for o in kept_outcomes) / len(kept), 4),
            "near_misses_refused": near_misses,
            "conversation_turns_right": conversations,
        }
    )
    print(json.dumps(report, indent=1))
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
