"""Train the short-answer span model: MiniLM fine-tuned to point at the answer inside a sentence window.

Trained only on SQuAD dev's tuning half (the articles benchmarks/squad.py
never reports); four of its articles are kept out of training to choose the
epoch and the confidence threshold. The input is what the answerer gives it
at run time: the question, then the sentence to be quoted with the sentence
before it as context (sometimes the one after too). A window without the
answer teaches the model to point at [CLS], "not here", so the short answer
can be withheld when unsure. The model is exported to ONNX, its MatMuls
quantised to int8, into assistant/answerers/span_model/ beside a record of
how it was made and what it scored.

    .venv/bin/python benchmarks/train_span_model.py [--epochs 3] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bm25_variants import SPLIT_SEED, SQUAD

from assistant.answerers.span_model import best_span
from assistant.embedders import resolve_model
from assistant.evaluation import span_f1, squad_normalise
from assistant.segment import split_sentences
from assistant.settings import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "assistant" / "answerers" / "span_model"
RESULTS = ROOT / "benchmarks" / "results" / "span_model.json"
CHECKPOINT = ROOT / "benchmarks" / "cache" / "span_model_torch"
VALIDATION_ARTICLES = 4
MAX_TOKENS = 192
NEGATIVE_SHARE = 0.3  # windows without the answer, per question, taught to point at [CLS]


@dataclass(frozen=True)
class Window:
    question: str
    context: str
    answer_start: int  # in `context`; -1 when the window does not hold the answer
    answer_end: int
    answers: tuple[str, ...]


def tuning_articles() -> tuple[list[dict], list[dict]]:
    """(training, validation) articles of SQuAD dev's tuning half, split as benchmarks/squad.py splits it."""
    articles = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    titles = sorted(a["title"] for a in articles)
    random.Random(SPLIT_SEED).shuffle(titles)
    tune = titles[: len(titles) // 2]
    by_title = {a["title"]: a for a in articles}
    return [by_title[t] for t in tune[VALIDATION_ARTICLES:]], [by_title[t] for t in tune[:VALIDATION_ARTICLES]]


def windows(articles: list[dict], rng: random.Random, negatives: bool) -> list[Window]:
    """One window holding each question's answer (its sentence, the one before, sometimes the one after),
    and with probability NEGATIVE_SHARE one of another sentence of the same paragraph."""
    made = []
    for article in articles:
        for paragraph in article["paragraphs"]:
            text = paragraph["context"]
            sentences = split_sentences(text, 0, len(text))
            for qa in paragraph["qas"]:
                first = qa["answers"][0]
                start, end = first["answer_start"], first["answer_start"] + len(first["text"])
                answers = tuple(a["text"] for a in qa["answers"])
                holding = [i for i, (s, e) in enumerate(sentences) if s < end and e > start]
                if not holding:
                    continue
                low, high = holding[0], holding[-1]
                if low > 0 and rng.random() < 0.7:
                    low -= 1
                if high + 1 < len(sentences) and rng.random() < 0.2:
                    high += 1
                begin, stop = sentences[low][0], sentences[high][1]
                made.append(Window(qa["question"], text[begin:stop], start - begin, end - begin, answers))
                others = [i for i in range(len(sentences)) if i not in holding]
                if negatives and others and rng.random() < NEGATIVE_SHARE:
                    i = rng.choice(others)
                    begin = sentences[i - 1][0] if i > 0 and i - 1 not in holding else sentences[i][0]
                    made.append(Window(qa["question"], text[begin : sentences[i][1]], -1, -1, answers))
    return made


def features(tokenizer, batch: list[Window]) -> dict:  # type: ignore[no-untyped-def]
    """Token ids with the answer's first and last token as targets ([CLS] when it is not in the window)."""
    import torch

    encoded = tokenizer(
        [w.question for w in batch], [w.context for w in batch], truncation="only_second", max_length=MAX_TOKENS,
        padding=True, return_offsets_mapping=True, return_tensors="pt",
    )  # fmt: skip
    starts, ends = [], []
    for row, window in enumerate(batch):
        sequence = encoded.sequence_ids(row)
        offsets = encoded["offset_mapping"][row].tolist()
        first = last = 0
        if window.answer_start >= 0:
            tokens = [i for i, s in enumerate(sequence) if s == 1]
            inside = [i for i in tokens if offsets[i][0] < window.answer_end and offsets[i][1] > window.answer_start]
            if inside:
                first, last = inside[0], inside[-1]
        starts.append(first)
        ends.append(last)
    encoded.pop("offset_mapping")
    return {**encoded, "start_positions": torch.tensor(starts), "end_positions": torch.tensor(ends)}


def predict(model, tokenizer, items: list[Window], batch_size: int = 64) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    """The best span of each window and its margin over [CLS] (log-odds; negative when the model says "not here")."""
    import torch

    out = []
    model.eval()
    with torch.no_grad():
        for first in range(0, len(items), batch_size):
            batch = items[first : first + batch_size]
            encoded = tokenizer(
                [w.question for w in batch], [w.context for w in batch], truncation="only_second",
                max_length=MAX_TOKENS, padding=True, return_offsets_mapping=True, return_tensors="pt",
            )  # fmt: skip
            offsets = encoded.pop("offset_mapping")
            logits = model(**encoded)
            for row, window in enumerate(batch):
                allowed = [s == 1 for s in encoded.sequence_ids(row)]
                found = best_span(logits.start_logits[row].numpy(), logits.end_logits[row].numpy(), allowed)
                first, last, margin = found if found else (0, 0, float("-inf"))
                span = window.context[int(offsets[row][first][0]) : int(offsets[row][last][1])]
                out.append((span, margin))
    return out


def scores(items: list[Window], predicted: list[tuple[str, float]]) -> dict[str, float]:
    answerable = [(w, p) for w, p in zip(items, predicted, strict=True) if w.answer_start >= 0]
    exact = np.mean([max(squad_normalise(p[0]) == squad_normalise(a) for a in w.answers) for w, p in answerable])
    f1 = np.mean([max(span_f1(p[0], a) for a in w.answers) for w, p in answerable])
    negatives = [p for w, p in zip(items, predicted, strict=True) if w.answer_start < 0]
    refused = np.mean([p[1] < 0 for p in negatives]) if negatives else float("nan")
    return {"exact_match": float(exact), "f1": float(f1), "negatives_refused": float(refused), "windows": len(items)}


def export(model, tokenizer, folder: Path) -> None:  # type: ignore[no-untyped-def]
    """ONNX with int8 MatMuls (per output channel), written whole or not at all."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in (*names, "start_logits", "end_logits")}
    folder.mkdir(parents=True, exist_ok=True)
    model.eval()
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        plain = Path(scratch) / "plain.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in names)
            torch.onnx.export(
                Logits(model), example, str(plain), input_names=names, output_names=["start_logits", "end_logits"],
                dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip
        staged = Path(scratch) / "model.onnx"
        quantize_dynamic(plain, staged, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul", "Gather"])
        os.replace(staged, folder / "model.onnx")
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1e-4)
    parser.add_argument("--limit", type=int, default=0, help="train on this many windows only (a smoke run)")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    location = resolve_model(DEFAULT_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModelForQuestionAnswering.from_pretrained(location, local_files_only=True)
    training, validation = tuning_articles()
    held = windows(validation, random.Random(1), negatives=True)
    steps_per_epoch = -(-len(windows(training, random.Random(0), True)) // options.batch)
    if options.limit:
        steps_per_epoch = -(-options.limit // options.batch)
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimiser, steps_per_epoch // 10, steps_per_epoch * options.epochs)
    history = []
    began = time.perf_counter()
    best_f1, best_state = -1.0, None
    for epoch in range(options.epochs):
        items = windows(training, rng, negatives=True)  # a fresh draw of contexts each epoch
        rng.shuffle(items)
        if options.limit:
            items = items[: options.limit]
        model.train()
        losses = []
        for step in range(0, len(items), options.batch):
            batch = features(tokenizer, items[step : step + options.batch])
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            losses.append(float(loss))
            if len(losses) % 20 == 0:
                logging.info("epoch %d step %d/%d loss %.3f (%.0f s)", epoch + 1, len(losses), steps_per_epoch,
                             np.mean(losses[-20:]), time.perf_counter() - began)  # fmt: skip
        measured = scores(held, predict(model, tokenizer, held))
        measured.update(epoch=epoch + 1, loss=float(np.mean(losses)), seconds=round(time.perf_counter() - began, 1))
        logging.info("validation %s", measured)
        history.append(measured)
        if measured["f1"] > best_f1:
            best_f1, best_state = measured["f1"], {k: v.clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    model.save_pretrained(CHECKPOINT)  # not shipped: lets the export be made again without training
    tokenizer.save_pretrained(CHECKPOINT)
    export(model, tokenizer, TARGET)
    record = {
        "base_model": DEFAULT_MODEL,
        "trained_on": "SQuAD v1.1 dev, tuning half of the articles (benchmarks/squad.py's split), "
        f"less {VALIDATION_ARTICLES} articles kept for validation",
        "max_tokens": MAX_TOKENS,
        "options": vars(options),
        "history": history,
    }
    (TARGET / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(history[-1]))


if __name__ == "__main__":
    main()
