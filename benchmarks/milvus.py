"""The milvus backend beside the local one: the same answers, and its speed at 10k (and 100k) chunks.

Quality: every SQuAD dev paragraph indexed into both backends with the same
vectors (squad.py's text cache), and the held-out half's questions (every
Nth) evaluated on each: recall@1/5 and MRR@10 of the gold paragraph per
mode, answer accuracy, verified quotes.

Speed: synthetic corpora of N one-chunk articles (corpora.py, bulk vectors
from its cache), for each backend: the bulk build, adding one article
(embedded by the real model), search p50/p95 (hybrid, the question's vector
computed beforehand) and a whole answer's p50/p95, how much of the exact
dense top 10 each backend's candidate search keeps (compared by passage
text: the corpus repeats its paragraphs), and for Milvus the server's
memory. (The app's own memory is not compared: one process runs both
backends, so what one frees the other seems to save.) The server is
milvus-lite on 127.0.0.1, started here.
Writes benchmarks/results/milvus.json, keeping what this run does not measure
(the quality rows with --skip-quality, the speed rows of other sizes).

    .venv/bin/python benchmarks/milvus.py [--sizes 10000] [--every 5] [--skip-quality]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import faiss
import numpy as np
from corpora import ROOT, SQUAD, CachedEmbedder, source_paragraphs, write_articles
from reindex import NEW_ARTICLE

from assistant.backends import IndexBackend, IndexVersion, SearchRequest
from assistant.backends.local import LocalBackend, LocalVersion
from assistant.backends.local.dense import chunk_means
from assistant.backends.milvus import MilvusBackend
from assistant.core import Assistant
from assistant.embedders import Embedder
from assistant.evaluation import evaluate
from assistant.indexer import update_index
from assistant.question import Question
from assistant.settings import IndexSettings, MilvusSettings

sys.path.insert(0, str(ROOT))
from tests.milvus_server import MilvusServer

RESULTS = ROOT / "benchmarks" / "results" / "milvus.json"
QUERIES = 200


def rss_mb(pid: str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(share * len(ordered)) - 1)], 1)


def backends(server: MilvusServer, folder: Path, tag: str) -> dict[str, tuple[Path, IndexBackend]]:
    """Each backend with its folder: the local index, or the milvus backend's cache (models only)."""
    local, cache = folder / f"index-{tag}", folder / f"cache-{tag}"
    return {
        "local": (local, LocalBackend(local)),
        "milvus": (cache, MilvusBackend(cache, MilvusSettings(uri=server.uri, prefix=f"bench_{tag}"))),
    }


def quality(server: MilvusServer, folder: Path, every: int) -> dict[str, object]:
    from squad import TextCacheEmbedder, write_corpus

    embedder = TextCacheEmbedder()
    corpus = folder / "squad"
    _, heldout, questions = write_corpus(corpus)
    items = [q for title in heldout for q in questions[title]][::every]
    rows: dict[str, object] = {"questions": len(items)}
    for name, (index_dir, backend) in backends(server, folder, "squad").items():
        began = time.perf_counter()
        update_index(corpus, index_dir, IndexSettings(), embedder=embedder, backend=backend)
        built = time.perf_counter() - began
        assistant = Assistant.from_version(backend.open(), embedder)
        report = evaluate(assistant, items, progress=True)
        retrieval = report["retrieval"]
        rows[name] = {
            "build_seconds_cached_vectors": round(built, 1),
            **{
                mode: {k: retrieval[mode][k] for k in ("recall_at_1", "recall_at_5", "mrr_at_10")}
                for mode in ("bm25", "dense", "hybrid")
            },
            "answer_accuracy": report["answers"]["answer_accuracy"],
            "verified_quote_share": report["answers"]["verified_quote_share"],
        }
        print(name, json.dumps(rows[name]), flush=True)
    return rows


def exact_dense(version: LocalVersion, requests: list[SearchRequest], candidates: int) -> list[list[int]]:
    """The dense top 10 as both backends rank it (candidates by chunk mean, then each one's best sentence), with the
    candidates found by exact search: the local backend's own search is IVF above 10k chunks (10,000 + the added article)."""
    vectors = version.vectors
    flat = faiss.IndexFlatIP(vectors.dimension)
    flat.add(chunk_means(vectors.sentence_vectors, vectors.offsets))
    tops = []
    for request in requests:
        query = np.asarray(request.vector, dtype=np.float32).reshape(1, -1)
        _, found = flat.search(query, candidates)
        pool = found[0][found[0] >= 0].tolist()
        scores = vectors.similarities(query.reshape(-1), np.asarray(pool)).tolist()
        tops.append([c for c, _ in sorted(zip(pool, scores, strict=True), key=lambda item: (-item[1], item[0]))[:10]])
    return tops


