"""The corpus watcher: new, half-written and vanishing files."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.backends.local.store import load_index
from assistant.core import Assistant

pytestmark = pytest.mark.slow

ARTICLE = "# Phongsaly patrols\n\nPhongsaly and Điện Biên border guards held a joint patrol on June 9, led by Major Khamla."


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def watched(seed_corpus, seed_index, tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index_dir)
    reports = []
    stop = threading.Event()
    thread = threading.Thread(
        target=Assistant(index_dir, corpus).watch, kwargs={"quiet": 0.3, "stop": stop, "on_update": reports.append}
    )
    thread.start()
    time.sleep(0.5)  # the catch-up update on start finds nothing to do
    yield corpus, index_dir, reports
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()


def indexed(index_dir: Path) -> set[str]:
    return set(load_index(index_dir).manifest.documents)


def test_a_new_article_is_indexed(watched):
    corpus, index_dir, reports = watched
    (corpus / "phongsaly.md").write_text(ARTICLE, encoding="utf-8")
    assert wait_for(lambda: "phongsaly.md" in indexed(index_dir))
    assert any(r.new == 1 for r in reports)


def test_a_burst_of_files_is_one_update(watched):
    corpus, index_dir, reports = watched
    for number in range(5):
        (corpus / f"burst-{number}.md").write_text(ARTICLE.replace("June 9", f"June {number + 10}"), encoding="utf-8")
    assert wait_for(lambda: len(indexed(index_dir)) == 7)
    assert [r.new for r in reports if r.version is not None] == [5]


def test_a_half_written_file_is_a_warning_then_indexed_when_complete(watched, caplog):
    corpus, index_dir, _ = watched
    article = corpus / "slow.md"
    data = ARTICLE.encode("utf-8")
    cut = data.index("Điện".encode()) + 1  # inside a multi-byte character: not valid UTF-8 yet
    article.write_bytes(data[:cut])
    assert wait_for(lambda: "slow.md: not valid UTF-8" in caplog.text)
    article.write_bytes(data)
    assert wait_for(lambda: "slow.md" in indexed(index_dir))


def test_deleted_and_unreadable_files_do_not_stop_the_watcher(watched):
    corpus, index_dir, _ = watched
    (corpus / "gone.md").write_text(ARTICLE, encoding="utf-8")
    (corpus / "gone.md").unlink()
    (corpus / "dangling.md").symlink_to(corpus / "nowhere.md")
    (corpus / "later.md").write_text(ARTICLE.replace("Khamla", "Somsak"), encoding="utf-8")
    assert wait_for(lambda: "later.md" in indexed(index_dir))
    assert "gone.md" not in indexed(index_dir) and "dangling.md" not in indexed(index_dir)
    (corpus / "son-la-luang-prabang-border-meeting.txt").unlink()
    assert wait_for(lambda: "son-la-luang-prabang-border-meeting.txt" not in indexed(index_dir))


def test_the_watch_command_stops_cleanly_on_ctrl_c(seed_corpus, seed_index, tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index_dir)
    command = Path(sys.executable).parent / "assistant"
    process = subprocess.Popen(
        [command, "watch", "--corpus", str(corpus), "--index", str(index_dir), "--quiet", "0.3"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONFAULTHANDLER": "1"},
    )
    try:
        (corpus / "phongsaly.md").write_text(ARTICLE, encoding="utf-8")
        assert wait_for(lambda: "phongsaly.md" in indexed(index_dir), timeout=120)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack on the way out
            pytest.fail(f"still running 60 s after Ctrl-C; its threads:\n{process.communicate(timeout=30)[1]}")
    assert process.returncode == 0
    assert "+1 new, 0 changed, 0 removed, 2 unchanged" in stderr
    assert "stopped watching" in stderr and "Traceback" not in stderr
