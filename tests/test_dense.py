"""Sentence vectors: chunk means for FAISS, best-sentence scores for candidates."""

import numpy as np
import pytest

from assistant.backends.local import dense
from assistant.backends.local.dense import SegmentedVectors, VectorIndex, chunk_means


def unit(*values):
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


SENTENCES = np.vstack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1), unit(1, 1, 0), unit(0, 1, 1), unit(1, 0, 1)])
OFFSETS = np.array([0, 2, 3, 6])  # chunk 0: sentences 0-1, chunk 1: sentence 2, chunk 2: sentences 3-5


def test_a_chunk_vector_is_the_normalised_mean_of_its_sentences():
    means = chunk_means(SENTENCES, OFFSETS)
    np.testing.assert_allclose(means[0], unit(1, 1, 0), atol=1e-6)
    np.testing.assert_allclose(means[1], unit(0, 0, 1), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1, atol=1e-6)


def test_a_chunk_scores_as_its_best_sentence_in_any_order_of_ids():
    index = VectorIndex.build(SENTENCES, OFFSETS)
    query = unit(0, 0, 1)
    expected = {0: 0.0, 1: 1.0, 2: float(unit(0, 1, 1) @ query)}
    for ids in ([0, 1, 2], [2, 0], [1], [2, 2, 1]):  # vectors are stored as float16: three decimal digits
        np.testing.assert_allclose(index.similarities(query, np.array(ids)), [expected[i] for i in ids], atol=2e-4)


def test_search_finds_chunks_by_their_mean_and_save_load_round_trips(tmp_path):
    index = VectorIndex.build(SENTENCES, OFFSETS)
    ids, scores = index.search(unit(1, 1, 0), 2)
    assert ids.tolist()[0] == 0 and scores[0] == pytest.approx(1.0, abs=1e-6)
    index.save(tmp_path / "vectors")
    loaded = VectorIndex.load(tmp_path / "vectors", OFFSETS)
    assert loaded.size == 3 and loaded.dimension == 3
    np.testing.assert_allclose(loaded.sentence_range(1, 3), SENTENCES[2:6], atol=2e-4)
    assert loaded.sentence_vectors.dtype == np.float16
    np.testing.assert_allclose(loaded.chunk_vectors(), index.chunk_vectors())


def test_a_chunk_without_sentences_is_refused():
    with pytest.raises(ValueError, match="at least one sentence"):
        VectorIndex.build(SENTENCES, np.array([0, 2, 2, 6]))


def test_above_the_exact_limit_candidates_come_from_an_ivf_index(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(20, 16))
    sentences = (centres[rng.integers(0, 20, size=3000)] + 0.3 * rng.normal(size=(3000, 16))).astype(np.float32)
    sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
    offsets = np.arange(0, 3001, 3)  # 1,000 chunks of three sentences
    exact = VectorIndex.build(sentences, offsets)
    monkeypatch.setattr(dense, "EXACT_SEARCH_LIMIT", 500)
    approximate = VectorIndex.build(sentences, offsets)
    assert exact.exact and not approximate.exact and approximate.size == 1000
    approximate.save(tmp_path / "vectors")
    loaded = VectorIndex.load(tmp_path / "vectors", offsets)
    assert not loaded.exact and loaded._index.nprobe == approximate._index.nprobe > 1
    means = exact.chunk_vectors()
    for chunk in (0, 321, 999):  # a chunk's own mean lies in the list it was filed under, which is probed first
        assert loaded.search(means[chunk], 5)[0][0] == chunk
    np.testing.assert_allclose(loaded.chunk_vectors(), means, atol=1e-6)


def test_segments_are_searched_as_one_without_their_deleted_chunks():
    first, second = VectorIndex.build(SENTENCES, OFFSETS), VectorIndex.build(SENTENCES[::-1].copy(), OFFSETS)
    live = np.array([True, False, True])  # the second segment's chunk 1 was deleted
    both = SegmentedVectors([first, second], [None, live], [0, 3], 3)
    assert both.size == 5
    query = unit(0, 0, 1)
    ids, scores = both.search(query, 6)
    assert 4 not in ids.tolist() and len(ids) == 5 and np.all(np.diff(scores) <= 0)
    for chunk_id in range(6):
        own, row = (first, chunk_id) if chunk_id < 3 else (second, chunk_id - 3)
        np.testing.assert_allclose(both.similarities(query, np.array([chunk_id])), own.similarities(query, np.array([row])))
        np.testing.assert_allclose(both.sentence_similarities(query, chunk_id), own.sentence_similarities(query, row))
