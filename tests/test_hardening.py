"""Bad input from an attacker or a clumsy user (issue 15): one clear line, nothing lost, nothing let through.

Fast tests use the hashing stand-in embedder; the two marked `slow` run the installed command and the web
app as real processes with the real model.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import gradio as gr
import httpx
import pytest
from click.testing import CliRunner
from gradio_client import Client
from gradio_client.exceptions import AppError

from assistant.cli import main
from assistant.conversation import ConversationState
from assistant.core import Assistant
from assistant.corpus import find_files
from assistant.errors import AssistantError, QuestionError
from assistant.ingest import MAX_BYTES, read_upload
from assistant.question import Question
from assistant.settings import MAX_QUESTION_CHARS
from assistant.webapp import ChatHandlers
from tests.conftest import SEED_CORPUS
from tests.fakes import HASHING_EMBEDDER
from tests.test_web import running_app

QUESTION = "Who led the Lao side at the Son La border meeting?"
OTHER = "What did the Son La Border Guard Command provide to the Lao partners?"
INVALID = "who\udcff?"  # b"who\xff?" as Python hands it over: an argument, or stdin, decoded with surrogate escapes
NOT_UTF8 = "the question is not valid UTF-8 (cannot decode byte 0xff at character 4)"
TOO_LONG = "x" * (MAX_QUESTION_CHARS + 1)
LIMIT = f"at most {MAX_QUESTION_CHARS:,} characters"
ARTICLE = "son-la-luang-prabang-border-meeting.txt"
SECRET = "root:x:0:0:the-secret-marker-ovelk:/root:/bin/bash\n"
COMMAND = Path(sys.executable).parent / "assistant"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    return corpus, tmp_path / "index"


@pytest.fixture
def assistant(folders: tuple[Path, Path]) -> Assistant:
    corpus, index_dir = folders
    assistant = Assistant(index_dir, corpus)
    assistant.update(embedder=HASHING_EMBEDDER)
    return assistant


def cli(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


def one_line_error(text: str, exit_code: int, result) -> None:
    """`result` ended with `exit_code` and a single stderr line holding `text`, no traceback."""
    assert result.exit_code == exit_code, (result.output, result.exception)
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert text in result.stderr and "Traceback" not in result.output


# 1. Invalid UTF-8 in a question


def test_the_facade_refuses_invalid_utf8_naming_the_byte(assistant):
    for call in (assistant.ask, assistant.decide, assistant.search):
        with pytest.raises(QuestionError, match=r"not valid UTF-8.*0xff"):
            call(INVALID)
    with pytest.raises(QuestionError, match=r"not valid Unicode.*U\+D800"):
        assistant.ask("who\ud800?")  # a lone surrogate from a JSON escape, not a byte


@pytest.mark.parametrize("command", ["ask", "search"])
def test_an_invalid_utf8_argument_is_one_line_and_exit_2(assistant, command):
    result = cli(command, "--index", str(assistant.index_dir), INVALID)
    one_line_error(NOT_UTF8.replace("question", "query" if command == "search" else "question"), 2, result)


@pytest.mark.parametrize("command", ["ask", "search", "chat"])
def test_a_stdin_batch_answers_the_other_lines(assistant, command):
    stdin = QUESTION.encode() + b"\nwho\xff?\n\n" + OTHER.encode() + b"\n"
    args = [command, "--index", str(assistant.index_dir), "--json"] + ([] if command == "chat" else ["-"])
    result = cli(*args, stdin=stdin)
    one_line_error("Error: line 2: the", 2, result)
    assert "not valid UTF-8" in result.stderr
    key = "query" if command == "search" else "question"
    assert [json.loads(line)[key] for line in result.stdout.splitlines()] == [QUESTION, OTHER]


def test_the_web_api_and_chat_box_name_invalid_utf8(assistant):
    handlers = ChatHandlers(assistant, stream_delay=0)
    with pytest.raises(gr.Error, match="not valid UTF-8"):
        handlers.ask(INVALID)
    shown = list(handlers.respond(INVALID, [], ConversationState(), None))
    json.dumps(shown[-1][0], ensure_ascii=False).encode("utf-8")  # every update reaches the browser as UTF-8
    assert "the question is not valid UTF\\-8" in shown[-1][0][-1]["content"]  # as Markdown
    assert all(INVALID not in message["content"] for update in shown for message in update[0])


# 2. A limit on the question's length, on every face


def test_the_facade_refuses_a_long_question_before_analysing_it(assistant, monkeypatch):
    assert assistant.ask("x" * (MAX_QUESTION_CHARS - 2) + " ?").question  # at the limit: answered
    monkeypatch.setattr(Question, "analyse", lambda *a, **k: pytest.fail("a refused question was analysed"))
    for call in (assistant.ask, assistant.decide, assistant.search):
        with pytest.raises(QuestionError, match=LIMIT):
            call("x" * 10_000_000)
    assert issubclass(QuestionError, AssistantError)


@pytest.mark.parametrize("command", ["ask", "search", "chat"])
def test_a_long_question_on_the_command_line_is_one_line_and_exit_2(assistant, command):
    if command != "chat":
        one_line_error(LIMIT, 2, cli(command, "--index", str(assistant.index_dir), TOO_LONG))
    args = [command, "--index", str(assistant.index_dir), "--json"] + ([] if command == "chat" else ["-"])
    batch = cli(*args, stdin=f"{TOO_LONG}\n{QUESTION}\n".encode())
    one_line_error(f"Error: line 1: the {'query' if command == 'search' else 'question'} is", 2, batch)
    assert len(batch.stdout.splitlines()) == 1


def test_a_long_question_on_the_web_is_refused(assistant):
    handlers = ChatHandlers(assistant, stream_delay=0)
    with pytest.raises(gr.Error, match=LIMIT):
        handlers.ask("x" * 10_000_000)
    shown = list(handlers.respond("x" * 10_000_000, [], ConversationState(), None))
    assert len(shown) == 1 and LIMIT in shown[0][0][-1]["content"]
    assert all(len(message["content"]) < 500 for message in shown[0][0])  # the question is not echoed into the page


# 3. `assistant remove` on a symbolic link


def test_remove_deletes_a_link_never_its_target(assistant, folders, tmp_path):
    corpus, _ = folders
    outside = tmp_path / "outside.txt"
    outside.write_text("A file of the user's, outside the corpus.", encoding="utf-8")
    (corpus / "outside-link.txt").symlink_to(outside)
    (corpus / "alias.txt").symlink_to(corpus / ARTICLE)
    assistant.remove_articles(["alias.txt"])
    assert (corpus / ARTICLE).is_file() and ARTICLE in assistant.documents()
    assert not (corpus / "alias.txt").is_symlink()
    assistant.remove_articles(["outside-link.txt"])  # an entry of the corpus, though not indexed
    assert outside.read_text(encoding="utf-8").startswith("A file") and not (corpus / "outside-link.txt").is_symlink()


def test_remove_refuses_a_path_through_a_linked_folder(assistant, folders, tmp_path):
    corpus, _ = folders
    (tmp_path / "elsewhere").mkdir()
    victim = tmp_path / "elsewhere" / "notes.txt"
    victim.write_text("Someone else's notes.", encoding="utf-8")
    (corpus / "linked").symlink_to(tmp_path / "elsewhere")
    result = cli("remove", "--corpus", str(corpus), "--index", str(assistant.index_dir), "linked/notes.txt")
    one_line_error("no article 'linked/notes.txt'", 1, result)
    assert victim.is_file()


# 4. Links when indexing


def test_links_outside_the_corpus_are_skipped_with_a_warning(folders, tmp_path, caplog):
    corpus, index_dir = folders
    secret = tmp_path / "passwd"
    secret.write_text(SECRET, encoding="utf-8")
    (corpus / "passwd.txt").symlink_to(secret)
    (corpus / "etc-passwd.txt").symlink_to("/etc/passwd")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "alias.txt").symlink_to(Path("..") / ARTICLE)  # inside the corpus: indexed like any article
    with caplog.at_level(logging.WARNING):
        assert sorted(p.relative_to(corpus).as_posix() for p in find_files(corpus)) == sorted(
            [ARTICLE, "sub/alias.txt", "vietnam-laos-defence-policy-dialogue.txt"]
        )
    messages = [r.getMessage() for r in caplog.records]
    assert "skipped passwd.txt: a link to a file outside the corpus" in messages
    assert "skipped etc-passwd.txt: a link to a file outside the corpus" in messages
    assistant = Assistant(index_dir, corpus)
    assistant.update(embedder=HASHING_EMBEDDER)
    assert set(assistant.documents()) == {ARTICLE, "sub/alias.txt", "vietnam-laos-defence-policy-dialogue.txt"}
    passages = assistant.search("root the-secret-marker-ovelk bash", k=10, mode="bm25")
    assert all("secret-marker" not in p.text for p in passages)


# 5. `assistant add` of something that is not a small regular file


def _limited() -> None:
    """For the child: at most 2 GB of memory, so reading /dev/zero whole fails instead of taking the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("kind", ["device", "pipe"])
