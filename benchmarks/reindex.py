"""Time to add one article to indexes of 1k, 10k and 100k chunks (see benchmarks/corpora.py).

For each size: build the index once (bulk vectors from the cache), then add
one new article (embedded by the real model) and time the incremental update,
phase by phase. Writes benchmarks/results/reindex.json.

    .venv/bin/python benchmarks/reindex.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from corpora import ROOT, CachedEmbedder, source_paragraphs, write_articles

from assistant.indexer import update_index
from assistant.settings import IndexSettings

RESULTS = ROOT / "benchmarks" / "results" / "reindex.json"
NEW_ARTICLE = (
    "# Dien Bien border talks\n\nDIEN BIEN — The Điện Biên provincial Border Guard Command and Phongsaly province "
    "held talks on May 5. Colonel Bounmy Keola led the Lao delegation. The two sides agreed to hold joint patrols "
    "every quarter and to exchange information on cross-border crime.\n"
)


def measure(size: int, embedder: CachedEmbedder, paragraphs: list[str], work: Path) -> dict:
    corpus, index_dir = work / f"corpus-{size}", work / f"index-{size}"
    write_articles(corpus, size, paragraphs)
    began = time.perf_counter()
    calls_before = embedder.model_calls
    base = update_index(corpus, index_dir, IndexSettings(), embedder=embedder)
    build_seconds = time.perf_counter() - began
    assert embedder.model_calls == calls_before, "the bulk build should only use cached vectors"
    (corpus / "zz-dien-bien-talks.md").write_text(NEW_ARTICLE, encoding="utf-8")
    calls_before = embedder.model_calls
    report = update_index(corpus, index_dir, embedder=embedder)
    row = {
        "chunks": base.chunks,
        "bulk_build_seconds_cached_vectors": round(build_seconds, 2),
        "add_one_article_seconds": round(report.seconds, 3),
        "phases": report.timings,
        "texts_embedded": report.embedded,
        "model_calls": embedder.model_calls - calls_before,
    }
    shutil.rmtree(corpus)
    shutil.rmtree(index_dir)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    sizes = parser.parse_args().sizes
    paragraphs = source_paragraphs()
    embedder = CachedEmbedder(paragraphs)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            row = measure(size, embedder, paragraphs, Path(folder))
            rows.append(row)
            phases = ", ".join(f"{k} {v:.3f}" for k, v in row["phases"].items())
            print(f"{row['chunks']:>7} chunks: add one article {row['add_one_article_seconds']:.3f} s ({phases})", flush=True)
    RESULTS.write_text(json.dumps({"rows": rows}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