def passages(version: IndexVersion, chunk_ids: list[int]) -> Counter[str]:
    """The chunks' texts: the synthetic corpus repeats each paragraph, and one copy of a passage is as good as another."""
    chunks = [version.chunk(c) for c in chunk_ids]
    return Counter(version.documents[c.doc_id].text[c.start : c.end] for c in chunks)


def speed(server: MilvusServer, folder: Path, size: int, embedder: CachedEmbedder, paragraphs: list[str]) -> dict[str, object]:
    corpus = folder / f"corpus-{size}"
    write_articles(corpus, size, paragraphs)
    squad = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    questions = [qa["question"] for a in squad for p in a["paragraphs"] for qa in p["qas"]][::37][:QUERIES]
    rows: dict[str, object] = {}
    exact: list[Counter[str]] = []  # the exact dense top 10, from the local backend's vectors (its rows come first)
    for name, (index_dir, backend) in backends(server, folder, str(size)).items():
        began = time.perf_counter()
        base = update_index(corpus, index_dir, IndexSettings(), embedder=embedder, backend=backend)
        build = time.perf_counter() - began
        (corpus / "zz-dien-bien-talks.md").write_text(NEW_ARTICLE, encoding="utf-8")
        added = update_index(corpus, index_dir, embedder=embedder, backend=backend)
        (corpus / "zz-dien-bien-talks.md").unlink()
        assistant = Assistant.from_version(backend.open(), embedder)
        requests = [
            SearchRequest(q.terms, embedder.encode_query(q.dense_text), q.context_terms) for q in map(Question.analyse, questions)
        ]
        version = assistant.index
        searches, answers = [], []
        for request in requests:  # the backend's search alone: the question already analysed and embedded
            started = time.perf_counter()
            version.search(request, 10, "hybrid", assistant.settings)
            searches.append((time.perf_counter() - started) * 1000)
        for text in questions:
            started = time.perf_counter()
            assistant.ask(text)
            answers.append((time.perf_counter() - started) * 1000)
        if isinstance(version, LocalVersion):
            exact = [passages(version, top) for top in exact_dense(version, requests, assistant.settings.candidates)]
        dense = [passages(version, [h.chunk_id for h in version.search(r, 10, "dense", assistant.settings)]) for r in requests]
        # how much of the exact dense top 10 the backend's candidate search (FAISS IVF or flat, HNSW) keeps
        agreement = statistics.mean(sum((a & b).values()) / max(b.total(), 1) for a, b in zip(dense, exact, strict=True))
        rows[name] = {
            "chunks": base.chunks,
            "build_seconds_cached_vectors": round(build, 1),
            "add_one_article_seconds": round(added.seconds, 2),
            "add_phases": added.timings,
            "search_ms_p50": percentile(searches, 0.5),
            "search_ms_p95": percentile(searches, 0.95),
            "answer_ms_p50": percentile(answers, 0.5),
            "answer_ms_p95": percentile(answers, 0.95),
            "dense_top10_agreement_with_exact": round(agreement, 4),
        }
        if name == "milvus" and server.process is not None:
            rows[name]["server_memory_mb"] = round(rss_mb(str(server.process.pid)), 1)  # type: ignore[index]
        print(size, name, json.dumps(rows[name]), flush=True)
    return rows


def save(results: dict[str, object]) -> None:
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10000])
    parser.add_argument("--every", type=int, default=5, help="ask every Nth held-out SQuAD question")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    results: dict[str, object] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        server = MilvusServer(folder / "milvus-data").start()
        try:
            if not args.skip_quality:
                results["squad_heldout"] = {"every": args.every, **quality(server, folder, args.every)}
                save(results)
            if args.sizes:
                paragraphs = source_paragraphs()
                embedder: Embedder = CachedEmbedder(paragraphs)
                speeds = results["speed"] = dict(results.get("speed", {}))  # type: ignore[call-overload]
                for size in args.sizes:  # each size saved once measured; the sizes not asked for keep their rows
                    speeds[str(size)] = speed(server, folder, size, embedder, paragraphs)  # type: ignore[arg-type]
                    save(results)
        finally:
            server.stop()
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
