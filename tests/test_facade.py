"""The whole pipeline through its one door, `Assistant`, and through the CLI over it, in the fast tier.

The hashing stand-in embeds (tests/fakes.py); FAISS, BM25, the index on
disk and the answerer are the real ones. What a real model changes (which
answers are right) is checked in the slow tier: here, what the facade
promises whatever the embedder.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from assistant.backends.local.segments import file_checksum
from assistant.backends.local.tables import RecordTable
from assistant.cli import main
from assistant.conversation import ConversationState
from assistant.core import Assistant
from assistant.errors import AssistantError, NoIndexError, UnknownDocumentError
from assistant.evaluation import quotes_verified
from tests.fakes import HASHING_EMBEDDER

QUESTION = "Who led the Lao side at the Son La border meeting?"
PATROL = "# Phongsaly patrol\n\nMajor Khamla Vongsa led the Phongsaly joint patrol on June 9."


def test_nothing_loads_until_asked_and_a_missing_index_says_so(tmp_path):
    assistant = Assistant(tmp_path / "none", tmp_path)
    with pytest.raises(NoIndexError, match="no index at"):
        assistant.ask(QUESTION)


def test_answers_quote_the_indexed_text(assistant):
    answer = assistant.ask(QUESTION)
    assert not answer.abstained and answer.sources
    assert quotes_verified(answer, assistant.index.documents)
    assert assistant.ask("What is the capital of France?").abstained


def test_search_in_every_mode_and_within_documents(assistant):
    doc_id = next(iter(assistant.documents()))
    for mode in ("bm25", "dense", "hybrid"):
        passages = assistant.search("border meeting memorandum", k=3, mode=mode)
        assert 0 < len(passages) <= 3 and [p.rank for p in passages] == list(range(1, len(passages) + 1))
        within = assistant.search("border meeting memorandum", k=3, mode=mode, doc_ids=[doc_id])
        assert within and {p.document.doc_id for p in within} == {doc_id}
    with pytest.raises(UnknownDocumentError, match=r"not in the index: nowhere\.txt"):
        assistant.search("border", doc_ids=["nowhere.txt"])
    with pytest.raises(AssistantError, match="empty"):
        assistant.ask("  ")


def test_info_and_documents_need_no_model(folders, assistant):
    _, index_dir = folders
    fresh = Assistant(index_dir)
    info = fresh.info()
    assert info["documents"] == len(fresh.documents()) == 2
    assert (info["embedder"], info["backend"]) == (HASHING_EMBEDDER, "local")
    assert all(record.sha256 and record.text_sha256 and record.chunks for record in fresh.documents().values())


def test_adding_and_removing_move_the_answering_version(assistant):
    before = assistant.index.name
    admissions, report = assistant.add_articles([("patrol.md", PATROL.encode())])
    assert [a.added for a in admissions] == [True] and report is not None and report.new == 1
    assert assistant.index.name != before and "patrol.md" in assistant.index.manifest.documents
    assert assistant.search("Phongsaly patrol Khamla", k=1, mode="bm25")[0].document.doc_id == "patrol.md"
    removed, report = assistant.remove_articles(["patrol.md"])
    assert removed == ["patrol.md"] and report.removed == 1
    assert "patrol.md" not in assistant.documents()


def test_a_conversation_carries_its_topic(assistant):
    state = ConversationState()
    assistant.ask("Who co-chaired the fifth defence policy dialogue?", state=state)
    decision = assistant.decide("Where was it held?", state=state)
    assert state.topics and decision.answer.question == "Where was it held?"


def test_the_cli_builds_answers_and_reports_through_the_facade(folders):
    corpus, index_dir = folders
    runner = CliRunner()
    where = ["--index", str(index_dir)]
    built = runner.invoke(main, ["index", "--corpus", str(corpus), *where, "--embedder", HASHING_EMBEDDER])
    assert built.exit_code == 0 and built.output.startswith("+2 new, 0 changed, 0 removed, 0 unchanged")
    answer = json.loads(runner.invoke(main, ["ask", *where, "--json", QUESTION]).output)
    assert answer["question"] == QUESTION and answer["sources"]
    info = json.loads(runner.invoke(main, ["info", *where, "--json"]).output)
    assert (info["embedder"], info["backend"], info["documents"]) == (HASHING_EMBEDDER, "local", 2)
    unknown = runner.invoke(main, ["ask", *where, "--doc", "nowhere.txt", QUESTION])
    assert unknown.exit_code == 2 and "not in the index: nowhere.txt" in unknown.output and "Traceback" not in unknown.output


def test_metadata_from_front_matter_filters_the_search(folders):
    corpus, index_dir = folders
    (corpus / "dated.md").write_text(
        "---\ntitle: Talks in Sơn La\ndate: 2023-03-28\nlanguage: en\n---\nBorder guards signed a memorandum in Son La.",
        encoding="utf-8",
    )
    assistant = Assistant(index_dir, corpus)
    assistant.update(embedder=HASHING_EMBEDDER)
    assert assistant.documents()["dated.md"].metadata == {"date": "2023-03-28", "language": "en"}
    for where in ({"date": "2023"}, {"date": "2023-03-28", "language": "EN"}):
        passages = assistant.search("memorandum", where=where)
        assert passages and {p.document.doc_id for p in passages} == {"dated.md"}
    assert assistant.search("memorandum", where={"date": "2024"}) == []
    assert assistant.search("memorandum", where={"date": "2023"}, doc_ids=["son-la-luang-prabang-border-meeting.txt"]) == []
    assert assistant.ask("Who signed a memorandum?", where={"language": "vi"}).abstained
    runner = CliRunner()
    found = runner.invoke(main, ["search", "--index", str(index_dir), "--json", "--where", "date=2023", "memorandum"])
    assert {r["doc_id"] for r in json.loads(found.output)["results"]} == {"dated.md"}
    bad = runner.invoke(main, ["search", "--index", str(index_dir), "--where", "date", "memorandum"])
    assert bad.exit_code == 2 and "'date' is not KEY=VALUE" in bad.output


def test_an_empty_document_filter_finds_nothing(assistant):
    assert assistant.search("border meeting", doc_ids=[]) == []
    assert assistant.ask(QUESTION, doc_ids=[]).abstained


def test_an_index_written_before_readers_gains_their_metadata(folders):
    """Entries from before readers (no format, no metadata, one hash) load, and the next update reads them again."""
    corpus, index_dir = folders
    (corpus / "dated.md").write_text("---\ndate: 2023-03-28\n---\nBorder guards signed a memorandum.", encoding="utf-8")
    assistant = Assistant(index_dir, corpus)
    assistant.update(embedder=HASHING_EMBEDDER)
    (segment,) = index_dir.glob("segments/seg-*")
    table = RecordTable.load(segment / "documents")
    lines = []
    for row in range(len(table)):
        record = json.loads(table.line(row))
        for key in ("text_sha256", "format", "metadata", "pages"):
            del record[key]
        lines.append((json.dumps(record) + "\n").encode())
    edited = RecordTable.of_lines(table.id_list, [bytes(t) for t in table.texts], lines)
    shutil.rmtree(segment / "documents")
    edited.save(segment / "documents")
    description = json.loads((segment / "segment.json").read_text(encoding="utf-8"))
    description["files"] = {
        name: [(segment / name).stat().st_size, file_checksum(segment / name)] for name in description["files"]
    }
    (segment / "segment.json").write_text(json.dumps(description), encoding="utf-8")
    old = Assistant(index_dir, corpus)
    assert old.documents()["dated.md"].metadata == {} and old.search("memorandum", where={"date": "2023"}) == []
    report = old.update()
    assert (report.new, report.changed, report.embedded) == (0, 0, 0)
    assert old.documents()["dated.md"].metadata == {"date": "2023-03-28", "language": "en"}
    assert {p.document.doc_id for p in old.search("memorandum", where={"date": "2023"})} == {"dated.md"}


def test_an_unknown_backend_is_one_line(folders, monkeypatch):
    _, index_dir = folders
    monkeypatch.setenv("ASSISTANT_BACKEND", "bogus")
    result = CliRunner().invoke(main, ["info", "--index", str(index_dir)])
    assert result.exit_code == 1 and result.output.strip() == "Error: unknown index backend 'bogus'; choose from local, milvus"


def test_an_assistant_made_from_a_version_follows_its_index_only_when_told_where(folders, assistant):
    _, index_dir = folders
    version, embedder = assistant.index, assistant.retriever.embedder
    follower = Assistant.from_version(version, embedder, index_dir=index_dir)
    pinned = Assistant.from_version(version, embedder)
    assistant.add_articles([("patrol.md", PATROL.encode())])
    assert follower.index.name != version.name and "patrol.md" in follower.index.manifest.documents
    assert pinned.index.name == version.name


def test_adding_and_removing_articles_reads_only_those_articles(folders, assistant, monkeypatch):
    """An upload or `remove` names what changed: the rest of the corpus is not even listed (README, "Segments")."""
    corpus, _ = folders
    (corpus / "copied-in-by-hand.txt").write_text("Colonel Bounmy Keola toured marker 42.", encoding="utf-8")

    def no_listing(corpus_dir):
        raise AssertionError("the whole corpus was listed")

    monkeypatch.setattr("assistant.indexer.scan_files", no_listing)
    _, report = assistant.add_articles([("patrol.md", PATROL.encode())])
    assert report is not None and (report.new, report.removed, report.unchanged) == (1, 0, 2)
    assert set(assistant.documents()) == {*(p.name for p in folders[0].glob("*.txt")), "patrol.md"} - {"copied-in-by-hand.txt"}
    assert "Khamla Vongsa" in assistant.ask("Who led the Phongsaly joint patrol?").answer
    removed, report = assistant.remove_articles(["./patrol.md"])
    assert removed == ["patrol.md"] and (report.new, report.removed, report.unchanged) == (0, 1, 2)
    assert "patrol.md" not in assistant.documents()
    monkeypatch.undo()
    assert assistant.update().new == 1  # a full update finds what was copied in by hand
