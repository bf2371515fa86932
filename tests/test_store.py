"""The index folder on disk: round trip, atomic switch, and the errors a user sees."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from assistant.backends import FreshDocuments, IndexUpdate, PreparedDocument
from assistant.backends.local import LocalBackend
from assistant.backends.local.lexical import Postings
from assistant.backends.local.segments import read_description
from assistant.backends.local.store import (
    POINTER,
    SEGMENTS,
    current_generation,
    load_index,
    read_version,
    remove_leftovers,
    writer_lock,
)
from assistant.errors import CorruptIndexError, IndexBusyError, IndexMismatchError, NoIndexError
from assistant.records import Chunk, Document, DocumentRecord, Manifest
from assistant.settings import IndexSettings
from assistant.textnorm import document_terms

TEXT = "Alpha meets Beta. Gamma signs the memorandum."


def write(index_dir, text=TEXT):
    """A full build of one article in two chunks: a new version with a segment of its own."""
    document = Document("a.txt", "a.txt", "A", text, hashlib.sha256(text.encode()).hexdigest())
    chunks = [Chunk(0, "a.txt", 0, 17, ((0, 17),)), Chunk(1, "a.txt", 18, len(text), ((18, len(text)),))]
    manifest = Manifest(
        model="test-model",
        dimension=8,
        settings=IndexSettings(),
        documents={"a.txt": DocumentRecord.of(document, chunks=2)},
        chunk_count=2,
        corpus="/corpus",
    )
    terms = [document_terms(text[c.start : c.end]) for c in chunks]
    fresh = FreshDocuments.ready([PreparedDocument(document, chunks, terms, np.eye(2, 8, dtype=np.float32))])
    return index_dir / LocalBackend(index_dir).commit(IndexUpdate(manifest, fresh), None)


def segment_of(generation):
    """The folder of a version's last segment."""
    return generation.parent / SEGMENTS / read_version(generation).segments[-1].name


def test_round_trip(tmp_path):
    write(tmp_path)
    index = load_index(tmp_path)
    assert index.documents["a.txt"].text == TEXT
    assert [c.chunk_id for c in index.chunks] == [0, 1]
    assert index.chunks[1] == Chunk(1, "a.txt", 18, len(TEXT), ((18, len(TEXT)),))
    assert index.vectors.size == 2 and index.vectors.dimension == 8
    assert index.bm25.matching(document_terms("memorandum")).tolist() == [1]
    assert index.manifest.model == "test-model"
    files = read_description(segment_of(index.location))["files"]
    assert set(files) >= {"chunks/spans.npy", "vectors/sentences.npy", "vectors/chunks.faiss", "terms/rows.npy"}
    assert (tmp_path / "texts" / f"{index.documents['a.txt'].text_sha256}.txt").read_text() == TEXT


def test_a_new_generation_replaces_the_old_one_which_is_kept_one_update_longer(tmp_path):
    first = write(tmp_path)
    second = write(tmp_path, TEXT.replace("Alpha", "Omega"))
    assert current_generation(tmp_path) == second
    assert first.exists()  # a reader that has just read CURRENT may still be opening it
    third = write(tmp_path, TEXT.replace("Alpha", "Sigma"))
    assert not first.exists() and second.exists() and current_generation(tmp_path) == third
    assert load_index(tmp_path).documents["a.txt"].text.startswith("Sigma")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_each_chunks_terms_are_stored_as_postings(tmp_path):
    postings = Postings.load(segment_of(write(tmp_path)) / "terms")
    expected = [document_terms("Alpha meets Beta."), document_terms("Gamma signs the memorandum.")]
    held = [sorted(t for t in postings.terms if row in postings.of(t)[0].tolist()) for row in (0, 1)]
    assert held == [sorted(set(terms)) for terms in expected]
    assert postings.lengths.tolist() == [len(terms) for terms in expected]


def test_leftovers_of_a_killed_writer_are_removed(tmp_path):
    current = write(tmp_path)
    (tmp_path / ".tmp-abandoned").mkdir()
    (tmp_path / ".tmp-abandoned" / "chunks.faiss").write_bytes(b"half")
    (tmp_path / f".{POINTER}.1234").write_text("gen-x\n")
    (tmp_path / "gen-orphan").mkdir()
    (tmp_path / SEGMENTS / "seg-orphan").mkdir()
    (tmp_path / SEGMENTS / ".tmp-half").mkdir()
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([POINTER, current.name, SEGMENTS, "texts"])
    assert [p.name for p in (tmp_path / SEGMENTS).iterdir()] == [segment_of(current).name]


def test_a_second_writer_waits_then_gives_up_clearly(tmp_path):
    busy = pytest.raises(IndexBusyError, match=r"another process is updating .* \(waited 0.2 s\)")
    with writer_lock(tmp_path), busy, writer_lock(tmp_path, wait=0.2):
        pass


