"""Speed at scale: build, query, cold start, memory and disk at 1k, 10k and 100k chunks; FAISS to 1M.

Corpora are synthetic articles of real text (benchmarks/corpora.py: SQuAD and
seed paragraphs recombined, one chunk each); their bulk sentence vectors come
from the cache, and everything else is the real pipeline. In one run:

- build ratio: a 1k-chunk corpus indexed from scratch with the real model,
  against the model alone embedding the same texts (best of two each); at
  every size, the build's seconds outside the model, with cached vectors;
- queries: p50/p95 of retrieval alone (top 10) and of the full answer for
  200 SQuAD questions, with the question encoded by the real model, beside
  the time the model takes to encode a question;
- cold start and memory, in a fresh process per size: process start to the
  first answer, the model's load apart; peak memory over the index's own
  bytes (vectors + BM25 arrays + chunk text); the index's size on disk;
- FAISS alone, 10k to 1M chunk vectors (each a jittered mean of some of
  one real paragraph's cached sentence vectors): exact search against the
  IVF index chosen above `EXACT_SEARCH_LIMIT`, and the IVF's recall@10
  against exact search.

Writes benchmarks/results/scale.json.

    .venv/bin/python benchmarks/scale.py [--sizes 1000 10000 100000] [--vectors 100000 300000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
from corpora import ROOT, SQUAD, CachedEmbedder, source_paragraphs, write_articles
from tqdm import tqdm

from assistant.backends.local import dense
from assistant.embedders import Embedder, model_cache
from assistant.indexer import update_index
from assistant.segment import split_sentences
from assistant.settings import IndexSettings

RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
QUESTIONS = 200
PARTS = ["ratio", "sizes", "faiss"]


def peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def squad_questions(count: int) -> list[str]:
    articles = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    questions = [qa["question"] for a in articles for p in a["paragraphs"] for qa in p["qas"]]
    return questions[:: len(questions) // count][:count]


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class TimedEmbedder(Embedder):
    """The real model, recording what it embedded and how long that took."""

    def __init__(self, backend: str, cache_dir: Path) -> None:
        super().__init__(name=backend, cache_dir=cache_dir)
        self.texts: list[str] = []
        self.seconds = 0.0

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        began = time.perf_counter()
        vectors = super().encode_documents(texts, progress)
        self.seconds += time.perf_counter() - began
        self.texts += texts
        return vectors


def build_ratio(paragraphs: list[str], backend: str, work: Path) -> dict:
    """A 1k-chunk build with the real model against the model alone on the same texts, best of two each."""
    corpus = work / "ratio-corpus"
    write_articles(corpus, 1000, paragraphs[::-1])  # other paragraphs than the cached bulk's first ones
    builds, raws = [], []
    for attempt in range(2):
        embedder = TimedEmbedder(backend, work / "models")
        began = time.perf_counter()
        report = update_index(corpus, work / f"ratio-index-{attempt}", IndexSettings(embedder=backend), embedder=embedder)
        builds.append((time.perf_counter() - began, embedder.seconds, report))
        began = time.perf_counter()
        embedder.encode_documents(list(embedder.texts))
        raws.append(time.perf_counter() - began)
    build, inside_model, report = min(builds, key=lambda b: b[0])
    raw = min(raws)
    return {
        "chunks": report.chunks,
        "texts_embedded": report.embedded,
        "build_seconds": round(build, 2),
        "raw_encode_seconds": round(raw, 2),
        "build_over_raw_encode": round(build / raw, 3),
        "seconds_outside_model": round(build - inside_model, 2),
        "chunks_per_second": round(report.chunks / build, 1),
    }


def serve(index_dir: Path, questions: list[str]) -> None:
    """Worker: a fresh process's cold start, query latencies and peak memory, printed as JSON."""
    started = float(os.environ["SCALE_SPAWNED_AT"])
    from assistant.backends.local.store import current_generation, read_manifest
    from assistant.core import Assistant

    imported = time.time()
    settings = read_manifest(current_generation(index_dir)).settings
    embedder = Embedder.for_index(settings, index_dir)
    model_loaded = time.time()
    base_rss = peak_rss()
    assistant = Assistant.load(index_dir)
    index_loaded = time.time()
    assistant.ask(questions[0])
    answered = time.time()
    encode, search, answer = [], [], []
    for question in questions:
        for times, call in ((encode, embedder.encode_query), (search, assistant.search), (answer, assistant.ask)):
            began = time.perf_counter()
            call(question)
            times.append((time.perf_counter() - began) * 1000)
    encode_p50 = statistics.median(encode)
    row = {
        "cold_start_seconds": round(answered - started, 2),
        "of_which_model_load_seconds": round(model_loaded - imported, 2),
        "cold_start_without_model_load_seconds": round(answered - started - (model_loaded - imported), 2),
        "process_and_imports_seconds": round(imported - started, 2),
        "index_load_seconds": round(index_loaded - model_loaded, 2),
        "query_encode_ms_p50": round(encode_p50, 2),
        "retrieval_ms_p50": percentile(search, 0.5),
        "retrieval_ms_p95": percentile(search, 0.95),
        "answer_ms_p50": percentile(answer, 0.5),
        "answer_ms_p95": percentile(answer, 0.95),
        "answer_p50_over_query_encode": round(statistics.median(answer) / encode_p50, 2),
        "exact_search": assistant.index.vectors.exact,
        "rss_before_index_bytes": base_rss,
        "peak_rss_bytes": peak_rss(),
    }
    print(json.dumps(row))


