"""Damage to the index folder (issue 15, items 2–4): readers keep answering, the next `assistant index` repairs it.

A lost or garbage CURRENT, a corrupted or missing text blob, a truncated ONNX export; and (item 9) a disk that
refuses: full, read-only, a file where a folder should be, a name too long. Fast tests use the hashing stand-in
embedder, and a stand-in for the ONNX export; the one marked `slow` exports the real model.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from click.testing import CliRunner, Result

from assistant.backends.local import LocalBackend
from assistant.backends.local.lexical import Postings
from assistant.backends.local.store import POINTER, load_index, pointer_state
from assistant.cli import main
from assistant.conversation import ConversationState
from assistant.core import Assistant
from assistant.embedders import onnx_export, resolve_model
from assistant.errors import CorruptIndexError, StorageError
from assistant.ingest import admit
from assistant.records import text_hash
from assistant.settings import DEFAULT_MODEL
from assistant.webapp import ChatHandlers
from tests.conftest import SEED_CORPUS
from tests.fakes import HASHING_EMBEDDER
from tests.test_store import TEXT, segment_of, write

ARTICLE = "son-la-luang-prabang-border-meeting.txt"
EXTRA = "extra.txt"
EXTRA_TEXT = "# Cartography talks\n\nThe two surveying teams compared their cartography of marker 42 in Phongsaly.\n"
FALLBACK_WARNING = "names no complete generation"


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def generations(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.iterdir() if p.name.startswith("gen-")}


def blob(index_dir: Path, doc_id: str) -> Path:
    return index_dir / "texts" / f"{load_index(index_dir).manifest.documents[doc_id].text_sha256}.txt"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The seed corpus indexed (the first generation), then with one more article (the second, in use)."""
    folder = tmp_path_factory.mktemp("template")
    corpus, index_dir = folder / "corpus", folder / "index"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    Assistant(index_dir, corpus).update(embedder=HASHING_EMBEDDER)
    first = pointer_state(index_dir)
    (corpus / EXTRA).write_text(EXTRA_TEXT, encoding="utf-8")
    Assistant(index_dir, corpus).update()
    second = pointer_state(index_dir)
    assert first and second and first != second and generations(index_dir) == {first, second}
    return folder, first, second


