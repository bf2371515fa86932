"""The index backend contract: every registered backend stores, searches and switches versions alike.

Each test builds documents by hand (hashing vectors, real chunking and
terms) and talks to the backend only through `IndexBackend` and
`IndexVersion`. A backend that needs a server gets a maker in `MAKERS` that
starts one; the rest are opened on a fresh folder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from assistant.backends import (
    BACKENDS,
    MODES,
    FreshDocuments,
    IndexBackend,
    IndexUpdate,
    PreparedDocument,
    SearchRequest,
    open_backend,
)
from assistant.errors import IndexBusyError, NoIndexError
from assistant.indexer import embedded_text, searchable_text
from assistant.records import Chunk, Document, DocumentRecord, Manifest, text_hash
from assistant.segment import chunk_text
from assistant.settings import IndexSettings, SearchSettings
from assistant.textnorm import document_terms, query_terms
from tests.fakes import DIMENSION, HASHING_EMBEDDER, HashingEncoder
from tests.milvus_server import milvus_server  # noqa: F401  (the server fixture MAKERS["milvus"] uses)

ENCODER = HashingEncoder()
SETTINGS = IndexSettings(model="test-model", chunk_words=20, overlap_sentences=0, embedder=HASHING_EMBEDDER)
SEARCH = SearchSettings()
ARTICLES = {
    "son-la.txt": (
        "Son La border meeting",
        "The Son La Border Guard Command met the Luang Prabang Military Command on March 28. "
        "The Lao side was led by Colonel Viliem Vongthisan. "
        "The two sides signed a memorandum of understanding on border security. "
        "They also agreed to exchange information every month.",
    ),
    "dialogue.txt": (
        "Defence policy dialogue",
        "The fifth defence policy dialogue was held in Hanoi. "
        "General Hoang Xuan Chien and General Vong Phachanthavong co-chaired it. "
        "Both ministries reviewed training for officers.",
    ),
    "cattle.txt": (
        "Cattle for Lao households",
        "The Border Guard Command presented forty cattle to poor Lao households in Houaphanh province.",
    ),
}


# A backend that needs more than a folder (a server) gets its maker here: given the test's request (to start
# the server through a fixture), it returns a maker of handles on one fresh index. Such tests are slow.
def _milvus(request: pytest.FixtureRequest) -> Callable[[Path], IndexBackend]:
    from assistant.backends.milvus import MilvusBackend

    return partial(MilvusBackend, settings=request.getfixturevalue("milvus_server").settings())


MAKERS: dict[str, Callable[[pytest.FixtureRequest], Callable[[Path], IndexBackend]]] = {"milvus": _milvus}


def prepared(doc_id: str, title: str, text: str) -> PreparedDocument:
    document = Document(doc_id, doc_id, title, text, text_hash(text))
    spans = chunk_text(text, SETTINGS.chunk_words, SETTINGS.overlap_sentences)
    chunks = [Chunk(i, doc_id, s.start, s.end, s.sentences) for i, s in enumerate(spans)]
    vectors = ENCODER.encode([embedded_text(document, s) for c in chunks for s in c.sentences], "document")
    return PreparedDocument(document, chunks, [document_terms(searchable_text(document, c)) for c in chunks], vectors)


def update(
    documents: dict[str, PreparedDocument], kept: dict[str, DocumentRecord] | None = None, removed: frozenset[str] = frozenset()
) -> IndexUpdate:
    """The next version: `kept` documents as the previous version holds them, then `documents` (re)written,
    and the previous version's `removed` dropped."""
    records = dict(kept or {})
    records.update({d: DocumentRecord.of(p.document, chunks=len(p.chunks)) for d, p in documents.items()})
    manifest = Manifest(
        model=SETTINGS.model,
        dimension=DIMENSION,
        settings=SETTINGS,
        documents=records,
        chunk_count=sum(r.chunks for r in records.values()),
        corpus="/corpus",
    )
    return IndexUpdate(manifest, FreshDocuments.ready(documents.values()), removed=removed)


def request(question: str) -> SearchRequest:
    return SearchRequest(terms=tuple(query_terms(question)), vector=ENCODER.encode([question], "query"))


def all_prepared() -> dict[str, PreparedDocument]:
    return {doc_id: prepared(doc_id, title, text) for doc_id, (title, text) in ARTICLES.items()}


@pytest.fixture(params=[pytest.param(name, marks=[pytest.mark.slow] if name in MAKERS else []) for name in BACKENDS.names()])
def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], IndexBackend]:
    """A maker of handles on one fresh index, so a test can open a second handle as another process would."""
    name: str = request.param
    maker = MAKERS[name](request) if name in MAKERS else partial(open_backend, name)
    return lambda: maker(tmp_path / "index")


@pytest.fixture
def backend(make_backend: Callable[[], IndexBackend]) -> IndexBackend:
    return make_backend()


def commit(backend: IndexBackend, next_version: IndexUpdate) -> str:
    with backend.writing(5.0):
        try:
            previous = backend.open()
        except NoIndexError:
            previous = None
        return backend.commit(next_version, previous)


def test_an_empty_backend_has_no_version(backend):
    assert backend.version_name() == ""
    with pytest.raises(NoIndexError):
        backend.open()
    with pytest.raises(NoIndexError):
        backend.read_manifest()
    assert backend.name in BACKENDS.names() and backend.location