def spawn(*args: str) -> dict:
    env = {**os.environ, "SCALE_SPAWNED_AT": repr(time.time())}
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def build_worker(corpus: Path, index_dir: Path, backend: str) -> None:
    """Worker: a full build with cached bulk vectors, its phases and its peak memory."""
    embedder = CachedEmbedder(source_paragraphs(), backend=backend, cache_dir=model_cache(index_dir))
    base_rss = peak_rss()
    began = time.perf_counter()
    report = update_index(corpus, index_dir, IndexSettings(embedder=backend), embedder=embedder)
    seconds = time.perf_counter() - began
    row = {
        "chunks": report.chunks,
        "build_seconds_cached_vectors": round(seconds, 2),
        "phases": report.timings,
        "rss_before_build_bytes": base_rss,
        "peak_rss_bytes": peak_rss(),
    }
    print(json.dumps(row))


def measure_size(size: int, backend: str, paragraphs: list[str], questions: Path, work: Path) -> dict:
    corpus, index_dir = work / f"corpus-{size}", work / f"index-{size}"
    write_articles(corpus, size, paragraphs)
    built = spawn("--build-worker", str(corpus), str(index_dir), backend)
    served = spawn("--serve-worker", str(index_dir), str(questions))
    segments = list((index_dir / "segments").glob("seg-*"))
    data = {name: sum(folder_bytes(s / name) for s in segments) for name in ("vectors", "terms", "chunks", "documents")}
    data["texts"] = folder_bytes(index_dir / "texts")
    own = data["vectors"] + data["terms"] + data["texts"]  # sentence and chunk vectors, BM25 postings, texts
    row = {
        "chunks": built["chunks"],
        "build": built,
        "query": served,
        "disk_bytes": {**data, "total": sum(data.values())},
        "index_own_bytes": own,
        "serve_peak_over_own_bytes": round((served["peak_rss_bytes"] - served["rss_before_index_bytes"]) / own, 2),
        "build_peak_over_own_bytes": round((built["peak_rss_bytes"] - built["rss_before_build_bytes"]) / own, 2),
    }
    shutil.rmtree(corpus)
    shutil.rmtree(index_dir)
    return row


def chunk_vectors(paragraph_vectors: list[np.ndarray], count: int) -> np.ndarray:
    """`count` distinct chunk-like vectors, each about one real paragraph.

    A vector is the normalised mean of two to five of one paragraph's
    sentence vectors, each jittered a little: many articles on the same
    stories, told differently, as in a growing news corpus.
    """
    rng = np.random.default_rng(1)
    dimension = paragraph_vectors[0].shape[1]
    out = np.empty((count, dimension), dtype=np.float32)
    for row, paragraph in enumerate(rng.integers(0, len(paragraph_vectors), size=count)):
        sentences = paragraph_vectors[paragraph]
        picked = sentences[rng.choice(len(sentences), size=min(len(sentences), rng.integers(2, 6)), replace=False)]
        mean = (picked + 0.02 * rng.normal(size=picked.shape)).sum(axis=0)
        out[row] = mean / np.linalg.norm(mean)
    return out


