"""Shared fixtures: the seed corpus indexed once per session with the real model and FAISS."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_configure(config: pytest.Config) -> None:
    """One ONNX export per test session, shared by every index and subprocess the tests make."""
    if "ASSISTANT_MODEL_CACHE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="assistant-models-")
        os.environ["ASSISTANT_MODEL_CACHE"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
QA_DIR = Path(__file__).resolve().parent / "qa"


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
