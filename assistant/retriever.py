"""Retrieval: the question embedded, the backend searched, its hits turned into passages with their documents."""

from __future__ import annotations

from collections.abc import Collection

from assistant.backends import IndexVersion, Mode, SearchRequest
from assistant.embedders import Embedder
from assistant.question import Question
from assistant.records import Passage
from assistant.settings import SearchSettings


class Retriever:
    """One index version and the embedder its sentences were embedded with."""

    def __init__(self, version: IndexVersion, embedder: Embedder, settings: SearchSettings) -> None:
        self.version = version
        self.embedder = embedder
        self.settings = settings

    def search(
        self, question: Question, k: int = 10, mode: Mode = "hybrid", doc_ids: Collection[str] | None = None
    ) -> list[Passage]:
        """The `k` best passages for `question`, each with its fused and component scores."""
        request = SearchRequest(
            terms=question.terms,
            vector=self.embedder.encode_query(question.dense_text),
            context_terms=question.context_terms,
        )
        passages = []
        for rank, hit in enumerate(self.version.search(request, k, mode, self.settings, doc_ids), start=1):
            chunk = self.version.chunk(hit.chunk_id)
            document = self.version.documents[chunk.doc_id]
            passages.append(
                Passage(
                    rank,
                    chunk,
                    document,
                    score=hit.score,
                    bm25_score=hit.bm25_score,
                    dense_score=hit.dense_score,
                    sentence_scores=hit.sentence_scores,
                )
            )
        return passages
