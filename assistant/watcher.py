"""Watching the corpus folder and re-indexing on change.

Events are debounced: a burst of files (a copy of twenty articles, an editor
writing a temporary file and renaming it) becomes one update once the folder
has been quiet for `quiet` seconds. A file that cannot be read yet is a
warning from the indexer, never the end of the watch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from assistant.errors import AssistantError
from assistant.indexer import UpdateReport
from assistant.readers import suffixes

log = logging.getLogger(__name__)


def _is_article(path: str) -> bool:
    name = Path(path).name
    return Path(path).suffix.lower() in suffixes() and not name.startswith(".")


class _Changes(FileSystemEventHandler):
    """Remembers when an article last changed."""

    def __init__(self) -> None:
        self.last_change = 0.0
        self.pending = threading.Event()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if event.is_directory or any(_is_article(str(p)) for p in paths if p):
            self.last_change = time.monotonic()
            self.pending.set()


def watch(
    corpus_dir: Path,
    update: Callable[[], UpdateReport],
    quiet: float = 1.0,
    stop: threading.Event | None = None,
    on_update: Callable[[UpdateReport], None] | None = None,
) -> None:
    """Run `update` whenever the corpus changes (and once at the start), until `stop` is set (or Ctrl-C)."""
    stop = stop or threading.Event()
    changes = _Changes()
    observer = Observer()
    corpus_dir.mkdir(parents=True, exist_ok=True)
    observer.schedule(changes, str(corpus_dir), recursive=True)
    observer.start()
    try:
        _update(update, on_update)  # catch up with what changed while nobody watched
        while not stop.is_set():
            if not changes.pending.wait(timeout=0.2):
                continue
            if time.monotonic() - changes.last_change < quiet:
                stop.wait(0.1)
                continue
            changes.pending.clear()
            _update(update, on_update)
    finally:
        observer.stop()
        observer.join()


def _update(update: Callable[[], UpdateReport], on_update: Callable[[UpdateReport], None] | None) -> None:
    try:
        report = update()
    except (AssistantError, OSError) as error:
        log.warning("index not updated: %s", error)
        return
    log.info("%s", report.summary())
    if on_update is not None:
        on_update(report)
