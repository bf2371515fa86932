"""The `Assistant` facade: the one door the CLI and the web app go through.

It holds one index backend and, once a question needs it, one loaded
version with its embedder; between questions it moves to a newer version if
a writer made one. Indexing, adding and removing articles go through it too,
so the two faces cannot disagree about an answer or about what is indexed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from assistant import watcher
from assistant.answerers import Decision, open_answerer
from assistant.backends import IndexBackend, IndexVersion, Mode, open_backend
from assistant.conversation import ConversationState
from assistant.dates import Period, parse_iso_day
from assistant.embedders import Embedder
from assistant.errors import (
    AssistantError,
    CorruptIndexError,
    IndexMismatchError,
    NoIndexError,
    QuestionError,
    UnknownDocumentError,
)
from assistant.indexer import UpdateReport, update_index
from assistant.ingest import Admission, admit, read_upload, withdraw
from assistant.languages import language_for
from assistant.question import Question
from assistant.records import Answer, Document, DocumentRecord, Manifest, Passage
from assistant.retriever import Retriever
from assistant.settings import (
    MAX_QUESTION_CHARS,
    BM25Params,
    IndexSettings,
    SearchSettings,
    default_backend,
    default_corpus_dir,
    default_index_dir,
)

log = logging.getLogger(__name__)
# Evidence scores closer than this are ties: an answer from the period a question names wins a tie.
PERIOD_TIE = 0.02
_SURROGATE = re.compile("[\ud800-\udfff]")


class Assistant:
    """Answers from an index and keeps it up to date. Making one loads nothing; the first question loads the index."""

    def __init__(
        self,
        index_dir: Path | None = None,
        corpus_dir: Path | None = None,
        settings: SearchSettings | None = None,
        backend: IndexBackend | None = None,
    ) -> None:
        self.index_dir = index_dir or default_index_dir()
        self._corpus_dir = corpus_dir
        self.settings = settings or SearchSettings()
        self.backend = backend or open_backend(default_backend(), self.index_dir)
        self.answerer = open_answerer(self.settings)
        self._retriever: Retriever | None = None
        self._switching = threading.Lock()
        self._follows_index = True  # False for an assistant made from one given version

    @classmethod
    def load(
        cls,
        index_dir: Path,
        settings: SearchSettings | None = None,
        model: str | None = None,
        corpus_dir: Path | None = None,
    ) -> Assistant:
        """The assistant for the index at `index_dir`, loaded now with the model it was built with (`model` must be that one)."""
        return cls(index_dir, corpus_dir, settings).open(model)

    @classmethod
    def from_version(
        cls, version: IndexVersion, embedder: Embedder, settings: SearchSettings | None = None, index_dir: Path | None = None
    ) -> Assistant:
        """An assistant that starts from `version` with `embedder` already loaded (for comparisons and benchmarks).

        Given `index_dir`, it follows that index as any assistant does; without, it answers from `version` only.
        """
        assistant = cls(index_dir, settings=settings)
        assistant._retriever = _retriever(version, embedder, assistant.settings)
        assistant._follows_index = index_dir is not None
        return assistant

    def open(self, model: str | None = None) -> Assistant:
        """Load the version in use and its model now, so that errors show here rather than at the first question."""
        version = self.backend.open()
        built_with = version.manifest.model
        if model is not None and model != built_with:
            raise IndexMismatchError(
                f"index at {self.backend.location} was built with model {built_with!r}, not {model!r} — "
                f"query without --model, or rebuild: assistant index --full"
            )
        self._retriever = _retriever(version, Embedder.for_index(version.manifest.settings, self.index_dir), self.settings)
        return self

    @property
    def retriever(self) -> Retriever:
        return self._current()

    @property
    def index(self) -> IndexVersion:
        """The version questions are answered from now."""
        return self._current().version

    @property
    def corpus_dir(self) -> Path:
        if self._corpus_dir is not None:
            return self._corpus_dir
        try:
            return Path(self.backend.read_manifest().corpus)
        except NoIndexError:
            return default_corpus_dir()

    def refresh(self) -> bool:
        """Move to the version the backend now serves, if it is newer; True if it moved.

        A question in flight keeps the retriever it started with, so it is
        answered from one version from start to end.
        """
        if self._retriever is None or not self._follows_index:
            return False
        if self.backend.version_name() in ("", self._retriever.version.name):
            return False
        with self._switching:
            for attempt in range(3):
                name = self.backend.version_name()
                if name in ("", self._retriever.version.name):
                    return False
                try:
                    version = self.backend.open()
                    break
                except (CorruptIndexError, NoIndexError, FileNotFoundError):
                    if attempt == 2 or self.backend.version_name() == name:
                        raise  # not a race with a writer: the index itself is broken
            embedder = self._retriever.embedder
            if not embedder.serves(version.manifest.settings):  # questions are embedded as the index's sentences were
                embedder = Embedder.for_index(version.manifest.settings, self.index_dir)
            self._retriever = _retriever(version, embedder, self.settings)
            log.info("now answering from %s", version.name)
            return True

    def _current(self) -> Retriever:
        if self._retriever is None:
            with self._switching:
                if self._retriever is None:
                    self.open()
        else:
            self.refresh()
        assert self._retriever is not None
        return self._retriever

    # Asking

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        doc_ids: Collection[str] | None = None,
        where: Mapping[str, str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Passage]:
        """Ranked passages for `query`, no answer composed."""
        check_question(query, "query")
        retriever = self._current()
        return retriever.search(Question.analyse(query), k, mode, _scope(retriever.version, doc_ids, where, since, until))

    def decide(
        self,
        question: str,
        state: ConversationState | None = None,
        k: int | None = None,
        doc_ids: Collection[str] | None = None,
        where: Mapping[str, str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Decision:
        """The answer with the evidence it rests on.

        `state` carries a conversation's topic; `doc_ids` restricts the search to those documents, `where`
        to those whose metadata match (see `DocumentRecord.matches`), and `since`/`until` (YYYY-MM-DD, both
        included) to those published in that range. A period the question names ("in March 2023") narrows
        the search to the documents of that period where there are any; a question for the most recent is
        answered from the newest document that answers it (see `_newest_answer`).
        """
        check_question(question)
        analysed = Question.analyse(question, state.topics, state.entities) if state is not None else Question.analyse(question)
        retriever = self._current()
        scope = _scope(retriever.version, doc_ids, where, since, until)
        k = k or self.settings.answer_passages
        passages = retriever.search(analysed, k, doc_ids=scope)
        decision = self.answerer.decide(analysed, passages, retriever.version.stats)
        if analysed.time.period is not None and (narrowed := _in_period(retriever.version, scope, analysed.time.period)):
            decision, passages = self._of_period(analysed, decision, passages, narrowed, k, retriever)
        if analysed.time.latest:
            decision = self._newest_answer(analysed, passages, decision, retriever)
        decision = _say_other_language(analysed, decision, {p.document.doc_id: p.document for p in passages})
        if state is not None:
            state.record(analysed, decision.answer)
        return dataclasses.replace(decision, documents={p.document.doc_id: p.document for p in passages})

    def ask(
        self,
        question: str,
        state: ConversationState | None = None,
        k: int | None = None,
        doc_ids: Collection[str] | None = None,
        where: Mapping[str, str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Answer:
        return self.decide(question, state, k, doc_ids, where, since, until).answer

    def _of_period(
        self,
        question: Question,
        decision: Decision,
        passages: list[Passage],
        narrowed: Collection[str],
        k: int,
        retriever: Retriever,
    ) -> tuple[Decision, list[Passage]]:
        """For "what was agreed in March 2023?": the answer from the documents published in the period when
        it stands as well as the answer from all (its evidence within PERIOD_TIE of it). The period may be
        the event's, reported later ("in 2023, the two sides held 24 patrols", in a 2024 review): then the
        answer from all stands, being the better supported."""
        own = retriever.search(question, k, doc_ids=narrowed)
        candidate = self.answerer.decide(question, own, retriever.version.stats)
        if candidate.answer.abstained or candidate.evidence is None:
            return decision, passages
        stands = decision.evidence is not None and not decision.answer.abstained
        if stands and decision.evidence is not None and candidate.evidence.score < decision.evidence.score - PERIOD_TIE:
            return decision, passages
        return candidate, own

    def _newest_answer(self, question: Question, passages: list[Passage], decision: Decision, retriever: Retriever) -> Decision:
        """For "what was agreed most recently?": the answer from the newest dated document among the passages
        that answers the question from its own passages alone (down to the one first chosen), so no older
        document's figure is quoted beside it; its date leads the answer. An abstention stays one: the
        evidence of all passages did not hold."""
        if decision.answer.abstained:
            return decision
        chosen = decision.answer.sources[0].published or ""
        for document in _newest_documents(passages):
            if document.published is None or document.published < chosen:
                break
            own = [p for p in passages if p.document.doc_id == document.doc_id]
            candidate = self.answerer.decide(question, own, retriever.version.stats)
            if not candidate.answer.abstained:
                decision = candidate
                break
        answer = decision.answer
        if published := answer.sources[0].published:
            lead = language_for(question.language).latest.format(date=published)
            answer = dataclasses.replace(answer, answer=f"{lead}{answer.answer}")
        return dataclasses.replace(decision, answer=answer)

    # What is indexed

    def info(self) -> dict[str, Any]:
        """Documents, chunks, model, embedder, backend and build time of the version in use (loads no model)."""
        return {**self._manifest().summary(), "backend": self.backend.name}

    def documents(self) -> Mapping[str, DocumentRecord]:
        """Every indexed document's record, in corpus order (loads no model)."""
        return self._manifest().documents

    def document(self, doc_id: str) -> Document:
        """An indexed document with the text its quotes point into (loads no model)."""
        version = self.index if self._retriever is not None else self.backend.open()
        if doc_id not in version.manifest.documents:
            raise UnknownDocumentError(f"not in the index: {doc_id}")
        return version.documents[doc_id]

    def _manifest(self) -> Manifest:
        """The manifest of the version in use: the loaded one's, or read alone when nothing is loaded yet."""
        return self.index.manifest if self._retriever is not None else self.backend.read_manifest()

    # Keeping the index up to date

    def update(
        self,
        full: bool = False,
        progress: bool = False,
        wait: float = 60.0,
        settings: IndexSettings | None = None,
        only: Collection[str] | None = None,
        **overrides: Any,
    ) -> UpdateReport:
        """Bring the index up to date with the corpus. `overrides` (model, chunk_words, overlap_sentences,
        embedder, bm25_method) change the index's settings, which rebuilds every document; `only` names the
        only documents that changed (update_index)."""
        settings = settings or self._settings_with(overrides)
        embedder = self._retriever.embedder if self._retriever is not None else None
        if embedder is not None and settings is not None and not embedder.serves(settings):
            embedder = None
        report = update_index(
            self.corpus_dir,
            self.index_dir,
            settings,
            full=full,
            embedder=embedder,
            progress=progress,
            wait=wait,
            backend=self.backend,
            only=only,
        )
        self.refresh()
        return report

    def _settings_with(self, overrides: dict[str, Any]) -> IndexSettings | None:
        """The index's settings with `overrides` applied; None (keep the index's own) when there are none."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return None
        try:
            base = self.backend.read_manifest().settings
        except AssistantError:
            base = IndexSettings()
        method = given.pop("bm25_method", None)
        return dataclasses.replace(base, bm25=BM25Params(method=method) if method else base.bm25, **given)

    def add_articles(
        self, articles: Sequence[tuple[str, bytes]], wait: float = 60.0
    ) -> tuple[list[Admission], UpdateReport | None]:
        """Put articles into the corpus and index them at once; answerable on return."""
        admissions = admit(self.corpus_dir, list(articles))
        added = [a.doc_id for a in admissions if a.added]
        report = self.update(wait=wait, only=added) if added else None
        return admissions, report

    def add_files(self, paths: Sequence[Path], wait: float = 60.0) -> tuple[list[Admission], UpdateReport | None]:
        """`add_articles` for files on disk."""
        return self.add_articles([read_upload(path) for path in paths], wait)

    def remove_articles(self, doc_ids: Sequence[str], wait: float = 60.0) -> tuple[list[str], UpdateReport]:
        removed = withdraw(self.corpus_dir, list(doc_ids))
        return removed, self.update(wait=wait, only=removed)

    def watch(
        self, quiet: float = 1.0, stop: threading.Event | None = None, on_update: Callable[[UpdateReport], None] | None = None
    ) -> None:
        """Re-index whenever the corpus folder changes, until `stop` is set (or Ctrl-C)."""
        watcher.watch(self.corpus_dir, self.update, quiet=quiet, stop=stop, on_update=on_update)


def _retriever(version: IndexVersion, embedder: Embedder, settings: SearchSettings) -> Retriever:
    if embedder.dimension != version.manifest.dimension:
        raise IndexMismatchError(
            f"model {embedder.model_name!r} makes {embedder.dimension}-d vectors but the index holds "
            f"{version.manifest.dimension}-d ones — run: assistant index --full"
        )
    return Retriever(version, embedder, settings)


def _scope(
    version: IndexVersion,
    doc_ids: Collection[str] | None,
    where: Mapping[str, str] | None,
    since: str | None = None,
    until: str | None = None,
) -> Collection[str] | None:
    """The documents of `version` a search may return: None for all, an empty collection for none.

    Every id given must be indexed, and `since`/`until` must be dates (YYYY-MM-DD). Metadata and date
    filters are resolved here, against the manifest every backend keeps, so a backend needs only a
    filter by document. A date range leaves out the documents whose date is unknown.
    """
    documents = version.manifest.documents
    unknown = [d for d in doc_ids or () if d not in documents]
    if unknown:
        raise UnknownDocumentError(f"not in the index: {', '.join(unknown)}")
    since, until = _iso_day(since, "since"), _iso_day(until, "until")
    if not where and since is None and until is None:
        return doc_ids
    records = documents.items() if doc_ids is None else ((d, documents[d]) for d in doc_ids)
    return [d for d, record in records if record.matches(where or {}) and record.published_within(since, until)]


def _iso_day(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return parse_iso_day(value).isoformat()
    except ValueError as error:
        raise QuestionError(f"{name}: {error}") from None


def _in_period(version: IndexVersion, scope: Collection[str] | None, period: Period) -> list[str]:
    """The documents of `scope` published in `period` and those whose date is unknown, when some are dated
    in it and some outside (else nothing to narrow: an empty list)."""
    documents = version.manifest.documents
    records = documents.items() if scope is None else ((d, documents[d]) for d in scope)
    inside = [(d, r.published) for d, r in records if r.published is None or period.holds(r.published)]
    dated_inside = any(period.holds(published) for _, published in inside)
    candidates = len(documents) if scope is None else len(scope)
    return [d for d, _ in inside] if dated_inside and len(inside) < candidates else []


def _say_other_language(question: Question, decision: Decision, documents: Mapping[str, Document]) -> Decision:
    """An answer quoted from an article in another language than the question's says so first ("From an
    article in Vietnamese: …"); the quotes stay in the article's own language."""
    answer = decision.answer
    if answer.abstained or not answer.sources or answer.sources[0].doc_id not in documents:
        return decision
    written_in = documents[answer.sources[0].doc_id].metadata.get("language")
    language = language_for(question.language)
    if not written_in or written_in == question.language or written_in not in language.language_names:
        return decision
    lead = language.quoted_from.format(language=language.language_names[written_in])
    return dataclasses.replace(decision, answer=dataclasses.replace(answer, answer=f"{lead}{answer.answer}"))


