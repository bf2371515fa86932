"""The ONNX embedders: exported from the model on disk, agreeing with PyTorch, and recorded by the index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.backends.local.store import current_generation, read_manifest
from assistant.cli import main
from assistant.core import Assistant
from assistant.embedders import Embedder, resolve_model
from assistant.embedders.onnx_export import exported_model
from assistant.evaluation import contains_fact
from assistant.indexer import update_index
from assistant.segment import split_sentences
from assistant.settings import DEFAULT_MODEL, IndexSettings

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Who led the Lao side at the Son La border meeting?",
    "Where was the fifth defence policy dialogue held?",
    "Wer hat das Treffen geleitet?",
]


@pytest.fixture(scope="module")
def seed_sentences(seed_corpus: Path) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(seed_corpus.glob("*.txt"))]
    return [f"Title\n{text[s:e]}" for text in texts for s, e in split_sentences(text, 0, len(text))]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


@pytest.mark.parametrize(("embedder", "mean_at_least", "min_at_least"), [("onnx", 0.9999, 0.9999), ("onnx-int8", 0.985, 0.97)])
def test_onnx_vectors_agree_with_pytorch(seed_sentences, tmp_path, embedder, mean_at_least, min_at_least):
    torch_model, onnx_model = Embedder(name="torch"), Embedder(name=embedder, cache_dir=tmp_path)
    documents = _cosines(torch_model.encode_documents(seed_sentences), onnx_model.encode_documents(seed_sentences))
    queries = np.array([float(_cosines(torch_model.encode_query(q), onnx_model.encode_query(q))[0]) for q in QUESTIONS])
    assert len(documents) == len(seed_sentences) > 20
    assert documents.mean() >= mean_at_least and documents.min() >= min_at_least
    assert queries.min() >= min_at_least
    vectors = onnx_model.encode_documents(seed_sentences[:5])
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_batches_of_mixed_lengths_give_each_text_its_own_vector(seed_sentences, tmp_path):
    embedder = Embedder(name="onnx", cache_dir=tmp_path, batch_size=4)
    texts = [*sorted(seed_sentences[:10], key=len, reverse=True), "short"]
    together = embedder.encode_documents(texts)
    alone = np.vstack([embedder.encode_documents([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_export_is_cached_and_reused(tmp_path):
    location = Path(resolve_model(DEFAULT_MODEL))
    first = exported_model(location, "onnx-int8", tmp_path)
    written = first.stat().st_mtime_ns
    again = exported_model(location, "onnx-int8", tmp_path)
    assert again == first and again.stat().st_mtime_ns == written
    assert json.loads((first.parent / "source.json").read_text())["backend"] == "onnx-int8"
    assert not [p for p in first.parent.iterdir() if p.name not in ("model.onnx", "source.json")]  # no scratch left
    assert exported_model(location, "onnx", tmp_path).parent != first.parent


def test_index_records_its_embedder_and_questions_use_it(seed_corpus, tmp_path):
    index_dir = tmp_path / "index"
    update_index(seed_corpus, index_dir, IndexSettings(embedder="onnx-int8"))
    assert read_manifest(current_generation(index_dir)).settings.embedder == "onnx-int8"
    assistant = Assistant.load(index_dir)
    assert assistant.retriever.embedder.name == "onnx-int8"
    answer = assistant.ask(QUESTIONS[0])
    assert contains_fact(answer.answer, "Viliem Vongthisan"), answer.answer

    report = update_index(seed_corpus, index_dir, IndexSettings(embedder="torch"))
    assert report.changed == 0 and report.embedded > 20  # another embedder: every sentence embedded again
    assistant.refresh()
    assert assistant.retriever.embedder.name == "torch"


def test_index_without_a_recorded_embedder_was_built_with_pytorch():
    assert IndexSettings.from_dict({"model": DEFAULT_MODEL, "chunk_words": 120}).embedder == "torch"
    with pytest.raises(ValueError, match="unknown embedder"):
        IndexSettings(embedder="tensorrt")


def test_cli_rejects_an_unknown_embedder_and_reports_the_one_in_use(seed_corpus, seed_index, tmp_path):
    result = CliRunner().invoke(main, ["index", "--corpus", str(seed_corpus), "--index", str(tmp_path), "--embedder", "tensorrt"])
    assert result.exit_code == 2 and "'tensorrt' is not one of" in result.output and not list(tmp_path.iterdir())
    info = CliRunner().invoke(main, ["info", "--index", str(seed_index), "--json"])
    assert json.loads(info.output)["embedder"] == IndexSettings().embedder
