"""Offline question answering over cooperation articles, answering in quotes of its sources."""

__version__ = "0.1.0"


def quiet_libraries() -> None:
    """Keep the log to the assistant's own lines: trafilatura logs its own line beside ours for a page it
    finds no article in ("skipped x.html: no article text")."""
    import logging

    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