def _newest_documents(passages: Sequence[Passage]) -> list[Document]:
    """The passages' documents, dated ones newest first, then the undated in rank order."""
    documents = list({p.document.doc_id: p.document for p in passages}.values())
    return sorted(documents, key=lambda d: d.published or "", reverse=True)


def check_question(text: str, what: str = "question") -> None:
    """Refuse, before any work, what no face may process: an empty text, one over MAX_QUESTION_CHARS, or one
    that is not valid text.

    Every question and query passes here, whichever face it came through; a face may call it early, to
    refuse a question before showing it. Invalid UTF-8 arrives as lone surrogates: Python's escapes for
    the bytes it could not decode (an argument, a stdin line) or an escape in a JSON request. The
    tokenizers and the UTF-8 output cannot take them, so the message names the byte instead.
    """
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the {what} is too long ({len(text):,} characters; at most {MAX_QUESTION_CHARS:,} characters are accepted)"
        )
    if not text.strip():
        raise QuestionError(f"the {what} is empty")
    if bad := _SURROGATE.search(text):
        code, where = ord(bad.group()), bad.start() + 1
        if 0xDC80 <= code <= 0xDCFF:  # the surrogate escape of one undecodable byte
            raise QuestionError(f"the {what} is not valid UTF-8 (cannot decode byte 0x{code - 0xDC00:02x} at character {where})")
        raise QuestionError(f"the {what} is not valid Unicode (a lone surrogate U+{code:04X} at character {where})")
