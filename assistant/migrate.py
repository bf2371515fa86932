"""Copy an index from one backend to another (`assistant migrate --to milvus`): nothing is embedded again.

Everything a version holds comes across as it is — documents and their
texts, chunks with their offsets, every sentence vector, the manifest with
its settings — through the `IndexVersion` protocol, so any backend can be
the source. The BM25 terms are the one thing the protocol does not hand
over; they are made again from the stored texts by the same analyser the
indexer used (cheap: no model).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from assistant.backends import FreshDocuments, IndexBackend, IndexUpdate, IndexVersion, PreparedDocument
from assistant.indexer import searchable_text
from assistant.records import Chunk
from assistant.textnorm import document_terms


def copy_version(source: IndexVersion, target: IndexBackend, wait: float = 60.0) -> str:
    """Store `source` as the new version of `target` (a full rebuild there, vectors and all); returns its name."""
    manifest = source.manifest
    fresh: list[PreparedDocument] = []
    for doc_id in manifest.documents:
        document = source.documents[doc_id]
        chunks = [Chunk(n, doc_id, c.start, c.end, c.sentences) for n, c in enumerate(source.document_chunks(doc_id))]
        rows = [vector for _, vector in source.sentence_vectors(doc_id)]
        vectors = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, manifest.dimension), dtype=np.float32)
        terms = [document_terms(searchable_text(document, chunk)) for chunk in chunks]
        fresh.append(PreparedDocument(document, chunks, terms, vectors))
    with target.writing(wait):
        return target.commit(IndexUpdate(dataclasses.replace(manifest, files={}), FreshDocuments.ready(fresh)), None)
