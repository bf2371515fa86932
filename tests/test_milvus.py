"""The `milvus` backend beyond the contract suite: BM25 as the local backend scores it, long texts, a server
that is down, a writer that dies, and the assistant answering from Milvus as it answers from files.

The tests that need a server start milvus-lite through the `milvus_server` fixture and are slow; the
rest (scoring, splitting, an unreachable server) run in the fast tier.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pymilvus import DataType, MilvusClient

from assistant.backends.local.lexical import BM25Index
from assistant.backends.milvus import MilvusBackend
from assistant.backends.milvus.lexical import TermCounts, bm25_scores, engine_text, engine_token, term_of, terms_of
from assistant.backends.milvus.lock import WriterLock
from assistant.backends.milvus.store import ALIVE, BLOB_BYTES, MilvusUnreachableError, split_utf8
from assistant.cli import main
from assistant.core import Assistant
from assistant.errors import IndexBusyError
from assistant.settings import BM25Params, MilvusSettings, SearchSettings
from assistant.textnorm import query_terms
from tests.contracts.test_backend_contract import ARTICLES, all_prepared, commit, prepared, request, update
from tests.fakes import HASHING_EMBEDDER
from tests.milvus_server import MilvusServer, free_port, milvus_server  # noqa: F401  (the server fixture)

ROOT = Path(__file__).resolve().parent.parent


# ---- fast: no server


@pytest.mark.parametrize("params", [BM25Params("okapi"), BM25Params("bm25+"), BM25Params("bm25+", k1=1.5, b=0.5, delta=0.5)])
def test_bm25_scores_are_the_local_backends(params):
    """The milvus backend scores its candidates as the local backend does, term for term, repeats and unknown terms in."""
    chunks = [terms for p in all_prepared().values() for terms in p.terms]
    local = BM25Index.build(chunks, params)
    counts = TermCounts()
    counts.add(chunks)
    for question in ("Who led the Lao side at the Son La meeting?", "cattle cattle Houaphanh zyxwv", "Lao Lao Lao border"):
        terms = query_terms(question)
        assert np.allclose(bm25_scores(terms, chunks, counts, params), local.scores(terms), atol=1e-5), question
    for term in {t for c in chunks for t in c} | {"zyxwv"}:
        assert counts.idf(term) == pytest.approx(local.idf(term)) and counts.knows(term) == local.knows(term)


def test_term_counts_forget_what_an_update_drops():
    first, second = [["lao", "border", "lao"], ["cattle"]], [["hanoi", "border"]]
    counts = TermCounts()
    counts.add(first)
    counts.add(second)
    counts.add(first, sign=-1)
    expected = TermCounts()
    expected.add(second)
    assert counts == expected and TermCounts.from_dict(json.loads(json.dumps(counts.to_dict()))) == counts


def test_terms_reach_the_engine_as_single_tokens_and_come_back():
    terms = ["vietnam", "28", "中国", "xieng", "x", "café", "đ"]
    tokens = [engine_token(t) for t in terms]
    assert all(token.isascii() and token.isalnum() and token == token.lower() for token in tokens)
    assert tokens[:2] == ["vietnam", "28"]  # plain terms are written as they are
    assert [term_of(token) for token in tokens] == terms
    assert terms_of(engine_text(terms)) == terms


@pytest.mark.parametrize("text", ["", "short", "é" * 40_000, "中" * 25_000 + "x", "a" * (2 * BLOB_BYTES + 7)])
def test_texts_split_under_the_varchar_limit_between_characters(text):
    pieces = split_utf8(text)
    assert "".join(pieces) == text
    assert all(len(piece.encode("utf-8")) <= BLOB_BYTES for piece in pieces)


def test_an_unreachable_server_is_one_line_naming_its_uri(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    backend = MilvusBackend(tmp_path / "index", MilvusSettings(uri=uri))
    for call in (backend.version_name, backend.open, backend.read_manifest, lambda: backend.writing(1.0).__enter__()):
        with pytest.raises(MilvusUnreachableError) as caught:
            call()
        message = str(caught.value)
        assert uri in message and "\n" not in message and "make milvus" in message


def test_the_cli_reports_an_unreachable_server_in_one_line(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    env = {"ASSISTANT_BACKEND": "milvus", "ASSISTANT_MILVUS_URI": uri, "ASSISTANT_INDEX": str(tmp_path / "index")}
    result = CliRunner().invoke(main, ["info"], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot reach Milvus at " + uri), result.output


# ---- slow: a milvus-lite server


@pytest.fixture
def backend(milvus_server, tmp_path):  # noqa: F811
    return MilvusBackend(tmp_path / "index", milvus_server.settings())


@pytest.mark.slow
def test_a_text_longer_than_a_varchar_is_stored_in_rows_and_read_back(backend):
    text = "Đoàn đại biểu Việt Nam và Lào đã ký biên bản ghi nhớ. " * 3_000  # about 190 KB of UTF-8
    commit(backend, update({"long.txt": prepared("long.txt", "Dài", text)}))
    version = backend.open()
    assert version.documents["long.txt"].text == text
    rows = backend.store.query(backend.store.blobs, 'kind == "text"', ["part"])
    assert len(rows) == len(split_utf8(text)) > 3


@pytest.mark.slow
def test_a_writer_that_dies_before_its_switch_leaves_the_version_in_use_and_the_next_one_cleans_up(backend, monkeypatch):
    name = commit(backend, update(all_prepared()))
    old = backend.open()
    kept = {"son-la.txt": old.manifest.documents["son-la.txt"]}
    changed = prepared("cattle.txt", "Cattle", "The command gave sixty buffaloes to families in Xieng Khouang.")
    store = backend.store
    write_blob = store.write_blob

    def die_at_the_switch(kind: str, key: str, text: str) -> int:
        if kind == "version":
            raise KeyboardInterrupt  # as a kill would stop it: after every row, before the commit record
        return write_blob(kind, key, text)

    monkeypatch.setattr(store, "write_blob", die_at_the_switch)
    with pytest.raises(KeyboardInterrupt):
        commit(backend, update({"cattle.txt": changed}, kept))
    monkeypatch.setattr(store, "write_blob", write_blob)
    # The version in use answers as it did: the half-written rows are not visible, the dropped ones still are.
    assert backend.version_name() == name
    version = backend.open()
    assert set(version.manifest.documents) == set(ARTICLES)
    hits = version.search(request("defence dialogue Hanoi"), 3, "bm25", SearchSettings())
    assert version.chunk(hits[0].chunk_id).doc_id == "dialogue.txt"
    chunks = store.chunks(version.record.layout)
    assert store.query(chunks, f"born > {version.record.number}", ["pk"])  # what the dead writer left
    # The next writer removes it and revives what it had dropped, then finishes the job.
    with backend.writing(5.0):
        assert not store.query(chunks, f"born > {version.record.number}", ["pk"])
        assert not store.query(chunks, f"died > {version.record.number} and died < {ALIVE}", ["pk"])
        newer = backend.commit(update({"cattle.txt": changed}, kept), backend.open())
    assert backend.version_name() == newer != name
    assert list(backend.open().manifest.documents) == ["son-la.txt", "cattle.txt"]


@pytest.mark.slow
def test_a_lock_left_by_a_dead_process_is_taken_over(backend):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    lock = WriterLock(backend.store)
    lock.store.ensure_blobs()
    # Take the lock as that process would have, and leave it held.
    token = "deadbeefdeadbeef"
    store = backend.store
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    store.client.create_collection(lock._holder_collection(token), schema=schema)
    store.write_blob("writer", token, json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "beat": time.time()}))
    store.client.create_alias(lock._holder_collection(token), lock.alias)
    with backend.writing(2.0):  # taken over at once: its holder is gone
        pass
    assert store.blob_keys("writer") == set()


@pytest.mark.slow
def test_a_live_writer_keeps_the_lock(backend, milvus_server):  # noqa: F811
    other = MilvusBackend(backend.index_dir, backend.settings)
    with backend.writing(1.0), pytest.raises(IndexBusyError, match="another process"), other.writing(0.3):
        pass


@pytest.mark.slow
def test_the_assistant_answers_from_milvus_as_from_files(milvus_server, folders):  # noqa: F811
    """Same corpus, same embedder: the same passages in the same order, and verified quotes, from either backend."""
    corpus, index_dir = folders
    local = Assistant(index_dir, corpus)
    local.update(embedder=HASHING_EMBEDDER)
    remote = Assistant(
        index_dir.with_name("cache"), corpus, backend=MilvusBackend(index_dir.with_name("cache"), milvus_server.settings())
    )
    report = remote.update(embedder=HASHING_EMBEDDER)
    assert report.chunks == local.index.manifest.chunk_count
    questions = [json.loads(line)["question"] for line in (ROOT / "tests/qa/seed_qa.jsonl").read_text().splitlines() if line]
    for question in questions[:20]:
        for mode in ("hybrid", "bm25", "dense"):
            ours = [(p.document.doc_id, p.chunk.start, round(p.score, 4)) for p in remote.search(question, k=5, mode=mode)]
            theirs = [(p.document.doc_id, p.chunk.start, round(p.score, 4)) for p in local.search(question, k=5, mode=mode)]
            assert ours == theirs, (question, mode)
        answer = remote.ask(question)
        for source in answer.sources:
            assert remote.index.documents[source.doc_id].text[source.start : source.end] == source.quote


@pytest.mark.slow
def test_an_update_adds_changes_and_removes_articles_in_milvus(milvus_server, folders):  # noqa: F811
    corpus, index_dir = folders
    backend = MilvusBackend(index_dir, milvus_server.settings())
    assistant = Assistant(index_dir, corpus, backend=backend)
    assistant.update(embedder=HASHING_EMBEDDER)
    first = backend.version_name()
    (corpus / "patrol.txt").write_text(
        "Phongsaly and Dien Bien guards held a joint patrol led by Major Khamla.\n", encoding="utf-8"
    )
    report = assistant.update(embedder=HASHING_EMBEDDER)
    assert (report.new, report.changed, report.removed) == (1, 0, 0) and report.embedded > 0
    assert backend.version_name() != first
    hits = assistant.search("joint patrol Major Khamla", k=1, mode="bm25")
    assert hits[0].document.doc_id == "patrol.txt"
    (corpus / "patrol.txt").unlink()
    report = assistant.update(embedder=HASHING_EMBEDDER)
    assert report.removed == 1 and "patrol.txt" not in backend.read_manifest().documents
    unchanged = assistant.update(embedder=HASHING_EMBEDDER)
    assert unchanged.version is None  # nothing to do: no new version


@pytest.mark.slow
def test_a_server_killed_during_indexing_leaves_the_last_version_and_the_next_run_finishes(tmp_path, folders):
    """`assistant index` against a server that is SIGKILLed mid-update: once it is back, the version before
    still answers, and running the command again finishes the job."""
    corpus, index_dir = folders
    server = MilvusServer(tmp_path / "milvus" / "data")
    server.data_dir.parent.mkdir()
    server.start()
    try:
        env = {
            **os.environ,
            "ASSISTANT_BACKEND": "milvus",
            "ASSISTANT_MILVUS_URI": server.uri,
            "ASSISTANT_MILVUS_PREFIX": "killed",
            "HF_HUB_OFFLINE": "1",
        }
        command = [sys.executable, "-c", _INDEX_WITH_HASHING, str(corpus), str(index_dir)]
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
        backend = MilvusBackend(index_dir, MilvusSettings(uri=server.uri, prefix="killed"))
        before = backend.version_name()
        for n in range(40):  # many articles, so that the update is still writing when the server dies
            shutil.copy(next(corpus.glob("*.txt")), corpus / f"copy-{n}.txt")
            with (corpus / f"copy-{n}.txt").open("a", encoding="utf-8") as handle:
                handle.write(f"\nCopy number {n}.\n")
        writer = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for_rows(backend, before)
        server.kill()
        _, err = writer.communicate(timeout=300)
        assert writer.returncode != 0
        message = err.decode().strip().splitlines()[-1]
        assert server.uri in message, err.decode()[-2000:]
        server.start()
        backend = MilvusBackend(index_dir, MilvusSettings(uri=server.uri, prefix="killed"))
        assert backend.version_name() == before
        version = backend.open()
        assert "copy-0.txt" not in version.manifest.documents
        for doc_id in version.manifest.documents:
            assert version.documents[doc_id].text  # every text of the version in use is there
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
        assert {f"copy-{n}.txt" for n in range(40)} <= set(backend.read_manifest().documents)
        assert backend.version_name() != before
    finally:
        server.stop()


def _wait_for_rows(backend: MilvusBackend, before: str) -> None:
    """Until the writer has written some rows of its new version (born after the version in use)."""
    number = int(before[1:9])
    layout = before.split("-")[1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if backend.store.query(backend.store.sentences(layout), f"born > {number}", ["pk"], limit=1):
            return
        time.sleep(0.02)
    raise AssertionError("the writer wrote nothing within 120 s")


_INDEX_WITH_HASHING = """
import sys
from pathlib import Path
from assistant import embedders
from assistant.errors import AssistantError
embedders.EMBEDDERS.register("test-hashing", "tests.fakes:open_hashing")
from assistant.core import Assistant
try:
    Assistant(Path(sys.argv[2]), Path(sys.argv[1])).update(embedder="test-hashing")
