"""Re-indexes a corpus in a loop until killed: each round renames one article and updates the index.

Run by tests/test_crash_safety.py, which kills it with SIGKILL at random moments; it says "updated" after
each round, so the test can time a round on this machine as it is loaded now.
Titles come from each article's heading, so a rename changes no chunk text and
no model is needed: every round is mostly the writing of a new generation.
"""

import itertools
import os
import sys
from pathlib import Path

from assistant.backends import open_backend
from assistant.indexer import update_index
from assistant.settings import default_backend


def main() -> None:
    corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
    backend = open_backend(default_backend(), index)  # imported now: "ready" means the next thing is an update
    print("ready", flush=True)
    for step in itertools.count():
        articles = sorted(corpus.glob("*.md"))
        article = articles[step % len(articles)]
        # Named by this process too: a worker started after a killed one must not repeat its names, which
        # would make its renames no-ops and its updates write nothing.
        article.rename(article.with_name(f"{article.stem.split('~')[0]}~{os.getpid()}-{step}.md"))
        update_index(corpus, index, backend=backend)
        print("updated", flush=True)


if __name__ == "__main__":
    main()
