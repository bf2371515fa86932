"""The CLI contract: arguments and stdin, JSON shapes, and one-line errors with the right exit codes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.evaluation import contains_fact

ANSWER_KEYS = {"question", "answer", "short_answer", "abstained", "sources", "answerer", "notice"}
SOURCE_KEYS = {"n", "doc_id", "path", "title", "quote", "start", "end", "score", "published", "page", "format"}
RESULT_KEYS = {
    "rank",
    "doc_id",
    "path",
    "title",
    "start",
    "end",
    "text",
    "score",
    "bm25_score",
    "dense_score",
    "published",
    "page",
    "format",
}
QUESTION = "Who led the Lao side at the Son La border meeting?"

pytestmark = pytest.mark.slow


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), input=stdin, env=env, catch_exceptions=False)


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_ask_prints_the_answer_and_its_sources(seed_index):
    result = run("ask", "--index", str(seed_index), QUESTION)
    assert result.exit_code == 0
    assert contains_fact(result.output, "Colonel Viliem Vongthisan"), result.output
    assert "[1] Son La Luang Prabang Border Meeting — son-la-luang-prabang-border-meeting.txt, characters 0–" in result.output


def test_ask_json_shape(seed_index, seed_corpus):
    result = run("ask", "--index", str(seed_index), "--json", QUESTION)
    (answer,) = json_lines(result.output)
    assert set(answer) == ANSWER_KEYS
    assert answer["question"] == QUESTION and answer["abstained"] is False
    for source in answer["sources"]:
        assert set(source) == SOURCE_KEYS
        text = (seed_corpus / source["path"]).read_text(encoding="utf-8")
        assert text[source["start"] : source["end"]] == source["quote"]
    short = answer["short_answer"]
    assert set(short) == {"text", "doc_id", "start", "end"} and short["text"] == "Colonel Viliem Vongthisan"
    assert (seed_corpus / short["doc_id"]).read_text(encoding="utf-8")[short["start"] : short["end"]] == short["text"]


def test_ask_reads_questions_from_stdin(seed_index):
    stdin = f"{QUESTION}\n\nWhat is the capital of France?\n"
    result = run("ask", "--index", str(seed_index), "--json", "-", stdin=stdin)
    answers = json_lines(result.output)
    assert [a["question"] for a in answers] == [QUESTION, "What is the capital of France?"]
    assert [a["abstained"] for a in answers] == [False, True]
    assert answers[1]["sources"] == []


def test_index_dir_from_the_environment(seed_index):
    result = run("ask", "--json", QUESTION, env={"ASSISTANT_INDEX": str(seed_index)})
    assert json_lines(result.output)[0]["abstained"] is False


def test_search_json_shape_and_stdin(seed_index):
    result = run("search", "--index", str(seed_index), "--json", "-k", "3", "-", stdin="memorandum\nSơn La\n")
    objects = json_lines(result.output)
    assert [o["query"] for o in objects] == ["memorandum", "Sơn La"]
    for obj in objects:
        assert set(obj) == {"query", "results"}
        assert [r["rank"] for r in obj["results"]] == [1, 2, 3]
        assert all(set(r) == RESULT_KEYS for r in obj["results"])


def test_search_text_output(seed_index):
    result = run("search", "--index", str(seed_index), "memorandum of understanding")
    assert result.exit_code == 0
    assert result.output.startswith("# memorandum of understanding\n1. ")


def test_chat_carries_the_topic_between_lines(seed_index):
    stdin = "Who co-chaired the fifth defence policy dialogue?\nWhere was it held?\nWhat is the capital of France?\n"
    result = run("chat", "--index", str(seed_index), "--json", stdin=stdin)
    turns = json_lines(result.output)
    assert len(turns) == 3
    assert contains_fact(turns[1]["answer"], "Luang Prabang"), turns[1]["answer"]
    assert turns[2]["abstained"] is True


def test_chat_text_output(seed_index):
    result = run("chat", "--index", str(seed_index), stdin=QUESTION + "\n")
    assert "Sources:" in result.output and contains_fact(result.output, "Vongthisan"), result.output


def test_info(seed_index):
    result = run("info", "--index", str(seed_index), "--json")
    summary = json.loads(result.output)
    assert summary["documents"] == 2 and summary["chunks"] > 2
    assert summary["model"] == "all-MiniLM-L6-v2" and summary["dimension"] == 384
    text = run("info", "--index", str(seed_index)).output
    assert "documents: 2" in text and "built at:" in text


def test_index_command_builds_and_reports(seed_corpus, tmp_path):
    result = run("index", "--corpus", str(seed_corpus), "--index", str(tmp_path / "idx"), "--chunk-words", "60")
    assert result.exit_code == 0
    assert result.output.startswith("+2 new, 0 changed, 0 removed, 0 unchanged: 2 documents, ")
    assert (tmp_path / "idx" / "CURRENT").is_file()


def test_indexing_an_empty_corpus_fails_and_keeps_the_index(seed_index, tmp_path):
    index_dir = tmp_path / "idx"
    shutil.copytree(seed_index, index_dir)
    (tmp_path / "empty").mkdir()
    result = run("index", "--corpus", str(tmp_path / "empty"), "--index", str(index_dir))
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: no readable .txt, .md, .html, .htm, .pdf or .docx articles in")
    assert json_lines(run("ask", "--index", str(index_dir), "--json", QUESTION).output)[0]["abstained"] is False


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ask", "--index", "{missing}", "Who?"], 1, "Error: no index at {missing}/ — run: assistant index"),
        (["search", "--index", "{missing}", "x"], 1, "Error: no index at {missing}/ — run: assistant index"),
        (["info", "--index", "{missing}"], 1, "Error: no index at {missing}/ — run: assistant index"),
        (["chat", "--index", "{missing}"], 1, "Error: no index at {missing}/ — run: assistant index"),
        (["ask", "   "], 2, "the question is empty"),
        (["ask"], 2, "Missing argument 'QUESTION'"),
        (["search", ""], 2, "the query is empty"),
        (["ask", "-k", "0", "Who?"], 2, "Invalid value for '-k'"),
        (["index", "--corpus", "{missing}"], 1, "Error: no corpus folder at {missing}/"),
    ],
)
def test_user_errors_are_one_line(tmp_path, args, code, message):
    missing = str(tmp_path / "nothing")
    result = run(*[a.format(missing=missing) for a in args])
    assert result.exit_code == code
    assert message.format(missing=missing) in result.output
    assert "Traceback" not in result.output


def test_installed_command_end_to_end(seed_index, tmp_path):
    """The console script as a user runs it: a real process, no traceback on a mistake."""
    command = Path(sys.executable).parent / "assistant"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [command, "ask", "--index", str(seed_index), "--json", QUESTION], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sources"][0]["doc_id"] == "son-la-luang-prabang-border-meeting.txt"
    missing = subprocess.run(
        [command, "ask", "--index", str(tmp_path / "none"), QUESTION], capture_output=True, text=True, env=env, timeout=60
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"Error: no index at {tmp_path / 'none'}/ — run: assistant index"


def test_index_is_incremental_and_says_what_it_did(seed_corpus, tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "idx"
    shutil.copytree(seed_corpus, corpus)
    run("index", "--corpus", str(corpus), "--index", str(index_dir))
    assert "the index is up to date" in run("index", "--corpus", str(corpus), "--index", str(index_dir)).output
    (corpus / "vietnam-laos-defence-policy-dialogue.txt").unlink()
    result = run("index", "--corpus", str(corpus), "--index", str(index_dir))
    assert result.output.startswith("+0 new, 0 changed, 1 removed, 1 unchanged: 1 documents, ")
    full = run("index", "--corpus", str(corpus), "--index", str(index_dir), "--full")
    assert full.output.startswith("+1 new, 0 changed, 0 removed, 0 unchanged")


def test_add_and_remove(seed_corpus, tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "idx"
    shutil.copytree(seed_corpus, corpus)
    run("index", "--corpus", str(corpus), "--index", str(index_dir))
    article = tmp_path / "Phongsaly patrol.md"
    article.write_text("# Phongsaly patrol\n\nMajor Khamla led the Phongsaly patrol on June 9.", encoding="utf-8")
    added = run("add", "--corpus", str(corpus), "--index", str(index_dir), str(article))
    assert added.exit_code == 0
    assert added.output.splitlines()[0] == "added Phongsaly patrol.md as Phongsaly-patrol.md"
    assert "+1 new, 0 changed, 0 removed, 2 unchanged" in added.output
    answer = json_lines(run("ask", "--index", str(index_dir), "--json", "Who led the Phongsaly patrol?").output)[0]
    assert contains_fact(answer["answer"], "Major Khamla"), answer["answer"]
    again = run("add", "--corpus", str(corpus), "--index", str(index_dir), str(article))
    assert again.output.strip() == "skipped Phongsaly patrol.md: same content as Phongsaly-patrol.md, already in the corpus"
    removed = run("remove", "--corpus", str(corpus), "--index", str(index_dir), "Phongsaly-patrol.md")
    assert removed.output.startswith("removed Phongsaly-patrol.md\n+0 new, 0 changed, 1 removed, 2 unchanged")
    assert not (corpus / "Phongsaly-patrol.md").exists()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("report.odt", b"PK", "report.odt: only .txt, .md, .html, .htm, .pdf and .docx articles can be added"),
        ("report.pdf", b"%PDF-1.7\n", "report.pdf: truncated: a PDF ends with %%EOF and this one does not"),
        ("latin.txt", "café".encode("latin-1"), "latin.txt: not valid UTF-8"),
        ("blank.md", b"  \n", "blank.md: it is empty"),
    ],
)
def test_add_refuses_bad_articles_and_changes_nothing(seed_corpus, tmp_path, name, data, message):
    corpus = tmp_path / "corpus"
    shutil.copytree(seed_corpus, corpus)
    good = tmp_path / "good.md"
    good.write_text("# Good\n\nA good article.", encoding="utf-8")
    (tmp_path / name).write_bytes(data)
    result = run("add", "--corpus", str(corpus), "--index", str(tmp_path / "idx"), str(good), str(tmp_path / name))
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in corpus.iterdir()) == sorted(p.name for p in seed_corpus.iterdir())


def test_remove_refuses_unknown_or_all_articles(seed_corpus, seed_index, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(seed_corpus, corpus)
    unknown = run("remove", "--corpus", str(corpus), "--index", str(seed_index), "nope.txt")
    assert unknown.exit_code == 1 and "no article 'nope.txt'" in unknown.output
    escape = run("remove", "--corpus", str(corpus), "--index", str(seed_index), "../corpus/../../etc/passwd")
    assert escape.exit_code == 1 and "no article" in escape.output
    everything = run("remove", "--corpus", str(corpus), "--index", str(seed_index), *[p.name for p in corpus.iterdir()])
    assert everything.exit_code == 1 and "cannot remove every article" in everything.output
    assert len(list(corpus.iterdir())) == 2


def test_a_corrupted_index_names_the_fix(seed_index, tmp_path):
    index_dir = tmp_path / "idx"
    shutil.copytree(seed_index, index_dir)
    segment = next(index_dir.glob("segments/seg-*"))
    (segment / "vectors" / "chunks.faiss").write_bytes(b"broken")
    result = run("ask", "--index", str(index_dir), QUESTION)
    assert result.exit_code == 1
    assert result.output.strip().endswith("is corrupted (checksum mismatch) — run: assistant index --full")


def test_doc_filter_restricts_ask_and_search(seed_index):
    dialogue = "vietnam-laos-defence-policy-dialogue.txt"
    answer = json_lines(run("ask", "--index", str(seed_index), "--json", "--doc", dialogue, QUESTION).output)[0]
    assert not contains_fact(answer["answer"], "Vongthisan"), answer["answer"]
    assert all(s["doc_id"] == dialogue for s in answer["sources"])
    results = json_lines(run("search", "--index", str(seed_index), "--json", "--doc", dialogue, "Son La border").output)[0]
    assert {r["doc_id"] for r in results["results"]} == {dialogue}
    unknown = run("ask", "--index", str(seed_index), "--doc", "nope.txt", QUESTION)
    assert unknown.exit_code == 2 and "not in the index: nope.txt" in unknown.output