def test_a_failed_write_leaves_the_previous_generation_in_use(tmp_path, monkeypatch):
    first = write(tmp_path)

    def broken_save(self, folder):
        raise OSError("disk full")

    monkeypatch.setattr(Postings, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path, TEXT.replace("Alpha", "Omega"))
    assert current_generation(tmp_path) == first
    assert load_index(tmp_path).documents["a.txt"].text == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([POINTER, first.name, SEGMENTS, "texts"])
    assert [p.name for p in (tmp_path / SEGMENTS).iterdir()] == [segment_of(first).name]


def test_text_blobs_are_shared_and_removed_when_unused(tmp_path):
    write(tmp_path)
    write(tmp_path, TEXT.replace("Alpha", "Omega"))
    assert len(list((tmp_path / "texts").iterdir())) == 2  # the previous generation still refers to the first
    write(tmp_path, TEXT.replace("Alpha", "Omega"))
    assert [p.read_text() for p in (tmp_path / "texts").iterdir()] == [TEXT.replace("Alpha", "Omega")]


def test_a_corrupted_text_is_detected_when_read(tmp_path):
    write(tmp_path)
    index = load_index(tmp_path)
    blob = tmp_path / "texts" / f"{index.manifest.documents['a.txt'].text_sha256}.txt"
    blob.write_text(TEXT.replace("Alpha", "Alpha!"))
    with pytest.raises(CorruptIndexError, match=r"text of a\.txt .* is corrupted"):
        index.documents["a.txt"]


def test_no_index_says_what_to_run(tmp_path):
    with pytest.raises(NoIndexError, match=r"no index at .* — run: assistant index"):
        load_index(tmp_path / "missing")


def test_a_corrupted_file_is_detected_by_checksum(tmp_path):
    vectors = segment_of(write(tmp_path)) / "vectors" / "sentences.npy"
    vectors.write_bytes(vectors.read_bytes()[:-10])
    with pytest.raises(CorruptIndexError, match=r"sentences.npy is corrupted.*assistant index --full"):
        load_index(tmp_path)


def test_a_missing_file_is_detected(tmp_path):
    (segment_of(write(tmp_path)) / "chunks" / "sentences.npy").unlink()
    with pytest.raises(CorruptIndexError, match=r"sentences\.npy is missing"):
        load_index(tmp_path)


def test_another_format_version_is_refused_with_the_fix(tmp_path):
    generation = write(tmp_path)
    manifest = json.loads((generation / "manifest.json").read_text())
    manifest["format_version"] = 999
    (generation / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"format version 999.*assistant index --full"):
        load_index(tmp_path)


def test_a_dangling_pointer_is_reported_when_no_generation_is_left(tmp_path):
    shutil.rmtree(write(tmp_path))  # with one left, readers fall back to it (tests/test_index_faults.py)
    (tmp_path / POINTER).write_text("gen-gone\n")
    with pytest.raises(CorruptIndexError, match="missing generation"):
        load_index(tmp_path)


def test_an_update_releases_the_texts_it_stops_using_one_update_later(tmp_path):
    """Targeted updates never list the texts folder: a text the new version no longer uses (a changed or removed
    article's, unless another article has the same text) goes when the version that still used it is gone."""
    from assistant.core import Assistant
    from tests.fakes import HASHING_EMBEDDER

    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    alpha, omega, beta = "Alpha talks were held in Hanoi.", "Alpha talks were held in Vientiane.", "Beta patrols met."
    for name, text in (("a.txt", alpha), ("b.txt", beta), ("c.txt", beta)):
        (corpus / name).write_text(text, encoding="utf-8")
    assistant = Assistant(index_dir, corpus)
    assistant.update(embedder=HASHING_EMBEDDER)

    def stored() -> set[str]:
        return {p.read_text(encoding="utf-8") for p in (index_dir / "texts").iterdir()}

    assert stored() == {alpha, beta}
    (corpus / "a.txt").write_text(omega, encoding="utf-8")
    (corpus / "b.txt").unlink()
    assistant.update(only=["a.txt", "b.txt"])
    assert stored() == {alpha, omega, beta}  # alpha: the version before still uses it; beta: c.txt still does
    (corpus / "c.txt").unlink()
    assistant.update(only=["c.txt"])
    assert stored() == {omega, beta}  # alpha gone with the version that used it; beta kept one update longer
    (corpus / "d.txt").write_text("Delta guards signed.", encoding="utf-8")
    assistant.update(only=["d.txt"])
    assert stored() == {omega, "Delta guards signed."}
    assert set(assistant.documents()) == {"a.txt", "d.txt"}
