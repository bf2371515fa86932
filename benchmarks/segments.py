"""Segments: adding an article to indexes of 10k, 100k and 1M chunks; queries over 1, 10 and 50 segments.

- add: an index of N synthetic one-chunk articles (benchmarks/corpora.py) is
  built straight through the local backend, in segments of 20k chunks as a
  build writes them, with the cached vectors of the real model; then five
  new articles are added one at a time the way an upload or `assistant add`
  adds them (`update_index(only=...)`, the real model embedding them), and
  one more through a full scan of the corpus folder (10k and 100k only: the
  1M corpus exists as index only). Reported: each add's seconds and phases.
- query: one corpus of 10k chunks indexed as 1, 10 and 50 segments (merges
  held off), the same 200 SQuAD questions asked of each in turn (so that the
  machine's noise falls on all three alike): p50/p95 of retrieval and of the
  full answer, and whether the top 10 passages agree (by text: ties between
  copies of a paragraph may break either way).

Writes benchmarks/results/segments.json.

    .venv/bin/python benchmarks/segments.py [--parts add query] [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
from corpora import ROOT, SQUAD, CachedEmbedder, article_text, source_paragraphs, write_articles
from tqdm import tqdm

from assistant.backends import FreshDocuments, IndexUpdate, PreparedDocument
from assistant.backends.local import LocalBackend, LocalVersion, segments
from assistant.backends.local.store import load_index
from assistant.core import Assistant
from assistant.corpus import extract
from assistant.indexer import BATCH_CHUNKS, _draft
from assistant.indexer import update_index as update
from assistant.records import DocumentRecord, Manifest
from assistant.settings import IndexSettings
from assistant.textnorm import document_terms

RESULTS = ROOT / "benchmarks" / "results" / "segments.json"
ADDS = 5
QUESTIONS = 200
NEW_ARTICLE = (
    "# {place} border talks\n\n{place} — The provincial Border Guard Command and Phongsaly province held talks on May {day}. "
    "Colonel Bounmy Keola led the Lao delegation. The two sides agreed to hold joint patrols every quarter and to "
    "exchange information on cross-border crime.\n"
)
PLACES = ["Dien Bien", "Son La", "Lai Chau", "Nghe An", "Quang Tri", "Kon Tum"]


def synthetic_batches(
    count: int, paragraphs: list[str], embedder: CachedEmbedder, manifest: Manifest, settings: IndexSettings, corpus: Path
):
    """Articles 0..count-1 prepared as the indexer prepares them, their vectors from the cache, a build batch at a time.
    Repeated paragraphs are chunked once (only the title differs between their articles)."""
    drafted: dict[int, tuple] = {}
    batch: list[PreparedDocument] = []
    for number in tqdm(range(count), desc=f"{count} articles", unit="doc", mininterval=5):
        name, text, source = f"article-{number:06d}.md", article_text(number, paragraphs), number % len(paragraphs)
        known = drafted.get(source)
        if known is not None and len(known[0].text) == len(text):  # the same article but for its title's digits
            title = f"Synthetic article {number}"
            sha = hashlib.sha256(text.encode()).hexdigest()
            document = dataclasses.replace(known[0], doc_id=name, path=name, title=title, text=text, sha256=sha, text_sha256=sha)
        else:
            document = extract(name, text.encode())
        if source not in drafted or drafted[source][0].body_start != document.body_start:
            draft = _draft(document, settings)
            bodies = [t.split("\n", 1)[1] for t in draft.sentence_texts]
            drafted[source] = (document, draft.chunks, draft.terms, np.vstack([embedder.cached[b] for b in bodies]))
        _, chunks, terms, vectors = drafted[source]
        title = document_terms(document.title)  # what BM25 sees of a chunk starts with its article's title
        terms = [[*title, *row[len(title) :]] for row in terms]
        chunks = [type(c)(c.chunk_id, document.doc_id, c.start, c.end, c.sentences) for c in chunks]
        file = corpus / document.doc_id  # as a scan of the folder finds it, where the corpus exists as files
        size, mtime = (file.stat().st_size, file.stat().st_mtime_ns) if file.exists() else (len(document.text.encode()), 0)
        manifest.documents[document.doc_id] = DocumentRecord.of(document, size, mtime, chunks=len(chunks))
        manifest.chunk_count += len(chunks)
        batch.append(PreparedDocument(document, chunks, terms, vectors))
        if len(batch) >= BATCH_CHUNKS:  # one chunk per article
            yield batch
            batch = []
    if batch:
        yield batch


def build_directly(index_dir: Path, corpus: Path, count: int, paragraphs: list[str], embedder: CachedEmbedder) -> float:
    settings = IndexSettings()
    manifest = Manifest(settings.model, embedder.dimension, settings, {}, 0, str(corpus.resolve()))
    began = time.perf_counter()
    batches = synthetic_batches(count, paragraphs, embedder, manifest, settings, corpus)
    ids = [f"article-{n:06d}.md" for n in range(count)]
    backend = LocalBackend(index_dir)
    with backend.writing(60):
        backend.commit(IndexUpdate(manifest, FreshDocuments(ids, batches)), None)
    return time.perf_counter() - began


def measure_adds(size: int, paragraphs: list[str], embedder: CachedEmbedder, work: Path) -> dict:
    corpus, index_dir = work / f"corpus-{size}", work / f"index-{size}"
    scan_too = size <= 100_000
    if scan_too:
        write_articles(corpus, size, paragraphs)
    else:
        corpus.mkdir()
    build_seconds = build_directly(index_dir, corpus, size, paragraphs, embedder)
    embedder.encode_documents(["warm-up: the model loads before the first add, as in a running app"])
    rows = []
    for number in range(ADDS + int(scan_too)):
        name = f"zz-talks-{number}.md"
        (corpus / name).write_text(NEW_ARTICLE.format(place=PLACES[number], day=number + 1), encoding="utf-8")
        targeted = number < ADDS
        report = update(corpus, index_dir, embedder=embedder, only=[name] if targeted else None)
        assert report.new == 1 and report.removed == 0, report.summary()
        rows.append(
            {
                "how": "only the new file" if targeted else "whole folder scanned",
                "seconds": round(report.seconds, 3),
                "phases": report.timings,
                "embedded": report.embedded,
            }
        )
        print(f"{size:>8} chunks, add ({rows[-1]['how']}): {report.seconds:.3f} s {report.timings}", flush=True)
    index = load_index(index_dir)
    targeted_seconds = [r["seconds"] for r in rows if r["how"] == "only the new file"]
    return {
        "chunks": index.manifest.chunk_count,
        "base_build_seconds_cached_vectors": round(build_seconds, 1),
        "segments_after": len(index.segments),
        "add_one_p50_seconds": round(statistics.median(targeted_seconds), 3),
        "add_one_max_seconds": max(targeted_seconds),
        "adds": rows,
    }


def percentile(values: list[float], share: float) -> float:
    return round(float(np.percentile(values, share * 100)), 2)


def squad_questions(count: int) -> list[str]:
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    questions = [qa["question"] for article in data for p in article["paragraphs"] for qa in p["qas"]]
    return questions[:: max(1, len(questions) // count)][:count]


def measure_queries(paragraphs: list[str], embedder: CachedEmbedder, work: Path, size: int = 10_000) -> dict:
    pool = work / "query-pool"
    write_articles(pool, size, paragraphs)
    names = sorted(p.name for p in pool.iterdir())
    assistants = {}
    with mock.patch.object(segments, "MERGE_FACTOR", 10**9):  # held off: the count of segments is the variable
        for count in (1, 10, 50):
            corpus, index_dir = work / f"query-corpus-{count}", work / f"query-index-{count}"
            corpus.mkdir()
            step = -(-size // count)
            for first in range(0, size, step):
                share = names[first : first + step]
                for name in share:
                    shutil.copy(pool / name, corpus / name)
                update(corpus, index_dir, embedder=embedder, only=share if first else None)
            version = LocalVersion(load_index(index_dir))
            assert len(version.stored.segments) == count
            assistants[count] = Assistant.from_version(version, embedder, index_dir=index_dir)
    questions = squad_questions(QUESTIONS)
    search: dict[int, list[float]] = {count: [] for count in assistants}
    answer: dict[int, list[float]] = {count: [] for count in assistants}
    agree = {count: 0 for count in assistants}
    for number, question in enumerate(tqdm(questions, desc="questions")):
        order = list(assistants)[number % 3 :] + list(assistants)[: number % 3]
        tops = {}
        for count in order:
            began = time.perf_counter()
            passages = assistants[count].search(question, k=10)
            search[count].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            assistants[count].ask(question)
            answer[count].append((time.perf_counter() - began) * 1000)
            # By passage text: the synthetic corpus repeats each paragraph under several titles, and tied copies may
            # come in either order.
            tops[count] = [p.document.text[p.chunk.start : p.chunk.end] for p in passages]
        for count in assistants:
            agree[count] += tops[count] == tops[1]
    return {
        "chunks": size,
        "questions": len(questions),
        "rows": [
            {
                "segments": count,
                "retrieval_ms_p50": percentile(search[count], 0.5),
                "retrieval_ms_p95": percentile(search[count], 0.95),
                "answer_ms_p50": percentile(answer[count], 0.5),
                "answer_ms_p95": percentile(answer[count], 0.95),
                "top10_same_as_one_segment": round(agree[count] / len(questions), 3),
            }
            for count in assistants
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=["add", "query"], default=["add", "query"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    paragraphs = source_paragraphs()
    embedder = CachedEmbedder(paragraphs)
    report: dict = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if "add" in args.parts:
            report["add"] = [measure_adds(size, paragraphs, embedder, work) for size in args.sizes]
        if "query" in args.parts:
            report["query"] = measure_queries(paragraphs, embedder, work)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
