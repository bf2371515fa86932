"""The trained span model: MiniLM fine-tuned here to point at the answer inside a sentence, run by onnxruntime.

Trained by benchmarks/train_span_model.py on SQuAD dev's tuning half only
(the file `span_model/training.json` records how, and what it scored); its
MatMuls and embeddings are int8. It reads "[CLS] question [SEP] sentence
before, sentence [SEP]" and scores each token as the answer's first and
last; the [CLS] token stands for "not in this sentence", so a span's
confidence is the logistic of its score over [CLS]'s. Nothing is downloaded: the model and
its tokenizer ship in the package.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.answerers.spans import SentenceWindow, SpanGuess
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.question import Question

MODEL_FOLDER = Path(__file__).resolve().parent / "span_model"
MAX_TOKENS = 192  # as trained
MAX_SPAN_TOKENS = 30
_PUNCTUATION_EDGES = " \t\n,;:.!?\"'“”‘’()[]"


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, allowed: list[bool]) -> tuple[int, int, float] | None:
    """The (first token, last token, score over [CLS]) of the best span of allowed tokens, at most
    MAX_SPAN_TOKENS long; None when no token is allowed. Token 0 is [CLS]."""
    tokens = np.flatnonzero(np.asarray(allowed))
    if tokens.size == 0:
        return None
    starts, ends = start_logits[tokens], end_logits[tokens]
    pairs = starts[:, None] + ends[None, :]
    gap = tokens[None, :] - tokens[:, None]
    pairs = np.where((gap >= 0) & (gap < MAX_SPAN_TOKENS), pairs, -np.inf)
    first, last = np.unravel_index(int(np.argmax(pairs)), pairs.shape)
    return int(tokens[first]), int(tokens[last]), float(pairs[first, last] - start_logits[0] - end_logits[0])


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without spaces and punctuation at its edges; a bracket stays when the span holds its partner."""
    while start < end and text[start] in _PUNCTUATION_EDGES and not (text[start] == "(" and ")" in text[start:end]):
        start += 1
    while end > start and text[end - 1] in _PUNCTUATION_EDGES and not (text[end - 1] == ")" and "(" in text[start:end]):
        end -= 1
    return start, end


class SpanModel:
    """The span model, loaded once; finds the answer span of each window's sentence."""

    languages = frozenset({"en"})  # trained on English SQuAD: other questions go to the rules

    def __init__(self, folder: Path = MODEL_FOLDER) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        if not (folder / "model.onnx").is_file():
            raise AssistantError(f"the span model is missing from {folder}/ — reinstall, or use ASSISTANT_SHORT_ANSWERS=rules")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def find(self, question: Question, windows: list[SentenceWindow]) -> list[SpanGuess | None]:
        if not windows:
            return []
        encodings = self.tokenizer.encode_batch([(question.text, w.text[w.context_start : w.end]) for w in windows])
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        start_logits, end_logits = self.session.run(None, feed)
        guesses: list[SpanGuess | None] = []
        for row, (window, encoding) in enumerate(zip(windows, encodings, strict=True)):
            sentence = window.start - window.context_start  # where the sentence to quote begins in what was read
            allowed = [
                sequence == 1 and begin >= sentence and end > begin
                for sequence, (begin, end) in zip(encoding.sequence_ids, encoding.offsets, strict=True)
            ]
            found = best_span(start_logits[row], end_logits[row], allowed)
            if found is None:
                guesses.append(None)
                continue
            first, last, confidence = found
            start, end = trim(
                window.text,
                window.context_start + encoding.offsets[first][0],
                window.context_start + encoding.offsets[last][1],
            )
            guesses.append(SpanGuess(start, end, 1 / (1 + math.exp(-confidence))) if start < end else None)
        return guesses
