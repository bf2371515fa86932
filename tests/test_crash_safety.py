"""SIGKILL at random moments of a re-index never leaves a broken index."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.backends.local.store import POINTER, SEGMENTS, load_index
from assistant.core import Assistant
from assistant.evaluation import quotes_verified
from assistant.indexer import update_index
from assistant.settings import IndexSettings

pytestmark = pytest.mark.slow

KILLS = 25
WORKER = Path(__file__).with_name("reindex_worker.py")


def make_corpus(folder: Path, seed_corpus: Path) -> None:
    """Forty articles with headings, made of the seed articles' paragraphs."""
    paragraphs = [
        p for path in sorted(seed_corpus.glob("*.txt")) for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()
    ]
    folder.mkdir()
    for number in range(40):
        body = "\n\n".join(paragraphs[(number + i) % len(paragraphs)] for i in range(3))
        (folder / f"article-{number:02d}.md").write_text(f"# Article {number}\n\n{body}\n", encoding="utf-8")


def leftovers(index_dir: Path) -> list[str]:
    """What a killed writer left: staged versions, segments and pointers."""
    places = [index_dir, index_dir / SEGMENTS] if (index_dir / SEGMENTS).is_dir() else [index_dir]
    return [p.name for place in places for p in place.iterdir() if p.name.startswith((".tmp-", f".{POINTER}."))]


def test_sigkill_during_reindex_leaves_the_previous_generation_answering(seed_corpus, tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus, seed_corpus)
    update_index(corpus, index_dir, IndexSettings(chunk_words=80))
    assistant = Assistant.load(index_dir)
    rng = random.Random(20261122)
    killed_mid_write = 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for kill in range(KILLS):
        worker = subprocess.Popen([sys.executable, str(WORKER), str(corpus), str(index_dir)], stdout=subprocess.PIPE, env=env)
        assert worker.stdout.readline().strip() == b"ready"
        if kill % 5 == 0:  # now and then inside the first update, which also opens the index
            time.sleep(rng.uniform(0.0, 0.3))
        else:  # mostly in the loop: an update that adds a small segment takes tens of milliseconds, most of it writing
            began = time.monotonic()
            assert worker.stdout.readline().strip() == b"updated"
            assert worker.stdout.readline().strip() == b"updated"
            time.sleep(rng.uniform(0.0, 4 * (time.monotonic() - began)))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_mid_write += bool(leftovers(index_dir))
        index = load_index(index_dir)  # checksums verified
        assert len(index.manifest.documents) == 40
        answer = assistant.ask("Who led the Lao side at the Son La border meeting?")
        assert not answer.abstained and answer.sources
        assert quotes_verified(answer, assistant.index.documents)
        assert assistant.index.name == index.location.name  # the reader moved to what CURRENT names
    assert killed_mid_write >= 1, "no kill landed while a generation was being written"
    report = update_index(corpus, index_dir)
    assert leftovers(index_dir) == []
    assert set(load_index(index_dir).manifest.documents) == {p.name for p in corpus.glob("*.md")}
    assert report.embedded == 0
