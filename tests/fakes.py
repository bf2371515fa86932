"""Stand-ins for the fast test tier: never shipped, never a default.

`HashingEncoder` embeds a text as its hashed, stemmed words: deterministic,
instant, and close enough to a real model for tests of plumbing (texts that
share words get similar vectors), so pure and unit tests run without loading
the model. Registered as the "test-hashing" embedder by conftest.py.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from assistant.embedders import TextKind
from assistant.textnorm import query_terms

HASHING_EMBEDDER = "test-hashing"
DIMENSION = 64


class HashingEncoder:
    dimension = DIMENSION

    def encode(self, texts: list[str], kind: TextKind) -> np.ndarray:
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, 0] = 0.05  # never the zero vector, even for a text with no words
            for term in query_terms(text):
                code = zlib.crc32(term.encode("utf-8"))
                vectors[row, 1 + code % (DIMENSION - 1)] += 1.0 if code & (1 << 31) == 0 else -1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def open_hashing(model: str, cache_dir: Path) -> HashingEncoder:
    return HashingEncoder()
