"""Shared fixtures: the seed corpus indexed once per session with the real model and FAISS.

Tests marked `slow` may load the real model (`make test` runs them); the
rest form the fast tier (`make test-fast`), which embeds with the hashing
stand-in from tests/fakes.py and fails any test that loads a real model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from assistant import embedders
from assistant.answerers import span_model
from tests.fakes import HASHING_EMBEDDER

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The Milvus tests leave gRPC threads in this process; a child started with preexec_fn (a fork that runs Python
# before exec) would otherwise run gRPC's fork handlers and print their noise into the child's stderr.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
embedders.EMBEDDERS.register(HASHING_EMBEDDER, "tests.fakes:open_hashing")


def pytest_configure(config: pytest.Config) -> None:
    """One ONNX export per test session, shared by every index and subprocess the tests make."""
    if "ASSISTANT_MODEL_CACHE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="assistant-models-")
        os.environ["ASSISTANT_MODEL_CACHE"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.fixture(autouse=True)
def _fast_tests_load_no_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test outside the slow tier that would load a real model fails at once, naming the test; it finds
    short answers by the rules, which need none."""
    if request.node.get_closest_marker("slow") is not None:
        return
    monkeypatch.setenv("ASSISTANT_SHORT_ANSWERS", "rules")

    def no_span_model(*args: object) -> None:
        pytest.fail(f"{request.node.nodeid} loads the span model: mark it slow or use ASSISTANT_SHORT_ANSWERS=rules")

    monkeypatch.setattr(span_model.SpanModel, "__init__", no_span_model)
    load = embedders._load

    def stand_in_only(model: str, embedder: str, cache_dir: Path) -> embedders.Encoder:
        if embedder != HASHING_EMBEDDER:
            pytest.fail(f"{request.node.nodeid} loads the {embedder} embedder: mark it slow or use {HASHING_EMBEDDER}")
        return load(model, embedder, cache_dir)

    monkeypatch.setattr(embedders, "_load", stand_in_only)


ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
QA_DIR = Path(__file__).resolve().parent / "qa"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the seed corpus and where its index goes, for a test that changes them."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    return corpus, tmp_path / "index"


@pytest.fixture
def assistant(folders: tuple[Path, Path]):
    """An assistant over that copy, indexed with the hashing stand-in (no model)."""
    from assistant.core import Assistant

    corpus, index_dir = folders
    assistant = Assistant(index_dir, corpus)
    assistant.update(embedder=HASHING_EMBEDDER)
    return assistant


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for path in SEED_CORPUS.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def seed_index(seed_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from assistant.indexer import update_index
    from assistant.settings import IndexSettings

    folder = tmp_path_factory.mktemp("index")
    update_index(seed_corpus, folder, IndexSettings())
    return folder


@pytest.fixture(scope="session")
def seed_assistant(seed_index: Path):
    from assistant.core import Assistant

    return Assistant.load(seed_index)