def timed_searches(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[list[float], list[np.ndarray]]:
    """Milliseconds and ids of each question's search, run as VectorIndex.search runs one."""
    times, found = [], []
    with dense.one_thread():
        for query in queries:
            began = time.perf_counter()
            found.append(index.search(query.reshape(1, -1), k)[1][0])
            times.append((time.perf_counter() - began) * 1000)
    return times, found


def faiss_row(vectors: np.ndarray, queries: np.ndarray, k: int = 50) -> dict:
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    began = time.perf_counter()
    previous_limit, dense.EXACT_SEARCH_LIMIT = dense.EXACT_SEARCH_LIMIT, 0
    try:
        ivf = dense.candidate_index(vectors)
    finally:
        dense.EXACT_SEARCH_LIMIT = previous_limit
    ivf_build = time.perf_counter() - began
    row: dict = {"vectors": len(vectors), "ivf_lists": ivf.nlist, "ivf_build_seconds": round(ivf_build, 2)}
    exact_ms, exact_top = timed_searches(flat, queries, k)
    row["exact_ms_p50"] = percentile(exact_ms, 0.5)
    shipped = ivf.nprobe
    for probes in sorted({max(1, ivf.nlist // 50), max(1, ivf.nlist // 20), shipped, ivf.nlist // 5}):
        ivf.nprobe = probes
        ms, found = timed_searches(ivf, queries, k)
        overlap = [len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, exact_top, strict=True)]
        label = "shipped" if probes == shipped else f"probes_{probes}"
        row[label] = {"probes": probes, "ms_p50": percentile(ms, 0.5), "recall_at_10": round(float(np.mean(overlap)), 4)}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--vectors", type=int, nargs="*", default=[10000, 20000, 100000, 300000, 1000000])
    parser.add_argument("--embedder", default=IndexSettings.embedder)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="measure these; keep the rest from the last run")
    parser.add_argument("--build-worker", nargs=3, metavar=("CORPUS", "INDEX", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-worker", nargs=2, metavar=("INDEX", "QUESTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_worker:
        corpus, index_dir, backend = args.build_worker
        return build_worker(Path(corpus), Path(index_dir), backend)
    if args.serve_worker:
        index_dir, questions = args.serve_worker
        return serve(Path(index_dir), json.loads(Path(questions).read_text(encoding="utf-8")))

    paragraphs = source_paragraphs()
    questions = squad_questions(QUESTIONS)
    report: dict = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    report.update({"backend": args.embedder, "exact_search_limit": dense.EXACT_SEARCH_LIMIT})
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        os.environ["ASSISTANT_MODEL_CACHE"] = str(work / "models")
        Embedder(name=args.embedder)  # exported once, here: the workers never load torch
        (work / "questions.json").write_text(json.dumps(questions), encoding="utf-8")
        if "ratio" in args.parts:
            report["build_ratio"] = build_ratio(paragraphs, args.embedder, work)
            print(json.dumps(report["build_ratio"]), flush=True)
        if "sizes" in args.parts:
            report["sizes"] = []
            for size in args.sizes:
                report["sizes"].append(measure_size(size, args.embedder, paragraphs, work / "questions.json", work))
                print(json.dumps(report["sizes"][-1]), flush=True)
        if "faiss" in args.parts:
            report["faiss"] = []
            embedder = CachedEmbedder(paragraphs, backend=args.embedder, cache_dir=work / "models")
            by_paragraph = [[p[a:b] for a, b in split_sentences(p, 0, len(p))] for p in paragraphs]
            sentences = [np.vstack([embedder.cached[t] for t in texts]) for texts in by_paragraph if len(texts) > 1]
            queries = np.vstack([embedder.encode_query(q) for q in questions])
            for count in tqdm(args.vectors, desc="FAISS sizes"):
                report["faiss"].append(faiss_row(chunk_vectors(sentences, count), queries))
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
