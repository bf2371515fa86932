"""Sentence splitting and chunking time per MB on single-paragraph texts of 40 KB to 5 MB.

Splitting was quadratic in a paragraph's length (issue 15: a 400 KB
one-paragraph file took 71 s, and an upload is split while the writer's lock
is held); this shows that time per MB now stays flat. Each text is the seed
articles' real sentences (corpus/*.txt), repeated and joined by single spaces
with no line breaks, so the whole text is one paragraph. The time is
`chunk_text` with the index's default settings (paragraphs, sentences and
chunks), best of three runs. Writes benchmarks/results/segment_speed.json.

    .venv/bin/python benchmarks/segment_speed.py
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from assistant.segment import chunk_text, split_paragraphs, split_sentences
from assistant.settings import IndexSettings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "segment_speed.json"
SIZES = {"40 KB": 40_000, "400 KB": 400_000, "1 MB": 1_000_000, "5 MB": 5_000_000}
RUNS = 3


def corpus_sentences() -> list[str]:
    """Every sentence of the seed articles that ends in terminal punctuation (headings and bylines left out)."""
    sentences = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for paragraph in split_paragraphs(text):
            sentences += [" ".join(text[s:e].split()) for s, e in split_sentences(text, *paragraph)]
    return [s for s in dict.fromkeys(sentences) if s.endswith((".", "!", "?"))]


def one_paragraph(sentences: list[str], size: int) -> str:
    """The sentences, repeated in order, joined by spaces, up to `size` bytes of UTF-8."""
    parts, length = [], 0
    for sentence in itertools.cycle(sentences):
        if length >= size:
            break
        parts.append(sentence)
        length += len(sentence.encode("utf-8")) + 1
    return " ".join(parts)


def main() -> None:
    settings = IndexSettings()
    sentences = corpus_sentences()
    rows = []
    for label, size in SIZES.items():
        text = one_paragraph(sentences, size)
        megabytes = len(text.encode("utf-8")) / 1e6
        times = []
        for _ in range(RUNS):
            began = time.perf_counter()
            chunks = chunk_text(text, settings.chunk_words, settings.overlap_sentences)
            times.append(time.perf_counter() - began)
        seconds = min(times)
        rows.append(
            {
                "text": label,
                "bytes": len(text.encode("utf-8")),
                "paragraphs": len(split_paragraphs(text)),
                "sentences": len({s for c in chunks for s in c.sentences}),
                "chunks": len(chunks),
                "seconds": round(seconds, 4),
                "seconds_per_mb": round(seconds / megabytes, 4),
            }
        )
        print(f"{label:>7}: {seconds:7.3f} s, {seconds / megabytes:.3f} s per MB ({len(chunks):,} chunks)")
    per_mb = [row["seconds_per_mb"] for row in rows]
    spread = max(per_mb) / min(per_mb)
    print(f"time per MB, largest ÷ smallest: {spread:.2f} (1 is perfectly linear)")
    RESULTS.write_text(json.dumps({"runs": RUNS, "rows": rows, "per_mb_spread": round(spread, 2)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
