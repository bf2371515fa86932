"""Vietnamese and mixed-language questions over a corpus of Vietnamese and English articles.

The corpus is the three Vietnamese articles written for the project
(tests/qa/vi_corpus/) beside the two English seed articles (corpus/). The
questions (tests/qa/vi_qa.jsonl) are Vietnamese over Vietnamese articles
(one typed without its marks), Vietnamese over English ones, English over
Vietnamese ones, and near-misses; the conversations
(tests/qa/vi_conversations.jsonl) follow up in Vietnamese. Every third line
is held back from tuning. Per split: answers holding the fact, abstentions
where the corpus says nothing, and turns right, for each model given.
Writes benchmarks/results/vietnamese_qa.json.

    .venv/bin/python benchmarks/vietnamese_qa.py [--model NAME --embedder NAME]...
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from assistant.core import Assistant
from assistant.evaluation import Outcome, conversation_turns, load_qa, summarize
from assistant.indexer import update_index
from assistant.settings import IndexSettings

ROOT = Path(__file__).resolve().parent.parent
QA = ROOT / "tests" / "qa"
RESULTS = ROOT / "benchmarks" / "results" / "vietnamese_qa.json"
KEYS = ("answerable", "answered_correctly", "false_abstentions", "wrong_answers", "unanswerable", "abstained_correctly")


def corpus(folder: Path) -> Path:
    """The Vietnamese articles and the English seed articles in one folder."""
    folder.mkdir(parents=True)
    for source in (QA / "vi_corpus", ROOT / "corpus"):
        for path in source.glob("*.txt"):
            shutil.copy(path, folder / path.name)
    return folder


def measure(settings: IndexSettings) -> dict[str, Any]:
    items = load_qa(QA / "vi_qa.jsonl")
    with tempfile.TemporaryDirectory() as folder:
        articles, index_dir = corpus(Path(folder) / "corpus"), Path(folder) / "index"
        update_index(articles, index_dir, settings)
        assistant = Assistant.load(index_dir)
        report: dict[str, Any] = {"model": settings.model, "embedder": settings.embedder}
        for split in ("tune", "heldout"):
            outcomes = [Outcome(i, assistant.ask(i.question)) for i in items if i.split == split]
            summary = summarize(outcomes, assistant.index.documents)
            report[split] = {key: summary[key] for key in (*KEYS, "verified_quote_share")}
            for outcome in outcomes:
                if not outcome.correct:
                    logging.info("MISS [%s] %s -> %s", split, outcome.item.question, outcome.answer.answer[:110])
        report["conversations"] = conversation_turns(assistant, QA / "vi_conversations.jsonl")
    return report


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    logging.getLogger("assistant").setLevel(logging.WARNING)
    logging.getLogger("assistant.evaluation").setLevel(logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="a model to measure (repeat; default: the default)")
    parser.add_argument("--embedder", action="append", default=[], help="how each --model runs (same order)")
    args = parser.parse_args()
    runs = [IndexSettings()] if not args.model else [
        IndexSettings(model=model, embedder=embedder)
        for model, embedder in zip(args.model, args.embedder or [IndexSettings.embedder] * len(args.model), strict=True)
    ]  # fmt: skip
    reports = []
    for settings in runs:
        reports.append(measure(settings))
        print(json.dumps(reports[-1], ensure_ascii=False), flush=True)
    RESULTS.write_text(json.dumps(reports, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
