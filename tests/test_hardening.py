"""Bad input from an attacker or a clumsy user (issue 15): one clear line, nothing lost, nothing let through.

Fast tests use the hashing stand-in embedder; the two marked `slow` run the installed command and the web
app as real processes with the real model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import httpx
import pytest
from click.testing import CliRunner
from gradio.routes import App
from gradio_client import Client
from gradio_client.exceptions import AppError
from starlette.middleware import Middleware

from assistant.cli import main
from assistant.conversation import ConversationState
from assistant.core import Assistant
from assistant.corpus import find_files
from assistant.errors import AssistantError, QuestionError
from assistant.ingest import ADMIT_LOCK, MAX_BYTES, STEM_BYTES, admit, read_upload
from assistant.question import Question
from assistant.settings import MAX_QUESTION_CHARS
from assistant.webapp import (
    UPLOAD_MAX_AGE_S,
    UPLOAD_SWEEP_S,
    ChatHandlers,
    LoginThrottle,
    build_app,
    exposure_warning,
    is_loopback,
    login_delay,
)
from assistant.webapp import main as serve_main
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


# 6. The web server: uploads, exposure, logins


def launched(index_dir: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch, *args: str, auth: str = "") -> dict:
    """What `python app.py ARGS` hands to Gradio's launch (which is not called): its options, and the app as "app"."""
    options: dict = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda app, **given: options.update(app=app, **given))
    monkeypatch.setenv("ASSISTANT_AUTH", auth)
    serve_main(["--corpus", str(corpus), "--index", str(index_dir), *args])
    return options


def test_the_server_reads_no_upload_past_the_article_limit_and_forgets_uploads(assistant, folders, monkeypatch):
    corpus, index_dir = folders
    options = launched(index_dir, corpus, monkeypatch)
    assert options["server_name"] == "127.0.0.1"
    assert options["max_file_size"] == MAX_BYTES  # Gradio's own default is no limit: it kept 200 MB uploads
    sweep_every, older_than = options["app"].delete_cache
    assert (sweep_every, older_than) == (UPLOAD_SWEEP_S, UPLOAD_MAX_AGE_S) and sweep_every <= older_than <= 3600
    assert [middleware.cls for middleware in options["app_kwargs"]["middleware"]] == [LoginThrottle]


@pytest.mark.parametrize(
    ("args", "auth", "warned"),
    [([], "", False), (["--host", "0.0.0.0"], "", True), (["--host", "0.0.0.0"], "analyst:s3cret", False)],
)
def test_serving_beyond_this_machine_without_a_login_is_warned(assistant, folders, monkeypatch, caplog, args, auth, warned):
    corpus, index_dir = folders
    with caplog.at_level(logging.WARNING, logger="assistant.webapp"):
        launched(index_dir, corpus, monkeypatch, *args, auth=auth)
    warnings = [r.getMessage() for r in caplog.records if r.name == "assistant.webapp" and r.levelno == logging.WARNING]
    assert warnings == ([exposure_warning("0.0.0.0", share=False, login=False)] if warned else [])


def test_a_question_with_markup_is_shown_as_text(assistant):
    question = "Who led <img src=x onerror=alert(1)> the <script>alert(2)</script> Lao side?"
    shown = list(ChatHandlers(assistant, stream_delay=0).respond(question, [], ConversationState(), None))
    echoed = shown[-1][0][0]
    assert echoed["role"] == "user" and "<img" not in echoed["content"] and "<script>" not in echoed["content"]
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in echoed["content"]


def test_what_counts_as_exposed():
    assert all(is_loopback(host) for host in ["127.0.0.1", "127.8.0.1", "::1", "localhost"])
    assert not any(is_loopback(host) for host in ["0.0.0.0", "::", "192.168.1.7", "10.0.0.2", "example.org", ""])
    message = exposure_warning("0.0.0.0", share=False, login=False)
    assert message and "0.0.0.0" in message and "WITHOUT A LOGIN" in message and "ASSISTANT_AUTH=user:password" in message
    assert "share link" in (exposure_warning("127.0.0.1", share=True, login=False) or "")
    assert exposure_warning("127.0.0.1", share=False, login=False) is None
    assert exposure_warning("0.0.0.0", share=True, login=True) is None


def test_the_login_delay_grows_with_failures_up_to_a_cap():
    assert [login_delay(failures) for failures in range(8)] == [0, 1, 2, 4, 8, 16, 30, 30]
    assert login_delay(10_000) == 30


