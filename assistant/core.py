"""The `Assistant` facade: one loaded index, answering and searching.

The CLI and the web app both go through this class and nothing else, so they
cannot disagree about an answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from assistant.answering import Decision, QuestionProfile, answer_question
from assistant.conversation import ConversationState
from assistant.embedder import Embedder, model_cache
from assistant.errors import AssistantError, CorruptIndexError, IndexMismatchError, NoIndexError
from assistant.indexer import UpdateReport, update_index
from assistant.ingest import Admission, admit, withdraw
from assistant.records import Answer, Passage
from assistant.retriever import HybridRetriever, Mode, Query
from assistant.settings import SearchSettings
from assistant.store import StoredIndex, load_index, pointer_state
from assistant.textnorm import query_terms

log = logging.getLogger(__name__)


class Assistant:
    """Answers from one index; between questions it moves to a newer generation if one was written."""

    def __init__(
        self,
        index: StoredIndex,
        embedder: Embedder,
        settings: SearchSettings | None = None,
        index_dir: Path | None = None,
        corpus_dir: Path | None = None,
    ) -> None:
        _check_dimension(index, embedder)
        self.settings = settings or SearchSettings()
        self.retriever = HybridRetriever(index, embedder, self.settings)
        self.index_dir = index_dir
        self._corpus_dir = corpus_dir
        self._switching = threading.Lock()

    @property
    def index(self) -> StoredIndex:
        return self.retriever.index

    @property
    def corpus_dir(self) -> Path:
        return self._corpus_dir or Path(self.index.manifest.corpus)

    @classmethod
    def load(
        cls,
        index_dir: Path,
        settings: SearchSettings | None = None,
        model: str | None = None,
        corpus_dir: Path | None = None,
    ) -> Assistant:
        """Load the index at `index_dir` and the model it was built with (`model` must be that one)."""
        index = load_index(index_dir)
        built_with = index.manifest.model
        if model is not None and model != built_with:
            raise IndexMismatchError(
                f"index at {index_dir}/ was built with model {built_with!r}, not {model!r} — "
                f"query without --model, or rebuild: assistant index --full"
            )
        embedder = _embedder_for(index, index_dir)
        return cls(index, embedder, settings, index_dir=index_dir, corpus_dir=corpus_dir)

    def refresh(self) -> bool:
        """Move to the generation CURRENT names, if it is newer; True if it moved.

        A question in flight keeps the retriever it started with, so it is
        answered from one generation from start to end.
        """
        if self.index_dir is None or pointer_state(self.index_dir) in ("", self.index.location.name):
            return False
        with self._switching:
            for attempt in range(3):
                name = pointer_state(self.index_dir)
                if name in ("", self.index.location.name):
                    return False
                try:
                    index = load_index(self.index_dir)
                    break
                except (CorruptIndexError, NoIndexError, FileNotFoundError):
                    if attempt == 2 or pointer_state(self.index_dir) == name:
                        raise  # not a race with a writer: the index itself is broken
            embedder = self.retriever.embedder
            if (index.manifest.model, index.manifest.settings.backend) != (embedder.model_name, embedder.backend):
                embedder = _embedder_for(index, self.index_dir)
            _check_dimension(index, embedder)
            self.retriever = HybridRetriever(index, embedder, self.settings)
            log.info("now answering from %s", index.location.name)
            return True

    def _current(self) -> HybridRetriever:
        self.refresh()
        return self.retriever

    def search(self, query: str, k: int = 10, mode: Mode = "hybrid", doc_ids: Collection[str] | None = None) -> list[Passage]:
        """Ranked passages for `query`, no answer composed."""
        _require_text(query)
        return self._current().search(Query.plain(query), k, mode, doc_ids)

    def decide(
        self,
        question: str,
        state: ConversationState | None = None,
        k: int | None = None,
        doc_ids: Collection[str] | None = None,
    ) -> Decision:
        """The answer with the evidence it rests on.

        `state` carries a conversation's topic; `doc_ids` restricts the search to those documents.
        """
        _require_text(question)
        context = state.context_for(question) if state is not None else ""
        query = Query(
            text=question,
            terms=query_terms(question),
            context_terms=query_terms(context) if context else [],
            dense_text=f"{context} {question}".strip(),
        )
        retriever = self._current()
        passages = retriever.search(query, k or self.settings.answer_passages, doc_ids=doc_ids)
        decision = answer_question(
            question,
            QuestionProfile.of(question, context),
            passages,
            retriever.index.bm25,
            self.settings.min_evidence,
            self.settings.answer_max_words,
            self.settings.evidence,
        )
        if state is not None:
            state.record(question, context)
        return decision

    def ask(
        self,
        question: str,
        state: ConversationState | None = None,
        k: int | None = None,
        doc_ids: Collection[str] | None = None,
    ) -> Answer:
        return self.decide(question, state, k, doc_ids).answer

    def info(self) -> dict[str, Any]:
        return describe(self._current().index.manifest.to_dict())

    def add_articles(self, articles: list[tuple[str, bytes]]) -> tuple[list[Admission], UpdateReport | None]:
        """Put articles into the corpus and index them at once; answerable on return."""
        admissions = admit(self.corpus_dir, articles)
        report = self._update() if any(a.added for a in admissions) else None
        return admissions, report

    def remove_articles(self, doc_ids: list[str]) -> UpdateReport:
        withdraw(self.corpus_dir, doc_ids)
        return self._update()

    def _update(self) -> UpdateReport:
        if self.index_dir is None:
            raise AssistantError("this assistant was not loaded from an index folder, so it cannot update one")
        report = update_index(self.corpus_dir, self.index_dir, embedder=self.retriever.embedder)
        self.refresh()
        return report


def describe(manifest: dict[str, Any]) -> dict[str, Any]:
    """The summary `assistant info` shows, from a manifest's JSON."""
    return {
        "documents": len(manifest["documents"]),
        "chunks": manifest["chunk_count"],
        "model": manifest["model"],
        "backend": manifest["settings"].get("backend", "torch"),
        "dimension": manifest["dimension"],
        "built_at": manifest["built_at"],
        "corpus": manifest["corpus"],
    }


def _check_dimension(index: StoredIndex, embedder: Embedder) -> None:
    if embedder.dimension != index.manifest.dimension:
        raise IndexMismatchError(
            f"model {embedder.model_name!r} makes {embedder.dimension}-d vectors but the index holds "
            f"{index.manifest.dimension}-d ones — run: assistant index --full"
        )


def _require_text(text: str) -> None:
    if not text or not text.strip():
        raise AssistantError("the question is empty")


def _embedder_for(index: StoredIndex, index_dir: Path) -> Embedder:
    """The model and backend the index was built with: questions must be embedded as its sentences were."""
    settings = index.manifest.settings
    return Embedder(index.manifest.model, settings.batch_size, settings.backend, model_cache(index_dir))
