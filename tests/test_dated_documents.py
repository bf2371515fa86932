"""Dates as first-class metadata: where a document's date comes from, date filters on every face, questions
that name a time or want the most recent, and `assistant docs` / `show` (hashing stand-in: no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.core import Assistant
from assistant.errors import QuestionError
from assistant.evaluation import contains_fact
from tests.fakes import HASHING_EMBEDDER

ARTICLES = {
    # a date in the front matter
    "patrols-2024.md": "---\ntitle: Border talks 2024\ndate: 2024-04-10\n---\n"
    "The annual border talks between Dien Bien and Phongsaly were held in Dien Bien. "
    "The two sides agreed to conduct eight joint border patrols along the shared border.\n",
    # a dateline, no metadata
    "patrols-2023.txt": "Hanoi, March 28, 2023 (VNA) - The annual border talks between Dien Bien and Phongsaly "
    "were held in Phongsaly.\n\nThe two sides agreed to conduct six joint border patrols along the shared border.\n",
    # a Vietnamese dateline, day first
    "patrols-2022.txt": "ĐIỆN BIÊN, 15/6/2022 - The annual border talks between Dien Bien and Phongsaly were held in "
    "Dien Bien.\n\nThe two sides agreed to conduct four joint border patrols along the shared border.\n",
    # no date anywhere
    "training.txt": "The border guard academy trained forty Lao officers in border management and law.\n",
}
PATROLS = "How many joint border patrols did the two sides agree to conduct?"


@pytest.fixture
def dated(tmp_path: Path) -> tuple[Path, Path]:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    Assistant(index_dir, corpus).update(embedder=HASHING_EMBEDDER)
    return corpus, index_dir


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_each_document_is_dated_from_metadata_or_dateline_and_never_from_the_file(dated):
    corpus, index_dir = dated
    documents = Assistant(index_dir, corpus).documents()
    assert {d: r.published for d, r in documents.items()} == {
        "patrols-2022.txt": "2022-06-15",
        "patrols-2023.txt": "2023-03-28",
        "patrols-2024.md": "2024-04-10",
        "training.txt": None,
    }


def test_since_and_until_keep_the_documents_of_the_range_only(dated):
    _, index_dir = dated
    assistant = Assistant(index_dir)
    in_2023 = assistant.search("joint border patrols", k=10, since="2023-01-01", until="2023-12-31")
    assert {p.document.doc_id for p in in_2023} == {"patrols-2023.txt"}
    since_2023 = {p.document.doc_id for p in assistant.search("border", k=10, since="2023-01-01")}
    assert since_2023 == {"patrols-2023.txt", "patrols-2024.md"}  # the undated document is in no range
    answer = assistant.ask(PATROLS, until="2022-12-31")
    assert contains_fact(answer.answer, "four") and {s.doc_id for s in answer.sources} == {"patrols-2022.txt"}
    assert answer.sources[0].published == "2022-06-15" and answer.sources[0].format == "txt"
    assert assistant.ask(PATROLS, since="2030-01-01").abstained
    with pytest.raises(QuestionError, match="since: '2023-13-01' is not a date written YYYY-MM-DD"):
        assistant.ask(PATROLS, since="2023-13-01")


def test_a_period_named_in_the_question_narrows_to_its_documents(dated):
    _, index_dir = dated
    assistant = Assistant(index_dir)
    march = assistant.ask("How many joint border patrols were agreed in March 2023?")
    assert contains_fact(march.answer, "six"), march.answer
    in_2022 = assistant.ask("How many joint border patrols were agreed in 2022?")
    assert contains_fact(in_2022.answer, "four"), in_2022.answer
    # a period no document is dated in narrows nothing: the date may be an event's, inside any text
    assert not assistant.ask("How many Lao officers did the academy train in 2019?").abstained


def test_a_question_for_the_most_recent_is_answered_from_the_newest_document_with_its_date(dated):
    _, index_dir = dated
    answer = Assistant(index_dir).ask("How many joint border patrols did the two sides agree to conduct most recently?")
    assert {s.doc_id for s in answer.sources} == {"patrols-2024.md"}, answer.answer  # no older figure beside it
    assert answer.answer.startswith("Latest (2024-04-10):") and contains_fact(answer.answer, "eight")


def test_cli_date_options_docs_and_show(dated):
    corpus, index_dir = dated
    code, output = run("ask", "--index", str(index_dir), "--json", "--since", "2023-01-01", "--until", "2023-12-31", PATROLS)
    (answer,) = json_lines(output)
    assert code == 0 and {s["doc_id"] for s in answer["sources"]} == {"patrols-2023.txt"}
    assert answer["sources"][0]["published"] == "2023-03-28" and answer["sources"][0]["page"] is None
    code, output = run("ask", "--index", str(index_dir), "--until", "2022-12-31", PATROLS)
    assert code == 0 and "patrols-2022.txt, 2022-06-15, characters" in output
    code, output = run("search", "--index", str(index_dir), "--json", "--since", "2024-01-01", "border")
    assert code == 0 and {r["doc_id"] for r in json_lines(output)[0]["results"]} == {"patrols-2024.md"}
    code, output = run("ask", "--index", str(index_dir), "--since", "28/3/2023", PATROLS)
    assert code == 2 and "'28/3/2023' is not a date written YYYY-MM-DD" in output

    code, output = run("docs", "--index", str(index_dir), "--json")
    listed = {d["doc_id"]: d for d in json_lines(output)}
    assert code == 0 and listed["patrols-2024.md"]["published"] == "2024-04-10"
    assert listed["patrols-2024.md"]["title"] == "Border talks 2024" and listed["training.txt"]["published"] is None
    assert listed["patrols-2024.md"]["format"] == "md" and listed["patrols-2024.md"]["pages"] is None
    assert all(d["chunks"] >= 1 for d in listed.values())
    code, output = run("docs", "--index", str(index_dir))
    assert code == 0 and "training.txt  undated  txt, 1 chunks, en  Training" in output

    code, output = run("show", "--index", str(index_dir), "patrols-2024.md")
    assert code == 0 and output == (corpus / "patrols-2024.md").read_text(encoding="utf-8")
    code, output = run("show", "--index", str(index_dir), "--json", "patrols-2024.md")
    shown = json.loads(output)
    assert shown["text_length"] == len(ARTICLES["patrols-2024.md"]) and shown["page_ranges"] == []
    code, output = run("show", "--index", str(index_dir), "nope.txt")
    assert code == 2 and "not in the index: nope.txt" in output


def test_eval_takes_the_date_range(dated, tmp_path):
    _, index_dir = dated
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": PATROLS, "answer": "four", "doc_id": "patrols-2022.txt"}) + "\n", encoding="utf-8")
    code, output = run("eval", "--index", str(index_dir), "--json", "--qa", str(qa), "--until", "2022-12-31")
    assert code == 0 and json.loads(output)["answers"]["answer_accuracy"] == 1.0


def test_a_period_that_is_the_event_s_reported_later_still_finds_its_answer(dated):
    corpus, index_dir = dated
    (corpus / "review-2025.md").write_text(
        "---\ndate: 2025-01-20\n---\nIn 2022 the border guards of Dien Bien and Phongsaly seized 12 kg of heroin.\n",
        encoding="utf-8",
    )
    assistant = Assistant(index_dir, corpus)
    assistant.update()
    answer = assistant.ask("How many kg of heroin did the border guards seize in 2022?")
    assert contains_fact(answer.answer, "12 kg") and answer.sources[0].doc_id == "review-2025.md", answer.answer