@pytest.fixture
def two_generations(template: tuple[Path, str, str], tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A copy of the template's corpus and index (times kept: they order generations made in the same second)."""
    folder, first, second = template
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    return tmp_path / "corpus", tmp_path / "index", first, second


def _folder(pointer: Path) -> None:
    pointer.unlink()
    pointer.mkdir()
    (pointer / "note").write_text("not a pointer", encoding="utf-8")


DAMAGE: dict[str, Callable[[Path], object]] = {
    "random bytes": lambda pointer: pointer.write_bytes(bytes(range(255, 0, -7)) * 3),
    "an empty file": lambda pointer: pointer.write_bytes(b""),
    "a folder": _folder,
    "a generation that is gone": lambda pointer: pointer.write_text("gen-20240101T000000-0badf00d\n", encoding="utf-8"),
    "nothing (lost)": lambda pointer: pointer.unlink(),
    "a path out of the index": lambda pointer: pointer.write_text("../../etc\n", encoding="utf-8"),
}


# 2. A garbage CURRENT


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A one-document index of two generations, the second in use (tests/test_store.py writes them)."""
    folder = tmp_path_factory.mktemp("small")
    first = write(folder).name
    second = write(folder, TEXT.replace("Alpha", "Omega")).name
    return folder, first, second


@pytest.fixture
def small_index(small_template: tuple[Path, str, str], tmp_path: Path) -> tuple[Path, str, str]:
    folder, first, second = small_template
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    return tmp_path, first, second


@pytest.mark.parametrize("damage", DAMAGE)
def test_readers_fall_back_to_the_newest_generation_warning_once_and_a_writer_repairs(small_index, damage, caplog):
    index_dir, _, second = small_index
    DAMAGE[damage](index_dir / POINTER)
    backend = LocalBackend(index_dir)
    with caplog.at_level(logging.WARNING):
        assert backend.read_manifest().documents["a.txt"].text_sha256 == text_hash(TEXT.replace("Alpha", "Omega"))
        version = backend.open()
        assert version.name == second and version.documents["a.txt"].text.startswith("Omega")
        assert backend.version_name() == ""  # so a reader on the fallback does not reload it before every question
        assert load_index(index_dir).location.name == second
    assert [r.levelno for r in caplog.records if FALLBACK_WARNING in r.getMessage()] == [logging.WARNING]
    with backend.writing(wait=1):
        assert backend.version_name() == second
    assert (index_dir / POINTER).read_text(encoding="utf-8") == f"{second}\n\n"
    assert generations(index_dir) == {second}
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert load_index(index_dir).location.name == second
    assert not caplog.records


def test_the_fallback_is_the_newest_generation_that_verifies(small_index):
    index_dir, first, second = small_index
    vectors = segment_of(index_dir / second) / "vectors" / "sentences.npy"
    vectors.write_bytes(vectors.read_bytes()[:-8])
    (index_dir / POINTER).write_bytes(b"\xff\xfe garbage")
    assert load_index(index_dir).location.name == first


def test_the_named_generation_gone_falls_back_to_the_one_before(small_index):
    index_dir, first, second = small_index
    shutil.rmtree(index_dir / second)
    assert load_index(index_dir).location.name == first


def _disk_full(self: Postings, folder: Path) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("damage", ["random bytes", "nothing (lost)"])
def test_a_writer_that_fails_after_current_was_lost_leaves_an_index(small_index, damage, monkeypatch):
    """The next writer used to remove every generation CURRENT did not name (all of them) before writing its own."""
    index_dir, _, second = small_index
    DAMAGE[damage](index_dir / POINTER)
    monkeypatch.setattr(Postings, "save", _disk_full)
    with pytest.raises(OSError, match="No space left"), LocalBackend(index_dir).writing(wait=1):
        write(index_dir, TEXT.replace("Alpha", "Sigma"))
    assert load_index(index_dir).location.name == second


def test_a_writer_keeps_generations_that_do_not_verify_until_it_has_written_one(small_index, monkeypatch):
    index_dir, first, second = small_index
    for name in (first, second):
        vectors = segment_of(index_dir / name) / "vectors" / "sentences.npy"
        vectors.write_bytes(vectors.read_bytes()[:-8])
    (index_dir / POINTER).unlink()
    monkeypatch.setattr(Postings, "save", _disk_full)
    with pytest.raises(OSError, match="No space left"), LocalBackend(index_dir).writing(wait=1):
        write(index_dir, TEXT.replace("Alpha", "Sigma"))
    assert generations(index_dir) == {first, second}
    monkeypatch.undo()
    with LocalBackend(index_dir).writing(wait=1):
        third = write(index_dir, TEXT.replace("Alpha", "Sigma")).name
    assert generations(index_dir) == {third}  # the next writer that succeeds cleans up


def test_the_command_line_answers_from_the_fallback_and_index_repairs_it(two_generations, caplog):
    corpus, index_dir, _, second = two_generations
    _folder(index_dir / POINTER)  # the hardest case for a writer: nothing can be renamed over a folder
    question = "Where did the surveying teams compare their cartography?"
    with caplog.at_level(logging.WARNING):
        asked = cli("ask", "--index", index_dir, "--json", question)
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.stdout)["sources"][0]["doc_id"] == EXTRA
    assert any(FALLBACK_WARNING in r.getMessage() for r in caplog.records)
    indexed = cli("index", "--corpus", corpus, "--index", index_dir)
    assert indexed.exit_code == 0, indexed.output
    assert "the index is up to date (3 documents" in indexed.stdout  # nothing re-embedded or rewritten
    assert (index_dir / POINTER).is_file() and pointer_state(index_dir) == second


def test_garbage_current_and_no_generation_is_one_line(tmp_path):
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / POINTER).write_bytes(b"\x00\x01\x02")
    result = cli("ask", "--index", index_dir, "Who led the Lao side?")
    assert result.exit_code == 1 and result.stderr.strip() == f"Error: no index at {index_dir}/ — run: assistant index"
    assert "Traceback" not in result.output


# 3. A corrupted or missing text blob


@pytest.mark.parametrize(("damage", "full"), [("corrupted", True), ("missing", True), ("missing", False)])
def test_index_rewrites_a_damaged_text_from_the_corpus(two_generations, damage, full):
    corpus, index_dir, _, _ = two_generations
    path = blob(index_dir, ARTICLE)
    reader = Assistant(index_dir)
    if damage == "missing":
        path.unlink()
        hint = "is missing from .* — run: assistant index$"
    else:
        path.write_text(path.read_text(encoding="utf-8").replace("Lao", "Thai"), encoding="utf-8")
        hint = "is corrupted .* — run: assistant index --full$"
    with pytest.raises(CorruptIndexError, match=hint):
        reader.index.documents[ARTICLE]
    result = cli("index", "--corpus", corpus, "--index", index_dir, *(["--full"] if full else []))
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == (corpus / ARTICLE).read_text(encoding="utf-8")
    if not full:  # found by one listing of texts/, and stored again without re-embedding anything
        assert "+0 new, 0 changed, 0 removed, 3 unchanged, 1 stored text repaired:" in result.stdout
        assert "(0 embedded)" in result.stdout
    reader = Assistant(index_dir)
    answer = reader.ask("Who led the Lao side at the Son La border meeting?", doc_ids=[ARTICLE])
    assert answer.sources and all(reader.index.documents[s.doc_id].text[s.start : s.end] == s.quote for s in answer.sources)


def test_a_changed_article_whose_old_text_is_damaged_is_updated(two_generations):
    """Its old text is read to reuse its sentences' vectors; a damaged one now only costs embedding them again."""
    corpus, index_dir, _, _ = two_generations
    blob(index_dir, ARTICLE).write_text("garbage", encoding="utf-8")
    article = corpus / ARTICLE
    article.write_text(article.read_text(encoding="utf-8") + "\nA closing sentence was added.\n", encoding="utf-8")
    report = Assistant(index_dir, corpus).update()
    assert (report.changed, report.repaired) == (1, 0)
    assert Assistant(index_dir).index.documents[ARTICLE].text == article.read_text(encoding="utf-8")


# 4. A truncated or corrupted ONNX export


@pytest.fixture
def fake_export(tmp_path, monkeypatch) -> tuple[Path, list[Path]]:
    """A model folder and an exporter that writes a stand-in model, recording each export."""
    location = tmp_path / "model"
    location.mkdir()
    (location / "model.safetensors").write_bytes(b"weights")
    made: list[Path] = []

    def export(location: Path, target: Path, quantize: bool) -> None:
        target.write_bytes(b"onnx model " * 1000)
        made.append(target)

    monkeypatch.setattr(onnx_export, "_export", export)
    return location, made


@pytest.mark.parametrize("damage", ["truncated", "corrupted", "without a checksum"])
def test_a_damaged_export_is_made_again_once_with_a_notice(fake_export, tmp_path, damage, caplog):
    location, made = fake_export
    cache = tmp_path / "cache"
    target = onnx_export.exported_model(location, "onnx", cache)
    assert len(made) == 1 and onnx_export.exported_model(location, "onnx", cache) == target and len(made) == 1
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "corrupted":
        target.write_bytes(target.read_bytes().replace(b"model", b"modeL", 1))
    else:  # made before checksums were recorded
        source = target.parent / "source.json"
        source.write_text(json.dumps({k: v for k, v in json.loads(source.read_text()).items() if k != "sha256"}))
    with caplog.at_level(logging.WARNING):
        assert onnx_export.exported_model(location, "onnx", cache) == target
    assert len(made) == 2 and target.read_bytes() == b"onnx model " * 1000
    why = "has no recorded checksum" if damage == "without a checksum" else "is corrupted (checksum mismatch)"
    assert [r.getMessage() for r in caplog.records] == [f"the cached ONNX export {target} {why}; exporting it again"]
    onnx_export.exported_model(location, "onnx", cache)
    assert len(made) == 2  # made again once, then trusted
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.onnx", "source.json"]


@pytest.mark.slow
def test_a_truncated_real_export_is_made_again_and_encodes_as_before(tmp_path, caplog):
    location = Path(resolve_model(DEFAULT_MODEL))
    texts = ["The two sides signed a memorandum.", "Who led the Lao side?"]
    before = onnx_export.OnnxEncoder(location, "onnx", tmp_path).encode(texts, "document")
    model = onnx_export.exported_model(location, "onnx", tmp_path)
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with caplog.at_level(logging.WARNING):
        after = onnx_export.OnnxEncoder(location, "onnx", tmp_path).encode(texts, "document")
    assert np.allclose(before, after, atol=1e-6)
    assert any("is corrupted (checksum mismatch); exporting it again" in r.getMessage() for r in caplog.records)


# 9. A disk that refuses: full, read-only, a file where a folder should be, a name too long

QUESTION = "Where did the surveying teams compare their cartography?"
NEW = "new.txt"
NEW_TEXT = "# Ferry talks\n\nThe two river commands agreed a ferry schedule at the Nam Khan crossing.\n"
_WRITING_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _disk_full_on_sync(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def refuse_writes(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int = errno.EROFS) -> None:
    """Every write under `folder` fails with `code`, as on a read-only mount: what chmod cannot simulate for
    root, who may write anywhere (the test suite may run as root)."""
    root = os.path.realpath(folder)

    def check(path: object) -> None:
        if isinstance(path, str | bytes | os.PathLike):
            name = os.fsdecode(path)
            if os.path.commonpath([root, os.path.realpath(name)]) == root:
                raise OSError(code, os.strerror(code), name)

    def guarded(real: Callable[..., object], writes: Callable[..., bool] = lambda *a, **k: True) -> Callable[..., object]:
        def call(path: object, *args: object, **kwargs: object) -> object:
            if kwargs.get("dir_fd") is None and writes(*args, **kwargs):
                check(path)
            return real(path, *args, **kwargs)

        return call

    def opens_for_writing(mode: object = "r", *args: object, **kwargs: object) -> bool:
        return isinstance(mode, str) and any(flag in mode for flag in "wax+")

    file_open = guarded(builtins.open, opens_for_writing)
    monkeypatch.setattr(builtins, "open", file_open)
    monkeypatch.setattr(io, "open", file_open)
    monkeypatch.setattr(os, "open", guarded(os.open, lambda flags, *a, **k: bool(flags & _WRITING_FLAGS)))
    for name in ("mkdir", "unlink", "rmdir", "rename", "replace"):
        monkeypatch.setattr(os, name, guarded(getattr(os, name)))


def one_line(result: Result) -> str:
    """The error line of a command that failed cleanly: exit 1, one line on stderr, no traceback."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    return result.stderr.strip()


def unchanged(index_dir: Path, in_use: str, kept: set[str]) -> None:
    """The version in use before the failed update is still the one in use, whole, and answers."""
    assert pointer_state(index_dir) == in_use and generations(index_dir) == kept
    assert not [p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    answer = Assistant(index_dir).ask(QUESTION)
    assert answer.sources and answer.sources[0].doc_id == EXTRA


def _bm25_disk_full(self: Postings, folder: Path) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "rows.npy"))


@pytest.mark.parametrize("where", ["a text blob", "the generation's files"])
def test_a_full_disk_stops_an_update_with_one_line_and_the_index_in_use_stays(two_generations, monkeypatch, where):
    corpus, index_dir, first, second = two_generations
    (corpus / NEW).write_text(NEW_TEXT, encoding="utf-8")
    if where == "a text blob":
        monkeypatch.setattr(os, "fsync", _disk_full_on_sync)
        expected = "Error: cannot update the index: No space left on device (index/)"
    else:
        monkeypatch.setattr(Postings, "save", _bm25_disk_full)
        expected = "Error: cannot update the index: No space left on device (index/segments/.tmp-"
    line = one_line(cli("index", "--corpus", corpus, "--index", index_dir))
    assert line.startswith(expected) and str(index_dir.parent) not in line, line
    monkeypatch.undo()
    unchanged(index_dir, second, {first, second})
    assert "+1 new" in cli("index", "--corpus", corpus, "--index", index_dir).stdout  # space again: it goes on


@pytest.mark.parametrize("how", ["read-only mount", "chmod a-w"])
def test_a_read_only_index_folder_is_one_line_and_the_index_in_use_stays(two_generations, monkeypatch, how):
    corpus, index_dir, first, second = two_generations
    (corpus / NEW).write_text(NEW_TEXT, encoding="utf-8")
    if how == "chmod a-w":
        if os.geteuid() == 0:
            pytest.skip("root writes whatever the mode says; the read-only mount case simulates it")
        folders = [index_dir, *(p for p in index_dir.rglob("*") if p.is_dir())]
        for folder in folders:
            folder.chmod(0o555)
        expected = "Error: cannot update the index: Permission denied (index/"
    else:
        refuse_writes(monkeypatch, index_dir)
        expected = "Error: cannot update the index: Read-only file system (index/.lock)"
    try:
        line = one_line(cli("index", "--corpus", corpus, "--index", index_dir))
    finally:
        monkeypatch.undo()
        for folder in [index_dir, *(p for p in index_dir.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
    assert line.startswith(expected) and str(index_dir.parent) not in line, line
    unchanged(index_dir, second, {first, second})


def test_a_file_where_the_index_folder_should_be(two_generations, tmp_path):
    corpus, _, _, _ = two_generations
    in_the_way = tmp_path / "index-file"
    in_the_way.write_text("not an index", encoding="utf-8")
    with pytest.raises(StorageError, match=r"^cannot update the index: index is a file where a folder should be$"):
        Assistant(in_the_way, corpus).update()  # app.py's --index (the command's own check stops it there)
    line = one_line(cli("index", "--corpus", corpus, "--index", in_the_way / "index"))
    assert line == "Error: cannot update the index: index-file is a file where a folder should be"
    assert in_the_way.read_text(encoding="utf-8") == "not an index"


def test_a_file_where_the_texts_folder_should_be(two_generations):
    corpus, index_dir, first, second = two_generations
    (corpus / NEW).write_text(NEW_TEXT, encoding="utf-8")
    shutil.move(index_dir / "texts", index_dir / "texts-aside")
    (index_dir / "texts").write_text("in the way", encoding="utf-8")
    line = one_line(cli("index", "--corpus", corpus, "--index", index_dir))
    assert line == "Error: cannot update the index: index/texts is a file where a folder should be"
    (index_dir / "texts").unlink()
    shutil.move(index_dir / "texts-aside", index_dir / "texts")
    unchanged(index_dir, second, {first, second})


def test_an_index_folder_name_too_long_is_one_line(two_generations, tmp_path):
    corpus, _, _, _ = two_generations
    line = one_line(cli("index", "--corpus", corpus, "--index", tmp_path / ("x" * 300)))
    assert line == "Error: cannot update the index: File name too long (index/)"


def test_adding_to_a_full_disk_or_a_file_instead_of_a_corpus_is_one_line(two_generations, tmp_path, monkeypatch):
    corpus, index_dir, first, second = two_generations
    offered = tmp_path / NEW
    offered.write_text(NEW_TEXT, encoding="utf-8")
    listing = sorted(p.name for p in corpus.iterdir())
    monkeypatch.setattr(os, "fsync", _disk_full_on_sync)
    line = one_line(cli("add", "--corpus", corpus, "--index", index_dir, offered))
    assert line == "Error: cannot add articles to the corpus: No space left on device (corpus/)"
    assert sorted(p.name for p in corpus.iterdir() if p.name != ".admit.lock") == listing  # nothing half-written left
    monkeypatch.undo()
    unchanged(index_dir, second, {first, second})
    in_the_way = tmp_path / "corpus-file"
    in_the_way.write_text("not a corpus", encoding="utf-8")
    line = one_line(cli("add", "--corpus", in_the_way / "corpus", "--index", index_dir, offered))
    assert line == "Error: cannot add articles to the corpus: corpus-file is a file where a folder should be"
    with pytest.raises(StorageError, match=r"^cannot add articles to the corpus: corpus is a file where a folder should be$"):
        Assistant(index_dir, in_the_way).add_files([offered])  # the web upload's way in


def test_a_read_only_corpus_refuses_additions_and_removals_with_one_line(two_generations, monkeypatch):
    corpus, index_dir, _, _ = two_generations
    refuse_writes(monkeypatch, corpus)
    refused = r"^cannot {} the corpus: Read-only file system \(corpus/{}\)$"
    with pytest.raises(StorageError, match=refused.format("add articles to", r"\.admit\.lock")):
        admit(corpus, [(NEW, NEW_TEXT.encode())])
    with pytest.raises(StorageError, match=refused.format("remove articles from", r"extra\.txt")):
        Assistant(index_dir, corpus).remove_articles([EXTRA])


def test_web_errors_name_no_server_path(two_generations, tmp_path, monkeypatch):
    corpus, index_dir, _, _ = two_generations
    handlers = ChatHandlers(Assistant(index_dir, corpus), stream_delay=0)
    offered = tmp_path / NEW
    offered.write_text(NEW_TEXT, encoding="utf-8")
    monkeypatch.setattr(os, "fsync", _disk_full_on_sync)
    message = handlers.upload([str(offered)])[0].replace("\\", "")  # shown as Markdown: unescaped here
    assert "cannot add articles to the corpus: No space left on device (corpus/)" in message, message
    monkeypatch.undo()
    refuse_writes(monkeypatch, index_dir)
    message = handlers.upload([str(offered)])[0].replace("\\", "")
    assert "cannot update the index: Read-only file system (index/.lock)" in message, message
    missing = ChatHandlers(Assistant(tmp_path / "gone", corpus), stream_delay=0)
    with pytest.raises(gr.Error) as refused:
        missing.ask(QUESTION)
    assert refused.value.message == "no index at gone/ — run: assistant index"
    shown = list(missing.respond(QUESTION, [], ConversationState(), None))[-1][0][-1]["content"]
    assert "no index at gone/" in shown
    for text in (message, refused.value.message, shown):
        assert str(tmp_path) not in text and "/tmp" not in text
