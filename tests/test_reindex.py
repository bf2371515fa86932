"""Incremental re-indexing: what changes is re-done, nothing else, and the result equals a full build."""

import shutil
import threading
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.backends.local import LocalVersion, segments
from assistant.backends.local.store import current_generation, load_index
from assistant.core import Assistant
from assistant.embedders import Embedder
from assistant.errors import AssistantError, EmptyCorpusError
from assistant.evaluation import contains_fact
from assistant.indexer import update_index
from assistant.settings import IndexSettings

pytestmark = pytest.mark.slow


class CountingEmbedder(Embedder):
    """The real model, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode_documents(self, texts, progress=False):
        self.texts.extend(texts)
        return super().encode_documents(texts, progress)


@pytest.fixture
def embedder():
    return CountingEmbedder()


@pytest.fixture
def corpus(seed_corpus, tmp_path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(seed_corpus, folder)
    return folder


NEW_ARTICLE = (
    "# Dien Bien border talks\n\n"
    "DIEN BIEN — The Điện Biên provincial Border Guard Command and Phongsaly province held talks on May 5.\n\n"
    "Colonel Bounmy Keola led the Lao delegation. The two sides agreed to hold joint patrols every quarter."
)


def sentence_texts(index_dir: Path, doc_id: str | None = None) -> set[str]:
    """The distinct texts the index embeds: each sentence with its article's title."""
    index = load_index(index_dir)
    texts = set()
    for chunk in index.chunks:
        if doc_id in (None, chunk.doc_id):
            document = index.documents[chunk.doc_id]
            texts |= {f"{document.title}\n{document.text[s:e]}" for s, e in chunk.sentences}
    return texts


def update(corpus, index, embedder, **kwargs):
    return update_index(corpus, index, embedder=embedder, **kwargs)


def test_first_build_then_nothing_to_do(corpus, tmp_path, embedder):
    first = update(corpus, tmp_path / "idx", embedder)
    assert (first.new, first.changed, first.removed, first.unchanged) == (2, 0, 0, 0)
    assert first.embedded == len(embedder.texts) == len(set(embedder.texts))
    assert set(embedder.texts) == sentence_texts(tmp_path / "idx")
    again = update(corpus, tmp_path / "idx", embedder)
    assert again.version is None and again.embedded == 0 and again.unchanged == 2
    assert "the index is up to date" in again.summary()
    assert len(embedder.texts) == first.embedded  # nothing sent to the model the second time


