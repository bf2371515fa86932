"""Dense retrieval over sentence vectors, with one vector per chunk in FAISS to find candidates.

Every sentence of a chunk is embedded (with its article's title); a chunk's
FAISS vector is the normalised mean of its sentences'. FAISS finds candidate
chunks by that mean, and a candidate is then scored by its best sentence: a
question usually asks about one sentence, and on the SQuAD tuning half the
best-sentence similarity ranks paragraphs far better than a whole-chunk
embedding (dense alone: recall@1 0.70 against 0.64; README, "Quality levers").
The offsets that map chunks to sentence rows are the chunk table's own
(`ChunkTable.sentence_offsets`), so they are stored once, with the chunks.

Up to `EXACT_SEARCH_LIMIT` chunks the candidates are found by exact search;
above it by an inverted-file index (IVF) holding the means as float16 (half
the bytes to scan, and the candidates are re-scored from the sentence
vectors anyway), whose probes were chosen so that its top 10 agree
with exact search's at least 99 % of the time (benchmarks/scale.py; README,
"Speed at scale").

Sentence vectors are stored as float16 (half the bytes; SQuAD recall unchanged, README "Segments") and
scored in float32. Each segment has its own `VectorIndex`; `SegmentedVectors` searches them all and
merges, skipping deleted chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from assistant.backends.local.tables import mapped

CHUNK_INDEX = "chunks.faiss"
SENTENCE_VECTORS = "sentences.npy"
EXACT_SEARCH_LIMIT = 10_000  # chunks: exact search there takes a tenth of encoding the question, 0.8 ms at 20k
IVF_LISTS_PER_ROOT = 2  # inverted lists per square root of the chunk count
IVF_PROBE_SHARE = 0.1  # share of the lists searched per question,
IVF_MIN_PROBES = 48  # but no fewer lists than this (at 20k chunks, 10 % of the lists found 97.8 % of the top 10)
IVF_TRAINING_PER_LIST = 40  # training vectors per list (faiss's k-means wants at least 39)
STORED_DTYPE = np.float16


def candidate_index(means: np.ndarray) -> faiss.Index:
    """A FAISS index over the chunk means: exact up to `EXACT_SEARCH_LIMIT` vectors, IVF (float16) above."""
    count, dimension = means.shape
    index: faiss.Index
    if count <= EXACT_SEARCH_LIMIT:
        index = faiss.IndexFlatIP(dimension)
    else:
        lists = round(IVF_LISTS_PER_ROOT * math.sqrt(count))
        index = faiss.index_factory(dimension, f"IVF{lists},SQfp16", faiss.METRIC_INNER_PRODUCT)
        rows = np.random.default_rng(0).choice(count, size=min(count, lists * IVF_TRAINING_PER_LIST), replace=False)
        index.train(means[np.sort(rows)])
        _set_probes(index)
    if count:
        index.add(means)
    return index


@contextmanager
def one_thread() -> Iterator[None]:
    """FAISS on one thread: for one question a second thread costs more than it saves (README, "Speed at scale")."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _set_probes(index: faiss.Index) -> None:
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = min(index.nlist, max(IVF_MIN_PROBES, math.ceil(IVF_PROBE_SHARE * index.nlist)))