def test_a_committed_version_holds_the_documents_text_and_chunks(backend):
    fresh = all_prepared()
    name = commit(backend, update(fresh))
    assert backend.version_name() == name
    version = backend.open()
    assert version.name == name
    assert list(version.manifest.documents) == list(ARTICLES)
    assert backend.read_manifest().documents == version.manifest.documents
    chunk_ids = range(version.manifest.chunk_count)
    stored = [version.chunk(i) for i in chunk_ids]
    assert [(c.doc_id, c.start, c.end, c.sentences) for c in stored] == [
        (c.doc_id, c.start, c.end, c.sentences) for p in fresh.values() for c in p.chunks
    ]
    for doc_id, (title, text) in ARTICLES.items():
        document = version.documents[doc_id]
        assert (document.text, document.title, document.text_sha256) == (text, title, text_hash(text))


def test_each_mode_finds_the_document_that_says_it(backend):
    commit(backend, update(all_prepared()))
    version = backend.open()
    for mode in MODES:
        hits = version.search(request("Who led the Lao side at the Son La meeting?"), 3, mode, SEARCH)
        assert 0 < len(hits) <= 3
        assert version.chunk(hits[0].chunk_id).doc_id == "son-la.txt", mode
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert len({h.chunk_id for h in hits}) == len(hits)
        for hit in hits:  # the question's similarity to each sentence; the dense score is the best of them
            assert len(hit.sentence_scores) == len(version.chunk(hit.chunk_id).sentences)
            assert max(hit.sentence_scores) == pytest.approx(hit.dense_score, abs=1e-4)
    lexical = version.search(request("cattle Houaphanh"), 10, "bm25", SEARCH)
    assert lexical and all(h.bm25_score > 0 for h in lexical)
    assert {version.chunk(h.chunk_id).doc_id for h in lexical} == {"cattle.txt"}


def test_a_document_filter_holds_in_every_mode(backend):
    commit(backend, update(all_prepared()))
    version = backend.open()
    for mode in MODES:
        hits = version.search(request("Who led the Lao side at the dialogue?"), 10, mode, SEARCH, doc_ids=["dialogue.txt"])
        assert hits and {version.chunk(h.chunk_id).doc_id for h in hits} == {"dialogue.txt"}, mode
        assert version.search(request("Who led the Lao side?"), 10, mode, SEARCH, doc_ids=["missing.txt"]) == []


def test_a_question_sharing_no_word_finds_nothing_lexically(backend):
    commit(backend, update(all_prepared()))
    assert backend.open().search(request("zyxwv qwerty"), 5, "bm25", SEARCH) == []


def test_the_next_version_keeps_drops_and_rewrites_documents(backend):
    first = all_prepared()
    commit(backend, update(first))
    old = backend.open()
    kept = {"son-la.txt": old.manifest.documents["son-la.txt"]}
    changed = prepared("cattle.txt", "Cattle", "The command gave sixty buffaloes to families in Xieng Khouang.")
    added = prepared("patrol.md", "Patrol", "Phongsaly and Dien Bien guards held a joint patrol led by Major Khamla.")
    removed = frozenset(old.manifest.documents) - {"son-la.txt", "cattle.txt"}
    commit(backend, update({"cattle.txt": changed, "patrol.md": added}, kept, removed))
    new = backend.open()
    assert set(new.manifest.documents) == {"son-la.txt", "cattle.txt", "patrol.md"}
    assert new.documents["cattle.txt"].text == changed.document.text
    for doc_id, document in (("cattle.txt", changed), ("patrol.md", added), ("son-la.txt", first["son-la.txt"])):
        chunks = new.document_chunks(doc_id)
        assert [(c.doc_id, c.start, c.end, c.sentences) for c in chunks] == [
            (c.doc_id, c.start, c.end, c.sentences) for c in document.chunks
        ]
        assert all(new.chunk(c.chunk_id) == c for c in chunks)
    found = {
        new.chunk(h.chunk_id).doc_id for mode in MODES for h in new.search(request("defence dialogue Hanoi"), 10, mode, SEARCH)
    }
    assert "dialogue.txt" not in found
    assert new.chunk(new.search(request("buffaloes Xieng Khouang"), 1, "bm25", SEARCH)[0].chunk_id).doc_id == "cattle.txt"
    kept_vectors = [v for _, v in new.sentence_vectors("son-la.txt")]
    assert np.allclose(np.vstack(kept_vectors), first["son-la.txt"].vectors, atol=1e-3)
    # The version opened before the switch still answers as it did.
    assert old.documents["dialogue.txt"].text == ARTICLES["dialogue.txt"][1]
    assert old.chunk(old.search(request("defence dialogue Hanoi"), 1, "bm25", SEARCH)[0].chunk_id).doc_id == "dialogue.txt"


def test_sentence_vectors_come_back_with_their_sentences(backend):
    fresh = all_prepared()
    commit(backend, update(fresh))
    version = backend.open()
    for doc_id, document in fresh.items():
        stored = list(version.sentence_vectors(doc_id))
        assert [span for span, _ in stored] == [s for c in document.chunks for s in c.sentences]
        assert np.allclose(np.vstack([v for _, v in stored]), document.vectors, atol=1e-3)


def test_term_statistics_weigh_rare_terms_higher(backend):
    commit(backend, update(all_prepared()))
    stats = backend.open().stats
    (rare,) = query_terms("Houaphanh")
    (common,) = query_terms("command")
    assert stats.knows(rare) and stats.knows(common) and not stats.knows("zyxwv")
    assert stats.idf(rare) > stats.idf(common) > 0


def test_another_handle_sees_the_committed_version(make_backend):
    first = make_backend()
    name = commit(first, update(all_prepared()))
    second = make_backend()
    assert second.version_name() == name
    assert list(second.open().manifest.documents) == list(ARTICLES)


def test_one_writer_at_a_time(make_backend):
    holder, other = make_backend(), make_backend()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.writing(5.0):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(IndexBusyError), other.writing(0.2):
            pass
    finally:
        release.set()
        thread.join()
    with other.writing(1.0):
        pass
