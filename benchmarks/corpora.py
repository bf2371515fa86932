"""Synthetic corpora of real text for the benchmarks, with cached embeddings.

A corpus of N chunks is made of SQuAD paragraphs and the seed articles'
paragraphs, recombined: article i is titled "Synthetic article i" (front matter) and holds one
paragraph. It is clearly synthetic; the text in it is real. Building such a
corpus at 100k chunks with the real model would take hours, so the bulk
vectors come from a cache: each distinct sentence is embedded once by the
real model (as "Synthetic article\n<sentence>", cached per backend in benchmarks/cache/)
and reused for every article that holds it, whatever its number. What a
benchmark measures itself (an added article, a query, a build ratio) always
goes through the real model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from assistant.embedders import Embedder
from assistant.segment import count_words, split_sentences
from assistant.settings import IndexSettings

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / "cache"
SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"


def _first_sentences(text: str, max_words: int) -> str:
    """The paragraph cut after its last whole sentence within `max_words`: one chunk at the default size."""
    spans = split_sentences(text, 0, len(text))
    end = spans[0][1]
    for _, stop in spans[1:]:
        if count_words(text[:stop]) > max_words:
            break
        end = stop
    return text[:end]


def source_paragraphs(max_words: int = 110) -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "corpus").glob("*.txt"))]
    paragraphs = [p for text in texts for p in text.split("\n\n")]
    if SQUAD.exists():
        for article in json.loads(SQUAD.read_text(encoding="utf-8"))["data"]:
            paragraphs += [p["context"] for p in article["paragraphs"]]
    cut = [_first_sentences(p.strip(), max_words) for p in paragraphs if len(p.split()) >= 20]
    return list(dict.fromkeys(p for p in cut if count_words(p) <= max_words))


def article_text(number: int, paragraphs: list[str]) -> str:
    """Front matter names the article, so its body (all that is chunked and embedded) is one real paragraph."""
    return f"---\ntitle: Synthetic article {number}\n---\n\n{paragraphs[number % len(paragraphs)]}\n"


def write_articles(folder: Path, count: int, paragraphs: list[str]) -> None:
    """`count` synthetic articles, one chunk each at the default chunk size, into a new `folder`."""
    folder.mkdir(parents=True)
    for number in range(count):
        (folder / f"article-{number:06d}.md").write_text(article_text(number, paragraphs), encoding="utf-8")


def source_sentences(paragraphs: list[str]) -> list[str]:
    return list(dict.fromkeys(p[s:e] for p in paragraphs for s, e in split_sentences(p, 0, len(p))))


class CachedEmbedder(Embedder):
    """The real model, except that a title and a known sentence get that sentence's cached vector."""

    def __init__(self, paragraphs: list[str], backend: str = IndexSettings.embedder, cache_dir: Path | None = None) -> None:
        super().__init__(name=backend, cache_dir=cache_dir or CACHE / "models")
        sentences = source_sentences(paragraphs)
        key = hashlib.sha256("\x00".join(sentences).encode()).hexdigest()[:16]
        path = CACHE / f"sentences-{backend}-{key}.npy"
        if path.exists():
            vectors = np.load(path)
        else:
            vectors = super().encode_documents([f"Synthetic article\n{s}" for s in sentences], progress=True)
            CACHE.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
        self.cached = {s: v for s, v in zip(sentences, vectors, strict=True)}
        self.model_calls = 0

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        bodies = [t.split("\n", 1)[-1] for t in texts]  # the title, then the sentence
        missing = [t for t, b in zip(texts, bodies, strict=True) if b not in self.cached]
        fresh = iter(super().encode_documents(missing, progress) if missing else [])
        self.model_calls += len(missing)
        return np.vstack([self.cached[b] if b in self.cached else next(fresh) for b in bodies]).astype(np.float32)
