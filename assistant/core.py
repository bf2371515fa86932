"""The `Assistant` facade: one loaded index, answering and searching.

The CLI and the web app both go through this class and nothing else, so they
cannot disagree about an answer.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assistant.answering import Decision, QuestionProfile, answer_question
from assistant.conversation import ConversationState
from assistant.embedder import Embedder
from assistant.errors import AssistantError, IndexMismatchError
from assistant.records import Answer, Passage
from assistant.retriever import HybridRetriever, Mode, Query
from assistant.settings import SearchSettings
from assistant.store import StoredIndex, load_index
from assistant.textnorm import query_terms

log = logging.getLogger(__name__)


class Assistant:
    def __init__(self, index: StoredIndex, embedder: Embedder, settings: SearchSettings | None = None) -> None:
        if embedder.dimension != index.manifest.dimension:
            raise IndexMismatchError(
                f"model {embedder.model_name!r} makes {embedder.dimension}-d vectors but the index holds "
                f"{index.manifest.dimension}-d ones — run: assistant index --full"
            )
        self.index = index
        self.settings = settings or SearchSettings()
        self.retriever = HybridRetriever(index, embedder, self.settings)

    @classmethod
    def load(cls, index_dir: Path, settings: SearchSettings | None = None, model: str | None = None) -> Assistant:
        """Load the index at `index_dir` and the model it was built with (`model` must be that one)."""
        index = load_index(index_dir)
        built_with = index.manifest.model
        if model is not None and model != built_with:
            raise IndexMismatchError(
                f"index at {index_dir}/ was built with model {built_with!r}, not {model!r} — "
                f"query without --model, or rebuild: assistant index --full"
            )
        return cls(index, Embedder(built_with, index.manifest.settings.batch_size), settings)

    def search(self, query: str, k: int = 10, mode: Mode = "hybrid") -> list[Passage]:
        """Ranked passages for `query`, no answer composed."""
        _require_text(query)
        return self.retriever.search(Query.plain(query), k, mode)

    def decide(self, question: str, state: ConversationState | None = None, k: int | None = None) -> Decision:
        """The answer with the evidence it rests on; `state` carries a conversation's topic."""
        _require_text(question)
        context = state.context_for(question) if state is not None else ""
        query = Query(
            text=question,
            terms=query_terms(question),
            context_terms=query_terms(context) if context else [],
            dense_text=f"{context} {question}".strip(),
        )
        passages = self.retriever.search(query, k or self.settings.answer_passages)
        decision = answer_question(
            question,
            QuestionProfile.of(question, context),
            passages,
            self.index.bm25,
            self.settings.min_evidence,
            self.settings.answer_max_words,
        )
        if state is not None:
            state.record(question, context)
        return decision

    def ask(self, question: str, state: ConversationState | None = None, k: int | None = None) -> Answer:
        return self.decide(question, state, k).answer

    def info(self) -> dict[str, Any]:
        return describe(self.index.manifest.to_dict())


def describe(manifest: dict[str, Any]) -> dict[str, Any]:
    """The summary `assistant info` shows, from a manifest's JSON."""
    return {
        "documents": len(manifest["documents"]),
        "chunks": manifest["chunk_count"],
        "model": manifest["model"],
        "dimension": manifest["dimension"],
        "built_at": manifest["built_at"],
        "corpus": manifest["corpus"],
    }


def _require_text(text: str) -> None:
    if not text or not text.strip():
        raise AssistantError("the question is empty")
