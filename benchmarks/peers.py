"""Side by side with LlamaIndex and Haystack on the SQuAD paragraphs: build time, query latency, recall.

All three index the 2,067 SQuAD dev paragraphs (one document each) with the
same local model (all-MiniLM-L6-v2 from its folder on disk) and answer the
questions of the held-out half (every 5th), in one run:

- LlamaIndex: `VectorStoreIndex` + `BM25Retriever`, fused by
  `QueryFusionRetriever(mode="reciprocal_rerank", num_queries=1)`;
- Haystack 2: `InMemoryBM25Retriever` + `InMemoryEmbeddingRetriever`, joined by
  `DocumentJoiner(join_mode="reciprocal_rank_fusion")`;
- ours, on each embedding backend (PyTorch is the peers' runtime).

Build time is from the documents in memory (ours: written as files, as it
reads them) to an index ready to query, every vector embedded by the model
(no cache). Our ONNX backends export the model once per machine; that export
is made before the clock starts and its time reported beside the build.
Query latency includes encoding the question. The peers are an
optional extra, installed apart from the app (`make peers`). Writes
benchmarks/results/peers.json.

    .venv-peers/bin/python benchmarks/peers.py [--every 5]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from squad import ROOT, write_corpus
from tqdm import tqdm

from assistant.core import Assistant
from assistant.embedders import embedder_names, model_cache, resolve_model
from assistant.embedders.onnx_export import exported_model
from assistant.evaluation import QAItem, document_ranking, retrieval_metrics
from assistant.indexer import update_index
from assistant.settings import DEFAULT_MODEL, IndexSettings

RESULTS = ROOT / "benchmarks" / "results" / "peers.json"
TOP_K = 10

Search = Callable[[str], list[str]]  # a question -> document ids, best first


def paragraphs(corpus: Path) -> dict[str, str]:
    """Each article's text as our indexer sees it (heading and paragraph), by document id."""
    return {p.relative_to(corpus).as_posix(): p.read_text(encoding="utf-8") for p in sorted(corpus.rglob("*.md"))}


def llama_index(texts: dict[str, str], model: str) -> Search:
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.retrievers.bm25 import BM25Retriever

    Settings.llm = None  # no LLM: one query, fused by reciprocal rank
    Settings.embed_model = HuggingFaceEmbedding(model_name=model, device="cpu")
    documents = [Document(text=text, doc_id=doc_id, metadata={"doc_id": doc_id}) for doc_id, text in texts.items()]
    index = VectorStoreIndex.from_documents(documents)
    nodes = list(index.docstore.docs.values())
    retriever = QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=TOP_K), BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=TOP_K)],
        similarity_top_k=TOP_K,
        num_queries=1,
        mode="reciprocal_rerank",
        use_async=False,
    )
    return lambda question: [n.node.metadata["doc_id"] for n in retriever.retrieve(question)]


def haystack(texts: dict[str, str], model: str) -> Search:
    from haystack import Document, Pipeline
    from haystack.components.embedders import SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    store = InMemoryDocumentStore()
    embedder = SentenceTransformersDocumentEmbedder(model=model, progress_bar=False)
    embedder.warm_up()
    documents = [Document(content=text, meta={"doc_id": doc_id}) for doc_id, text in texts.items()]
    store.write_documents(embedder.run(documents=documents)["documents"])
    pipeline = Pipeline()
    pipeline.add_component("text_embedder", SentenceTransformersTextEmbedder(model=model, progress_bar=False))
    pipeline.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=TOP_K))
    pipeline.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=TOP_K))
    pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=TOP_K))
    pipeline.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
    pipeline.connect("bm25_retriever", "joiner")
    pipeline.connect("embedding_retriever", "joiner")
    pipeline.warm_up()

    def search(question: str) -> list[str]:
        result = pipeline.run({"text_embedder": {"text": question}, "bm25_retriever": {"query": question}})
        return [d.meta["doc_id"] for d in result["joiner"]["documents"]]

    return search


def export_seconds(model: str, backend: str, index_dir: Path) -> float | None:
    """Time of the one-off ONNX export of `model` for `backend` into the index's model cache (None for PyTorch)."""
    if backend == "torch":
        return None
    began = time.perf_counter()
    exported_model(Path(model), backend, model_cache(index_dir))
    return round(time.perf_counter() - began, 1)


def ours(backend: str, corpus: Path, index_dir: Path) -> Search:
    update_index(corpus, index_dir, IndexSettings(embedder=backend))
    assistant = Assistant.load(index_dir)
    return lambda question: document_ranking(assistant.search(question, k=TOP_K))


def measure(name: str, build: Callable[[], Search], items: list[QAItem], **extra: object) -> dict:
    began = time.perf_counter()
    search = build()
    build_seconds = time.perf_counter() - began
    search(items[0].question)  # warm up
    rankings, latencies = [], []
    for item in tqdm(items, desc=name, leave=False):
        began = time.perf_counter()
        ranking = search(item.question)
        latencies.append((time.perf_counter() - began) * 1000)
        rankings.append((list(dict.fromkeys(ranking)), set(item.doc_ids)))
    metrics = retrieval_metrics(rankings)
    row = {
        "system": name,
        "build_seconds": round(build_seconds, 1),
        "query_ms_p50": round(statistics.median(latencies), 1),
        "query_ms_p95": round(sorted(latencies)[int(0.95 * len(latencies)) - 1], 1),
        "recall_at_1": metrics["recall_at_1"],
        "recall_at_5": metrics["recall_at_5"],
        "mrr_at_10": metrics["mrr_at_10"],
        **extra,
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="ask every Nth question of the held-out half")
    every = parser.parse_args().every
    model = resolve_model(DEFAULT_MODEL)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        corpus = work / "corpus"
        _, heldout, questions = write_corpus(corpus)
        items = [q for title in heldout for q in questions[title]][::every]
        texts = paragraphs(corpus)
        rows = [
            measure("LlamaIndex (QueryFusionRetriever, RRF)", lambda: llama_index(texts, model), items),
            measure("Haystack 2 (BM25 + embedding, RRF joiner)", lambda: haystack(texts, model), items),
        ]
        for backend in embedder_names():
            index_dir = work / f"index-{backend}"
            export = export_seconds(model, backend, index_dir)
            default = " (default)" if backend == IndexSettings.embedder else ""
            build = functools.partial(ours, backend, corpus, index_dir)
            rows.append(measure(f"ours, {backend} backend{default}", build, items, export_seconds=export))
    report = {"paragraphs": len(texts), "questions": len(items), "top_k": TOP_K, "rows": rows}
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