def test_failed_logins_slow_down_that_client_only_and_never_lock_out(assistant):
    """Gradio's own /login behind the throttle, over ASGI; `sleep` records the waits instead of waiting."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    blocks = build_app(assistant)
    blocks.auth = [("analyst", "s3cret")]
    server = App.create_app(blocks, app_kwargs={"middleware": [Middleware(LoginThrottle, sleep=sleep)]})

    def client(address: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=server, client=(address, 50000)), base_url="http://127.0.0.1")

    async def log_in(client: httpx.AsyncClient, password: str) -> int:
        return (await client.post("/login", data={"username": "analyst", "password": password})).status_code

    async def attempts() -> list[int]:
        async with client("203.0.113.7") as guesser, client("198.51.100.2") as colleague:
            statuses = [await log_in(guesser, f"guess-{n}") for n in range(3)]
            statuses.append(await log_in(colleague, "s3cret"))  # another address: not slowed
            statuses.append(await log_in(guesser, "s3cret"))  # slowed, not locked out
            statuses.append(await log_in(guesser, "typo"))  # a success starts the count again
            return statuses

    assert asyncio.run(attempts()) == [400, 400, 400, 200, 200, 400]
    assert waits == [0, 1, 2, 0, 4, 0]

    async def in_parallel() -> list[int]:
        async with client("192.0.2.9") as guesser:
            return list(await asyncio.gather(*(log_in(guesser, f"guess-{n}") for n in range(4))))

    waits.clear()
    assert asyncio.run(in_parallel()) == [400] * 4
    assert waits == [0, 1, 2, 4]  # taken one at a time: parallel requests do not share one wait


# 7. Two additions of one name at once (issue 15, item 8)

NAME = "border-notes.txt"
_REAL_FSYNC = os.fsync


def _note(number: int) -> bytes:
    return f"# Border notes {number}\n\nThe patrol met the Lao officers at marker {number}.\n".encode()


def _slow_fsync(fd: int) -> None:
    """Writing an article aside takes long enough for every other admission to be under way: the race, made certain."""
    if os.readlink(f"/proc/self/fd/{fd}").endswith(".partial"):
        time.sleep(0.1)
    _REAL_FSYNC(fd)


def _admitted(corpus: Path, contents: list[bytes], outcomes: list) -> None:
    """Every distinct content is in the corpus once, under its own name, as its admission says; the rest are
    reported as duplicates of it, and nothing half-written is left."""
    assert all(isinstance(outcome, list) for outcome in outcomes), outcomes  # no admission failed
    admissions = [admission for outcome in outcomes for admission in outcome]
    files = {path.name: path.read_bytes() for path in corpus.iterdir() if not path.name.startswith(".")}
    distinct = set(contents)
    expected = [NAME] + [f"border-notes-{n}.txt" for n in range(2, len(distinct) + 1)]
    assert sorted(files) == sorted(expected) and sorted(files.values()) == sorted(distinct)
    assert sorted(doc_id for doc_id, added in admissions if added) == sorted(expected)
    assert all(added or doc_id in files for doc_id, added in admissions)
    assert sum(not added for _, added in admissions) == len(contents) - len(distinct)
    assert [path.name for path in corpus.iterdir() if path.name.startswith(".")] == [ADMIT_LOCK]


def _admit_in_child(corpus: Path, content: bytes, start, results) -> None:
    start.wait()
    try:
        results.put([(a.doc_id, a.added) for a in admit(corpus, [(NAME, content)])])
    except Exception as error:  # reported to the test, which shows it
        results.put(repr(error))


@pytest.mark.parametrize("same_content", [False, True], ids=["different content", "same content"])
def test_threads_adding_one_name_at_once_lose_nothing(tmp_path, monkeypatch, same_content):
    corpus = tmp_path / "corpus"
    contents = [_note(1 if same_content else n) for n in range(4)]
    monkeypatch.setattr(os, "fsync", _slow_fsync)
    start = threading.Barrier(len(contents))

    def add(content: bytes) -> list | str:
        start.wait()
        try:
            return [(a.doc_id, a.added) for a in admit(corpus, [(NAME, content)])]
        except Exception as error:
            return repr(error)

    with ThreadPoolExecutor(len(contents)) as pool:
        outcomes = list(pool.map(add, contents))
    _admitted(corpus, contents, outcomes)


@pytest.mark.parametrize("same_content", [False, True], ids=["different content", "same content"])
def test_two_processes_adding_one_name_at_once_lose_nothing(tmp_path, monkeypatch, same_content):
    corpus = tmp_path / "corpus"
    contents = [_note(1), _note(1 if same_content else 2)]
    monkeypatch.setattr(os, "fsync", _slow_fsync)  # forked children inherit it
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(len(contents)), context.Queue()
    workers = [context.Process(target=_admit_in_child, args=(corpus, content, start, results)) for content in contents]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    _admitted(corpus, contents, outcomes)


def test_uploads_of_one_name_at_once_are_both_indexed(assistant, monkeypatch):
    monkeypatch.setattr(os, "fsync", _slow_fsync)
    with ThreadPoolExecutor(2) as pool:
        added = list(pool.map(lambda n: assistant.add_articles([(NAME, _note(n))])[0], [1, 2]))
    assert sorted(a.doc_id for [a] in added) == sorted([NAME, "border-notes-2.txt"])
    assert {NAME, "border-notes-2.txt"} <= set(assistant.documents())


def test_an_over_long_name_is_shortened_to_fit_any_file_system(folders):
    corpus, _ = folders
    name = "越南老挝边境会谈" * 40 + ".txt"  # 960 bytes of UTF-8; a file name may have 255
    [admission] = admit(corpus, [(name, _note(1))])
    assert admission.added and (corpus / admission.doc_id).read_bytes() == _note(1)
    assert len(admission.doc_id.encode()) <= STEM_BYTES + len(".txt") and admission.doc_id.startswith("越南老挝")
    [again] = admit(corpus, [(name, _note(2))])
    assert again.doc_id == admission.doc_id.removesuffix(".txt") + "-2.txt"


# 8. Files put straight into the corpus folder keep the article limit


def test_a_file_over_the_limit_put_into_the_corpus_is_skipped_and_nothing_is_lost(assistant, folders, caplog):
    corpus, _ = folders
    before = set(assistant.documents())
    sentence = b"The delegation crossed the border at marker 42. "
    (corpus / "huge.txt").write_bytes(sentence * (MAX_BYTES // len(sentence) + 1))
    (corpus / "small.txt").write_bytes(_note(7))
    with caplog.at_level(logging.WARNING):
        report = assistant.update()
    assert "skipped huge.txt: larger than 5 MB" in [r.getMessage() for r in caplog.records]
    assert report.new == 1 and set(assistant.documents()) == before | {"small.txt"}
    (corpus / "small.txt").unlink()
    with (corpus / ARTICLE).open("ab") as grown:  # an indexed article that grows past the limit goes like an unreadable one
        grown.truncate(MAX_BYTES + 1)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assistant.update()
    assert f"skipped {ARTICLE}: larger than 5 MB" in [r.getMessage() for r in caplog.records]
    assert set(assistant.documents()) == before - {ARTICLE}


# 9. The chat's trash icon, like the Clear button, forgets the conversation (issue 15, item 10)


@pytest.mark.parametrize(("element", "event"), [("chat", "clear"), ("clear", "click")], ids=["trash icon", "Clear button"])
def test_clearing_the_chat_forgets_its_topic(assistant, element, event):
    app = build_app(assistant)
    blocks = {getattr(block, "elem_id", None): block for block in app.blocks.values()}
    [state] = [block for block in app.blocks.values() if isinstance(block, gr.State)]
    [ask] = [f for f in app.fns.values() if (blocks["question"]._id, "submit") in f.targets]
    [clear] = [f for f in app.fns.values() if (blocks[element]._id, event) in f.targets]
    conversation = ConversationState()
    for _ in ask.fn("Who co-chaired the fifth defence policy dialogue?", [], conversation, None):
        pass
    assert conversation.topics  # the turn was remembered: a follow-up would lean on it
    after = dict(zip([output._id for output in clear.outputs], clear.fn(), strict=True))
    assert after[blocks["chat"]._id] == [] and after[state._id] == ConversationState()


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


@pytest.mark.slow
def test_the_web_server_stops_an_upload_at_the_article_limit(seed_corpus, seed_index, tmp_path):
    corpus, index_dir, cache = tmp_path / "corpus", tmp_path / "index", tmp_path / "gradio-cache"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index_dir)
    with running_app(corpus, index_dir, GRADIO_TEMP_DIR=str(cache)) as url:
        large = httpx.post(url + "gradio_api/upload", files=[("files", ("large.txt", b"a" * (MAX_BYTES + 1), "text/plain"))])
        assert large.status_code == 413, large.text
        assert not [p for p in cache.rglob("*") if p.is_file()]  # nothing of it kept
        small = httpx.post(url + "gradio_api/upload", files=[("files", ("small.txt", b"a" * MAX_BYTES, "text/plain"))])
        assert small.status_code == 200 and Path(small.json()[0]).stat().st_size == MAX_BYTES


@pytest.mark.slow
def test_the_web_server_slows_failed_logins(seed_corpus, seed_index):
    with running_app(seed_corpus, seed_index, ASSISTANT_AUTH="analyst:s3cret") as url, httpx.Client(base_url=url) as client:
        took, statuses = [], []
        for password in ["guess", "guess", "s3cret"]:
            started = time.monotonic()
            statuses.append(client.post("login", data={"username": "analyst", "password": password}).status_code)
            took.append(time.monotonic() - started)
        assert statuses == [400, 400, 200]
        assert took[1] >= 1 and took[2] >= 2  # waits of 1 and 2 s after one and two failures