def chunk_means(sentence_vectors: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One normalised vector per chunk: the mean of rows [offsets[i], offsets[i + 1]) of `sentence_vectors`."""
    chunks = len(offsets) - 1
    if chunks == 0:
        return np.zeros((0, sentence_vectors.shape[1]), dtype=np.float32)
    sums = np.add.reduceat(np.asarray(sentence_vectors, dtype=np.float32), offsets[:-1], axis=0)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.ascontiguousarray(sums / np.maximum(norms, 1e-12), dtype=np.float32)


class VectorIndex:
    """Sentence vectors, chunk i owning rows [offsets[i], offsets[i + 1]); chunk means in FAISS."""

    def __init__(self, index: faiss.Index, sentence_vectors: np.ndarray, offsets: np.ndarray) -> None:
        self._index = index
        self.sentence_vectors = sentence_vectors  # float16
        self.offsets = offsets

    @classmethod
    def build(cls, sentence_vectors: np.ndarray, offsets: np.ndarray) -> VectorIndex:
        """Means are taken from the float16 values stored, so that a chunk's mean is the same however it was made."""
        if len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(sentence_vectors) or np.any(np.diff(offsets) < 1):
            raise ValueError("every chunk needs at least one sentence vector, in order")
        stored = np.ascontiguousarray(sentence_vectors, dtype=STORED_DTYPE)
        index = candidate_index(chunk_means(stored, offsets))
        return cls(index, stored, np.asarray(offsets, dtype=np.int64))

    @property
    def exact(self) -> bool:
        return not isinstance(self._index, faiss.IndexIVF)

    @property
    def dimension(self) -> int:
        return self._index.d

    @property
    def size(self) -> int:
        """Number of chunks."""
        return self._index.ntotal

    def chunk_vectors(self) -> np.ndarray:
        return chunk_means(self.sentence_vectors, self.offsets)

    def sentence_range(self, start: int, stop: int) -> np.ndarray:
        """Sentence vectors of chunks [start, stop), for carrying unchanged chunks into a new generation."""
        return self.sentence_vectors[self.offsets[start] : self.offsets[stop]]

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids of the `k` chunks whose mean vectors are nearest, best first, and those similarities."""
        k = min(k, self.size)
        if k == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        with one_thread():
            scores, ids = self._index.search(query.reshape(1, -1), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def similarities(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Each chunk's score for the query: the similarity of its best sentence."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.empty(0, dtype=np.float32)
        starts, stops = self.offsets[ids], self.offsets[ids + 1]
        counts = stops - starts
        rows = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        scores = self.sentence_vectors[rows].astype(np.float32) @ query.reshape(-1)
        return np.maximum.reduceat(scores, np.cumsum(counts) - counts)

    def sentence_similarities(self, query: np.ndarray, chunk_id: int) -> np.ndarray:
        """The query's similarity to each sentence of one chunk, in order."""
        rows = self.sentence_vectors[self.offsets[chunk_id] : self.offsets[chunk_id + 1]].astype(np.float32)
        similarities: np.ndarray = rows @ query.reshape(-1)
        return similarities

    def save(self, folder: Path) -> None:
        folder.mkdir()
        faiss.write_index(self._index, str(folder / CHUNK_INDEX))
        np.save(folder / SENTENCE_VECTORS, self.sentence_vectors)

    @classmethod
    def load(cls, folder: Path, offsets: np.ndarray) -> VectorIndex:
        """The vectors saved in `folder`; `offsets` are the chunk table's sentence offsets."""
        sentence_vectors = mapped(folder / SENTENCE_VECTORS)
        index = faiss.read_index(str(folder / CHUNK_INDEX))
        _set_probes(index)
        return cls(index, sentence_vectors, np.asarray(offsets, dtype=np.int64))


class SegmentedVectors:
    """The vector indexes of several segments as one: chunk ids run across segments (segment i's chunk c is
    `bases[i] + c`), and deleted chunks are never found."""

    def __init__(self, parts: list[VectorIndex], live: list[np.ndarray | None], bases: list[int], dimension: int) -> None:
        self.parts = parts
        self.live = live
        self.bases = np.asarray(bases, dtype=np.int64)
        self.dimension = dimension
        self._deleted = [0 if mask is None else int(len(mask) - mask.sum()) for mask in live]

    @property
    def exact(self) -> bool:
        return all(part.exact for part in self.parts)

    @property
    def size(self) -> int:
        """Number of live chunks."""
        return sum(part.size - deleted for part, deleted in zip(self.parts, self._deleted, strict=True))

    def _place(self, chunk_id: int) -> tuple[int, int]:
        number = int(np.searchsorted(self.bases, chunk_id, side="right")) - 1
        return number, chunk_id - int(self.bases[number])

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` live chunks whose mean vectors are nearest, best first (ties by id), and those similarities."""
        ids, scores = [], []
        for part, mask, base, deleted in zip(self.parts, self.live, self.bases, self._deleted, strict=True):
            found, similarity = part.search(query, k + deleted)  # deleted chunks may take places in the segment's own top k
            if mask is not None:
                keep = mask[found]
                found, similarity = found[keep], similarity[keep]
            ids.append(found + base)
            scores.append(similarity)
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        every, every_score = np.concatenate(ids), np.concatenate(scores)
        order = np.lexsort((every, -every_score))[:k]
        return every[order], every_score[order]

    def similarities(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Each chunk's score for the query: the similarity of its best sentence."""
        ids = np.asarray(ids, dtype=np.int64)
        result = np.empty(len(ids), dtype=np.float32)
        owners = np.searchsorted(self.bases, ids, side="right") - 1
        for number in np.unique(owners):
            here = owners == number
            result[here] = self.parts[number].similarities(query, ids[here] - self.bases[number])
        return result

    def sentence_similarities(self, query: np.ndarray, chunk_id: int) -> np.ndarray:
        number, local = self._place(chunk_id)
        return self.parts[number].sentence_similarities(query, local)

    def sentence_rows(self, chunk_id: int) -> np.ndarray:
        """The stored (float16) sentence vectors of one chunk."""
        number, local = self._place(chunk_id)
        return self.parts[number].sentence_range(local, local + 1)