def test_add_refuses_what_is_not_a_regular_file_without_reading_it(folders, tmp_path, kind):
    corpus, index_dir = folders
    if kind == "device":
        offered = Path("/dev/zero")
    else:
        offered = tmp_path / "pipe.txt"
        os.mkfifo(offered)
    done = subprocess.run(
        [COMMAND, "add", "--corpus", str(corpus), "--index", str(index_dir), str(offered)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limited,
        env={**os.environ, "ASSISTANT_SHORT_ANSWERS": "rules"},
    )
    assert done.returncode == 1 and done.stderr.strip() == f"Error: {offered}: not a regular file", done.stderr
    assert sorted(p.name for p in corpus.iterdir()) == sorted(p.name for p in SEED_CORPUS.glob("*.txt"))


def test_add_refuses_a_large_file_by_its_size(tmp_path):
    large = tmp_path / "large.txt"
    with large.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)  # sparse: its size says enough
    with pytest.raises(AssistantError, match=r"^large\.txt: larger than 5 MB$"):
        read_upload(large)


# The same through real processes, with the real model


@pytest.mark.slow
def test_the_installed_command_names_invalid_utf8(seed_index):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    argument = subprocess.run(
        [COMMAND, "ask", "--index", str(seed_index), b"who\xff?"], capture_output=True, text=True, env=env, timeout=120
    )
    assert argument.returncode == 2 and argument.stdout == ""
    assert argument.stderr.strip() == f"Error: {NOT_UTF8}"
    batch = subprocess.run(
        [COMMAND, "ask", "--index", str(seed_index), "--json", "-"],
        input=QUESTION.encode() + b"\nwho\xff?\n" + OTHER.encode() + b"\n",
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert batch.returncode == 2
    assert batch.stderr.decode().strip() == f"Error: line 2: {NOT_UTF8}"
    assert [json.loads(line)["question"] for line in batch.stdout.decode().splitlines()] == [QUESTION, OTHER]


@pytest.mark.slow
def test_the_web_api_names_bad_questions(seed_corpus, seed_index, tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index_dir)
    with running_app(corpus, index_dir) as url:
        # gradio_client cannot send a lone surrogate (httpx encodes to strict UTF-8); a JSON escape can
        started = httpx.post(
            url + "gradio_api/call/ask", content=b'{"data": ["who\\udcff?"]}', headers={"content-type": "application/json"}
        )
        events = httpx.get(url + f"gradio_api/call/ask/{started.json()['event_id']}", timeout=120).text
        assert events.startswith("event: error") and f'"error": "{NOT_UTF8}"' in events, events
        client = Client(url, verbose=False)
        with pytest.raises(AppError, match=LIMIT):
            client.predict("x" * 1_000_000, api_name="/ask")
        assert not json.loads(client.predict(QUESTION, api_name="/ask"))["abstained"]  # and it still answers