def test_adding_an_article_embeds_only_its_sentences(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    base = update(corpus, index_dir, embedder)
    embedder.texts.clear()
    (corpus / "news").mkdir()
    (corpus / "news" / "dien-bien.md").write_text(NEW_ARTICLE, encoding="utf-8")
    report = update(corpus, index_dir, embedder)
    assert (report.new, report.changed, report.removed, report.unchanged) == (1, 0, 0, 2)
    assert report.summary().startswith("+1 new, 0 changed, 0 removed, 2 unchanged")
    assert report.chunks > base.chunks
    assert report.embedded == len(embedder.texts)
    assert set(embedder.texts) == sentence_texts(index_dir, "news/dien-bien.md")
    assert all(text.startswith("Dien Bien border talks\n") for text in embedder.texts)
    answer = Assistant.load(index_dir).ask("Who led the Lao delegation at the Dien Bien talks?")
    assert contains_fact(answer.answer, "Bounmy Keola"), answer.answer
    assert answer.sources[0].doc_id == "news/dien-bien.md"


def test_editing_one_sentence_re_embeds_only_that_sentence(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    update(corpus, index_dir, embedder, settings=IndexSettings(chunk_words=40))
    embedder.texts.clear()
    path = corpus / "vietnam-laos-defence-policy-dialogue.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("on March 28.", "on March 29."), encoding="utf-8")
    report = update(corpus, index_dir, embedder)
    assert (report.changed, report.unchanged) == (1, 1)
    assert report.embedded == 1 and "March 29" in embedder.texts[0]
    answer = Assistant.load(index_dir).ask("When was the fifth defence policy dialogue held?")
    assert contains_fact(answer.answer, "March 29"), answer.answer


def test_a_renamed_article_is_not_embedded_again(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    (corpus / "talks.md").write_text(NEW_ARTICLE, encoding="utf-8")
    update(corpus, index_dir, embedder)
    embedder.texts.clear()
    (corpus / "talks.md").rename(corpus / "renamed-talks.md")
    report = update(corpus, index_dir, embedder)
    assert (report.new, report.removed, report.embedded) == (1, 1, 0)
    assert "renamed-talks.md" in load_index(index_dir).manifest.documents


def test_deleting_an_article_drops_it(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    update(corpus, index_dir, embedder)
    (corpus / "son-la-luang-prabang-border-meeting.txt").unlink()
    report = update(corpus, index_dir, embedder)
    assert (report.removed, report.unchanged, report.embedded) == (1, 1, 0)
    assistant = Assistant.load(index_dir)
    assert {p.document.doc_id for p in assistant.search("Son La border guard cattle barracks", k=20)} == {
        "vietnam-laos-defence-policy-dialogue.txt"
    }
    assert assistant.ask("What did the Son La Border Guard Command present to Lao households?").abstained


def test_full_rebuild_embeds_everything(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    first = update(corpus, index_dir, embedder)
    embedder.texts.clear()
    report = update(corpus, index_dir, embedder, full=True)
    assert report.new == 2 and report.embedded == first.embedded == len(embedder.texts)


def test_changed_settings_rebuild_everything(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    update(corpus, index_dir, embedder)
    report = update(corpus, index_dir, embedder, settings=IndexSettings(chunk_words=50))
    assert report.new == 2 and load_index(index_dir).manifest.settings.chunk_words == 50
    assert update(corpus, index_dir, embedder).version is None  # the new settings are kept


def test_a_corrupted_index_is_rebuilt_by_the_next_update(corpus, tmp_path, embedder, caplog):
    index_dir = tmp_path / "idx"
    update(corpus, index_dir, embedder)
    (segment,) = (index_dir / "segments").iterdir()
    (segment / "chunks" / "spans.npy").write_bytes(b"garbage")
    report = update(corpus, index_dir, embedder)
    assert report.new == 2 and "cannot build on the current index" in caplog.text
    assert load_index(index_dir).manifest.chunk_count == report.chunks


def test_an_empty_corpus_keeps_the_index(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    generation = index_dir / update(corpus, index_dir, embedder).version
    for path in corpus.iterdir():
        path.unlink()
    with pytest.raises(EmptyCorpusError):
        update(corpus, index_dir, embedder)
    assert current_generation(index_dir) == generation


def test_adding_and_removing_through_the_assistant(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    update(corpus, index_dir, embedder)
    assistant = Assistant.load(index_dir, corpus_dir=corpus)
    admissions, report = assistant.add_articles([("../../etc/Dien Bien talks!.md", NEW_ARTICLE.encode())])
    assert [(a.doc_id, a.added) for a in admissions] == [("Dien-Bien-talks.md", True)]
    assert report.new == 1
    answer = assistant.ask("Who led the Lao delegation at the Dien Bien talks?")
    assert contains_fact(answer.answer, "Bounmy Keola"), answer.answer
    duplicates, report = assistant.add_articles([("copy.md", NEW_ARTICLE.encode())])
    assert report is None
    assert duplicates[0].describe() == "skipped copy.md: same content as Dien-Bien-talks.md, already in the corpus"
    assistant.remove_articles(["Dien-Bien-talks.md"])
    answer = assistant.ask("Who led the Lao delegation at the Dien Bien talks?")
    assert not contains_fact(answer.answer, "Bounmy Keola"), answer.answer
    assert all(s.doc_id != "Dien-Bien-talks.md" for s in answer.sources)
    with pytest.raises(AssistantError, match=r"no article 'missing\.md'"):
        assistant.remove_articles(["missing.md"])


# -- equivalence: any sequence of adds, changes and deletes ends where a full build of the final corpus starts

SENTENCES = [
    "The Son La Border Guard Command met the Luang Prabang Military Command.",
    "Colonel Viliem Vongthisan led the Lao side.",
    "The two sides signed a Memorandum of Understanding.",
    "They will exchange information on border security.",
    "Joint patrols prevent drug and human trafficking.",
    "The fifth defence policy dialogue was held on March 28.",
    "Medical supplies helped fight COVID-19.",
    "Cattle were presented to Lao households.",
]
ARTICLE = st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=4).map(
    lambda sentences: "\n\n".join(" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2))
)
NAMES = st.sampled_from(["a.txt", "b.md", "sub/c.txt", "sub/deeper/d.md"])
OPERATIONS = st.lists(st.tuples(st.sampled_from(["write", "delete"]), NAMES, ARTICLE), min_size=1, max_size=6)
QUERIES = ["Who led the Lao side?", "memorandum", "border security patrols", "March 28 dialogue", "cattle households"]


def identities(index):
    """Each live chunk, with its sentence vectors, by what it is: segments number chunks in the order they were written."""
    return {(c.doc_id, c.start, c.end, c.sentences): index.vectors.sentence_rows(c.chunk_id) for c in index.chunks}


def assert_same_ranking(left, right, tolerance=1e-4):
    """Same scores rank by rank; the passages may differ only where their scores tie within float noise."""
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a.score == pytest.approx(b.score, abs=tolerance)
    for one, other in ((left, right), (right, left)):
        scores = {(p.document.doc_id, p.chunk.start): p.score for p in other}
        for passage in one:
            match = scores.get((passage.document.doc_id, passage.chunk.start))
            tie_at_cut = abs(passage.score - other[-1].score) <= tolerance
            assert (match is not None and abs(match - passage.score) <= tolerance) or tie_at_cut, passage


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPERATIONS, st.sampled_from([2, 3, segments.MERGE_FACTOR]))
def test_incremental_updates_equal_a_full_build(tmp_path_factory, operations, merge_factor):
    """Adds, changes and deletes, each a segment and deletion marks, merged every `merge_factor` segments of a tier."""
    with mock.patch.object(segments, "MERGE_FACTOR", merge_factor):
        equal_to_a_full_build(tmp_path_factory, operations)


def equal_to_a_full_build(tmp_path_factory, operations):
    embedder = Embedder()
    root = tmp_path_factory.mktemp("equivalence")
    corpus, incremental, full = root / "corpus", root / "incremental", root / "full"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "seed.txt").write_text(SENTENCES[0] + " " + SENTENCES[1], encoding="utf-8")
    small = IndexSettings(chunk_words=12)
    update_index(corpus, incremental, small, embedder=embedder)
    for action, name, text in operations:
        path = corpus / name
        if action == "write":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        else:
            path.unlink(missing_ok=True)
        update_index(corpus, incremental, embedder=embedder)
    update_index(corpus, full, small, embedder=embedder, full=True)
    left, right = load_index(incremental), load_index(full)
    chunks, full_chunks = identities(left), identities(right)
    assert chunks.keys() == full_chunks.keys()
    for identity, vectors in chunks.items():
        np.testing.assert_allclose(vectors, full_chunks[identity], atol=1e-3)  # float16: a batch may round apart
    assert left.manifest.documents == right.manifest.documents
    assert len(left.segments) <= 1 + len(operations)  # one segment per update at most, fewer once merged
    one, two = Assistant.from_version(LocalVersion(left), embedder), Assistant.from_version(LocalVersion(right), embedder)
    for query in QUERIES:
        assert_same_ranking(one.search(query, k=5), two.search(query, k=5))
        assert_same_ranking(one.search(query, k=5, mode="bm25"), two.search(query, k=5, mode="bm25"))


# -- readers and a writer at once

VERSIONS = {
    "alice": "# Meeting\n\nThe meeting was chaired by Alice Nguyen of the Son La command on May 2.",
    "bob": "# Meeting\n\nIn a longer opening that shifts every offset, the meeting was chaired by Bob Phan of Luang Prabang.",
}


def test_readers_always_answer_from_one_generation(corpus, tmp_path, embedder):
    index_dir = tmp_path / "idx"
    article = corpus / "meeting.md"
    article.write_text(VERSIONS["alice"], encoding="utf-8")
    update(corpus, index_dir, embedder)
    assistant = Assistant.load(index_dir)
    stop = threading.Event()
    problems: list[str] = []
    seen: set[str] = set()

    def read() -> None:
        while not stop.is_set():
            answer = assistant.ask("Who chaired the meeting?")
            source = next(s for s in answer.sources if s.doc_id == "meeting.md")
            versions = [name for name, text in VERSIONS.items() if text[source.start : source.end] == source.quote]
            if len(versions) != 1 or versions[0] not in answer.answer.lower():
                problems.append(f"{source.start}:{source.end} {answer.answer!r}")
            seen.update(versions)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for step in range(8):
            article.write_text(VERSIONS["bob" if step % 2 == 0 else "alice"], encoding="utf-8")
            update(corpus, index_dir, embedder)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert problems == []
    assert seen == {"alice", "bob"}  # the readers really did move between generations
