"""Dense retrieval: inner product over normalised vectors in FAISS."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class VectorIndex:
    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> VectorIndex:
        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(vectors)
        return cls(index)

    @property
    def dimension(self) -> int:
        return self._index.d

    @property
    def size(self) -> int:
        return self._index.ntotal

    def vectors(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Stored vectors of `ids` (all of them when None)."""
        if ids is None:
            return self.vector_range(0, self.size)
        if len(ids) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def vector_range(self, start: int, stop: int) -> np.ndarray:
        """Vectors of chunks [start, stop), for carrying unchanged chunks into a new generation."""
        if stop <= start:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_n(start, stop - start)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and cosine similarities of the `k` nearest chunks, best first."""
        k = min(k, self.size)
        if k == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scores, ids = self._index.search(query.reshape(1, -1), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def similarities(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to the chunks `ids` (for fusing candidates FAISS did not return)."""
        return self.vectors(ids) @ query.reshape(-1)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        return cls(faiss.read_index(str(path)))
