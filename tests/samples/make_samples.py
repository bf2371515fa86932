"""Writes the small hand-made samples beside this file, one per binary format, from tests/documents.py.

They are committed so that a reader is also tested on a file that was not made
in the same test run (and so that a person can open one); run this again only
when the documents change:

    .venv/bin/python -m tests.samples.make_samples
"""

from __future__ import annotations

from pathlib import Path

from tests import documents

HERE = Path(__file__).resolve().parent


def main() -> None:
    samples = {
        "minutes.pdf": documents.pdf_file(),
        "dialogue.docx": documents.docx_file(),
        "border-news.html": documents.html_page(),
    }
    for name, data in samples.items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