except AssistantError as error:
    sys.exit(f"Error: {error}")
"""


PATROL = (
    "Joint patrol on the Phongsaly border\n\n"
    "Border guards of Phongsaly and Dien Bien held a joint patrol along the border in May 2024. "
    "The joint patrol was led by Major Khamla Sisouphanh of the Phongsaly Military Command.\n"
)


@pytest.mark.slow
def test_two_app_servers_answer_from_an_article_a_third_process_added(milvus_server, folders, tmp_path):  # noqa: F811
    """Two `app.py` processes, each with its own cache folder (no shared disk but the corpus the writer reads),
    on one Milvus index: both answer from an article that `assistant add` in a third process just indexed."""
    from gradio_client import Client

    from tests.test_web import running_app

    corpus, _ = folders
    settings = milvus_server.settings()
    env = {"ASSISTANT_BACKEND": "milvus", "ASSISTANT_MILVUS_URI": settings.uri, "ASSISTANT_MILVUS_PREFIX": settings.prefix}
    question = "Who led the joint patrol of the Phongsaly and Dien Bien border guards?"
    with running_app(corpus, tmp_path / "cache-a", **env) as first, running_app(corpus, tmp_path / "cache-b", **env) as second:
        clients = [Client(url, verbose=False) for url in (first, second)]
        for client in clients:
            assert "Khamla" not in client.predict(question, api_name="/ask")
        article = tmp_path / "phongsaly-patrol.txt"
        article.write_text(PATROL, encoding="utf-8")
        added = subprocess.run(
            [
                str(Path(sys.executable).parent / "assistant"),
                "add",
                "--corpus",
                str(corpus),
                "--index",
                str(tmp_path / "cache-c"),
                str(article),
            ],
            env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert added.returncode == 0, added.stderr[-2000:]
        for client in clients:
            answer = json.loads(client.predict(question, api_name="/ask"))
            assert not answer["abstained"] and "Khamla" in answer["answer"], answer
            assert answer["sources"][0]["doc_id"] == "phongsaly-patrol.txt"


@pytest.mark.slow
def test_a_local_index_migrates_to_milvus_vectors_and_all(milvus_server, folders):  # noqa: F811
    """`copy_version` (what `assistant migrate --to milvus` runs) stores a local index in Milvus without embedding
    anything again: same documents, chunks, vectors and answers, and the next update builds on it."""
    from assistant.migrate import copy_version

    corpus, index_dir = folders
    local = Assistant(index_dir, corpus)
    local.update(embedder=HASHING_EMBEDDER)
    source = local.index
    backend = MilvusBackend(index_dir.with_name("cache"), milvus_server.settings())
    name = copy_version(source, backend)
    assert backend.version_name() == name
    copied = backend.open()
    assert copied.manifest.documents == source.manifest.documents and copied.manifest.settings == source.manifest.settings
    for doc_id in source.manifest.documents:
        ours, theirs = list(copied.sentence_vectors(doc_id)), list(source.sentence_vectors(doc_id))
        assert [s for s, _ in ours] == [s for s, _ in theirs]
        assert np.array_equal(np.vstack([v for _, v in ours]), np.vstack([v for _, v in theirs]))
    assert [copied.chunk(i) for i in range(copied.manifest.chunk_count)] == [
        source.chunk(i) for i in range(source.manifest.chunk_count)
    ]
    remote = Assistant(index_dir.with_name("cache"), corpus, backend=backend)
    question = "Who led the Lao side at the Son La border meeting?"
    assert remote.ask(question).to_dict() == local.ask(question).to_dict()
    assert remote.update(embedder=HASHING_EMBEDDER).version is None  # up to date: nothing embedded, no new version


@pytest.mark.slow
def test_the_migrate_command_and_the_backend_option(milvus_server, folders, monkeypatch):  # noqa: F811
    """`assistant migrate --to milvus` copies the local index; `assistant --backend milvus ask` then answers from
    it as the local index does; one line when both ends are the same backend."""
    from click.testing import CliRunner

    from assistant.cli import main

    corpus, index_dir = folders
    Assistant(index_dir, corpus).update(embedder=HASHING_EMBEDDER)
    settings = milvus_server.settings()
    monkeypatch.setenv("ASSISTANT_MILVUS_URI", settings.uri)
    monkeypatch.setenv("ASSISTANT_MILVUS_PREFIX", settings.prefix)
    monkeypatch.setenv("ASSISTANT_BACKEND", "local")  # restored after the test: --backend sets it for the process
    runner = CliRunner()
    copied = runner.invoke(main, ["migrate", "--index", str(index_dir), "--to", "milvus"], catch_exceptions=False)
    assert copied.exit_code == 0 and copied.output.startswith("copied 2 documents,"), copied.output
    assert settings.uri in copied.output
    question = "Who led the Lao side at the Son La border meeting?"
    local = runner.invoke(main, ["ask", "--index", str(index_dir), "--json", question], catch_exceptions=False)
    remote = runner.invoke(main, ["--backend", "milvus", "ask", "--index", str(index_dir), "--json", question])
    assert remote.exit_code == 0 and json.loads(remote.output) == json.loads(local.output)
    same = runner.invoke(main, ["migrate", "--index", str(index_dir), "--to", "local"])
    assert same.exit_code == 2 and "--from and --to name the same backend" in same.output
