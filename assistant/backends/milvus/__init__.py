"""The `milvus` backend: the index on a Milvus server, shared by any number of app servers and machines.

Everything a question needs lives in Milvus (store.py): chunks with their
offsets and BM25 terms, sentence vectors, document texts and manifests, so
that app servers on several machines share one index with no shared disk.
A version is the rows born at or before it and not yet dropped, switched to
all at once by writing its commit record; one writer at a time holds an
alias (lock.py).

Searching asks the engine for candidates — BM25 over our analyser's terms
and HNSW over each chunk's mean sentence vector, as the local backend asks
its postings and FAISS — then scores the pooled candidates exactly as the local
backend does (lexical.py for BM25, each chunk's best sentence for dense)
and fuses them with the same code (fusion.py): so both backends rank alike.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np

from assistant.backends import Hit, IndexUpdate, IndexVersion, Mode, PreparedDocument, SearchRequest
from assistant.backends.milvus.lexical import TermCounts, bm25_scores, engine_text, terms_of
from assistant.backends.milvus.lock import WriterLock
from assistant.backends.milvus.store import ALIVE, HNSW_EF, TEXT_FIELD_BYTES, Store, VersionRecord, key64
from assistant.errors import CorruptIndexError, IndexMismatchError, NoIndexError
from assistant.fusion import reciprocal_rank_fusion, weighted_fusion
from assistant.records import Chunk, Document, DocumentRecord, Manifest
from assistant.segment import Span
from assistant.settings import MilvusSettings, SearchSettings

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
LEXICAL_OVERFETCH = 2  # engine BM25 candidates per candidate kept: its scores differ from ours, so take more and re-score
REBUILD_HINT = "run: assistant index --full"
_CHUNK_FIELDS = ["pk", "doc_gen", "seq", "first_row", "start", "end", "sentences", "terms"]
_ROW_FIELDS = ["pk", "doc_gen", "born", "died", "seq", "first_row", "start", "end", "sentences", "terms", "mean"]


def _chunk_key(gen: int, seq: int) -> int:
    return key64(gen, "chunk", seq)


def _sentence_key(gen: int, row: int) -> int:
    return key64(gen, "sentence", row)


class MilvusDocuments(Mapping[str, Document]):
    """A version's documents: records from its manifest, texts read from Milvus when a passage is shown or quoted
    (the hits of a search in one read), checked against their hash, the last `cache_size` kept."""

    def __init__(self, store: Store, records: Mapping[str, DocumentRecord], cache_size: int = 512) -> None:
        self.store = store
        self.records = records
        self._cache_size = cache_size
        self._cache: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def prefetch(self, doc_ids: Collection[str]) -> None:
        """Read the texts of several documents in one go (a search's hits are shown next)."""
        with self._lock:
            wanted = [d for d in dict.fromkeys(doc_ids) if d in self.records and d not in self._cache]
        texts = self.store.read_blobs("text", [self.records[d].text_sha256 for d in wanted])
        for doc_id in wanted:
            if (text := texts.get(self.records[doc_id].text_sha256)) is not None:
                self._keep(self._checked(doc_id, text))

    def _checked(self, doc_id: str, text: str | None) -> Document:
        record = self.records[doc_id]
        if text is None:
            raise CorruptIndexError(f"the text of {doc_id} is missing from {self.store.where} — run: assistant index")
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != record.text_sha256:
            raise CorruptIndexError(
                f"the text of {doc_id} in {self.store.where} is corrupted (checksum mismatch) — {REBUILD_HINT}"
            )
        return record.document(doc_id, text)

    def _keep(self, document: Document) -> None:
        with self._lock:
            self._cache[document.doc_id] = document
            self._cache.move_to_end(document.doc_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self.records:
            raise KeyError(doc_id)
        with self._lock:
            cached = self._cache.get(doc_id)
            if cached is not None:
                self._cache.move_to_end(doc_id)
                return cached
        document = self._checked(doc_id, self.store.read_blob("text", self.records[doc_id].text_sha256))
        self._keep(document)
        return document

    def __iter__(self) -> Iterator[str]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


class MilvusVersion:
    """One committed version: its manifest and term counts in memory, chunks and texts read from Milvus as needed."""

    def __init__(self, store: Store, record: VersionRecord, manifest: Manifest, gens: dict[str, int], counts: TermCounts) -> None:
        self.store = store
        self.record = record
        self._manifest = manifest
        self.gens = gens  # doc_id -> the doc_gen of its rows in this version
        self.counts = counts
        self._documents = MilvusDocuments(store, manifest.documents)
        self._doc_of_gen = {gen: doc_id for doc_id, gen in gens.items()}
        order = list(manifest.documents)
        starts = list(accumulate((manifest.documents[d].chunks for d in order), initial=0))
        self._order, self._starts = order, starts
        self._start_of = dict(zip(order, starts, strict=False))
        self._chunks: dict[int, Chunk] = {}
        self._chunk_cache = 20_000  # chunks kept in memory (about 150 bytes each)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def documents(self) -> Mapping[str, Document]:
        return self._documents

    @property
    def stats(self) -> TermCounts:
        return self.counts

    @property
    def _visible(self) -> str:
        number = self.record.number
        return f"born <= {number} and died > {number}"

    def _remember(self, row: dict[str, Any]) -> tuple[int, Chunk]:
        doc_id = self._doc_of_gen[int(row["doc_gen"])]
        chunk_id = self._start_of[doc_id] + int(row["seq"])
        chunk = Chunk(
            chunk_id=chunk_id,
            doc_id=doc_id,
            start=int(row["start"]),
            end=int(row["end"]),
            sentences=tuple((int(a), int(b)) for a, b in json.loads(str(row["sentences"]))),
        )
        if len(self._chunks) >= self._chunk_cache:
            self._chunks.clear()
        self._chunks[chunk_id] = chunk
        return chunk_id, chunk

    def chunk(self, chunk_id: int) -> Chunk:
        if chunk_id in self._chunks:
            return self._chunks[chunk_id]
        if not 0 <= chunk_id < self._starts[-1]:
            raise IndexError(chunk_id)
        place = bisect.bisect_right(self._starts, chunk_id) - 1
        doc_id = self._order[place]
        key = _chunk_key(self.gens[doc_id], chunk_id - self._starts[place])
        rows = self.store.query(self.store.chunks(self.record.layout), f"pk in {[key]}", _CHUNK_FIELDS, limit=1)
        if not rows:
            raise CorruptIndexError(f"chunk {chunk_id} of {doc_id} is missing from {self.store.where} — {REBUILD_HINT}")
        return self._remember(rows[0])[1]

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        start = self._start_of[doc_id]
        return [self.chunk(i) for i in range(start, start + self._manifest.documents[doc_id].chunks)]

    def missing_texts(self) -> set[str]:
        present = self.store.blob_keys("text")
        return {doc_id for doc_id, record in self._manifest.documents.items() if record.text_sha256 not in present}

    def sentence_vectors(self, doc_id: str) -> Iterator[tuple[Span, np.ndarray]]:
        rows = self.store.query(
            self.store.sentences(self.record.layout), f"doc_gen == {self.gens[doc_id]}", ["row", "start", "end", "vector"]
        )
        for row in sorted(rows, key=lambda r: int(r["row"])):
            yield (int(row["start"]), int(row["end"])), np.asarray(row["vector"], dtype=np.float32)

    def search(
        self, request: SearchRequest, k: int, mode: Mode, settings: SearchSettings, doc_ids: Collection[str] | None = None
    ) -> list[Hit]:
        """Engine candidates (BM25 and HNSW), scored exactly as the local backend scores them, then fused."""
        candidates = max(settings.candidates, k)
        if doc_ids is None:
            scope = self._visible
        else:
            gens = sorted({self.gens[d] for d in doc_ids if d in self.gens})
            if not gens:
                return []
            scope = f"doc_gen in {gens}"
        collection = self.store.chunks(self.record.layout)
        words = [*request.terms, *request.context_terms]
        lexical_pks: list[int] = []
        if mode != "dense" and any(self.counts.knows(t) for t in words):
            known = [t for t in words if self.counts.knows(t)]
            found = self.store.search(collection, [engine_text(known)], "bm25", LEXICAL_OVERFETCH * candidates, scope)
            lexical_pks = [_pk(hit) for hit in found]
        dense_pks: list[int] = []
        if mode != "bm25":
            vector = np.asarray(request.vector, dtype=np.float32).reshape(-1)
            params = {"params": {"ef": max(HNSW_EF, candidates)}}
            dense_pks = [_pk(hit) for hit in self.store.search(collection, [vector.tolist()], "mean", candidates, scope, params)]
        pool = list(dict.fromkeys([*lexical_pks, *dense_pks]))
        if not pool:
            return []
        rows = self.store.query(collection, f"pk in {pool}", _CHUNK_FIELDS, limit=len(pool))
        ids: dict[int, int] = {}  # pk -> chunk id
        chunk_terms: dict[int, list[str]] = {}
        sentence_keys: dict[int, int] = {}  # sentence row pk -> chunk id
        for row in rows:
            chunk_id, chunk = self._remember(row)
            ids[int(row["pk"])] = chunk_id
            chunk_terms[chunk_id] = terms_of(str(row["terms"]))
            gen, first = int(row["doc_gen"]), int(row["first_row"])
            sentence_keys.update((_sentence_key(gen, first + j), chunk_id) for j in range(len(chunk.sentences)))
        order = [ids[pk] for pk in pool if pk in ids]
        params_bm25 = self._manifest.settings.bm25
        texts = [chunk_terms[c] for c in order]
        scores = bm25_scores(request.terms, texts, self.counts, params_bm25)
        if request.context_terms:
            scores = scores + request.context_weight * bm25_scores(request.context_terms, texts, self.counts, params_bm25)
        lexical = dict(zip(order, map(float, scores), strict=True))
        sentence_scores = self._sentence_scores(request.vector, sentence_keys)
        dense = {c: max(s) if s else 0.0 for c, s in sentence_scores.items()}
        lexical_ids = sorted((ids[pk] for pk in lexical_pks if pk in ids), key=lambda c: (-lexical[c], c))[:candidates]
        dense_ids = [ids[pk] for pk in dense_pks if pk in ids]
        if mode == "bm25":
            ranked = sorted(((c, lexical[c]) for c in lexical_ids), key=lambda item: (-item[1], item[0]))
        elif mode == "dense":
            ranked = sorted(((c, dense[c]) for c in dense_ids), key=lambda item: (-item[1], item[0]))
        else:
            union = sorted(set(lexical_ids) | set(dense_ids))
            if settings.fusion == "rrf":
                ranked = reciprocal_rank_fusion([lexical_ids, dense_ids], settings.rrf_k)
            else:
                ranked = weighted_fusion({c: lexical[c] for c in union}, {c: dense[c] for c in union}, settings.dense_weight)
        hits = [
            Hit(chunk_id, score, lexical[chunk_id], dense[chunk_id], tuple(sentence_scores[chunk_id]))
            for chunk_id, score in ranked[:k]
        ]
        self._documents.prefetch([self._chunks[h.chunk_id].doc_id for h in hits if h.chunk_id in self._chunks])
        return hits

    def _sentence_scores(self, query: np.ndarray, keys: dict[int, int]) -> dict[int, list[float]]:
        """The question's similarity to each sentence of some chunks, in order, by chunk id; `keys` maps the
        sentence rows' keys to their chunks' ids (rows read by key: a filter on another field is a scan in milvus-lite)."""
        rows = self.store.query(
            self.store.sentences(self.record.layout), f"pk in {list(keys)}", ["pk", "row", "vector"], limit=max(len(keys), 1)
        )
        rows.sort(key=lambda r: int(r["row"]))
        scores: dict[int, list[float]] = {chunk_id: [] for chunk_id in keys.values()}
        if rows:
            vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
            similarities = vectors @ np.asarray(query, dtype=np.float32).reshape(-1)
            for row, similarity in zip(rows, similarities, strict=True):
                scores[keys[int(row["pk"])]].append(float(similarity))
        return scores


def _pk(hit: dict[str, Any]) -> int:
    """A search hit's primary key (pymilvus gives it under the field's name, and as "id")."""
    key = hit.get("pk", hit.get("id"))
    if key is None:
        raise ValueError(f"a search hit without its key: {hit!r}")
    return int(key)


class MilvusBackend:
    """The index on a Milvus server (settings from ASSISTANT_MILVUS_*); `index_dir` is only where models are cached."""

    name = "milvus"

    def __init__(self, index_dir: Path, settings: MilvusSettings | None = None) -> None:
        self.index_dir = index_dir
        self.settings = settings or MilvusSettings.from_env()
        self.store = Store(self.settings)

    @property
    def location(self) -> str:
        return f"{self.settings.uri} ({self.settings.prefix}_*)"

    def _current(self) -> VersionRecord:
        records = self.store.versions()
        if not records:
            raise NoIndexError(f"no index in Milvus at {self.location} — run: assistant index")
        return records[0]

    def version_name(self) -> str:
        records = self.store.versions()
        return records[0].name if records else ""

    def _manifest(self, record: VersionRecord) -> tuple[Manifest, dict[str, int]]:
        text = self.store.read_blob("manifest", record.name, record.manifest_parts)
        if text is None:
            raise CorruptIndexError(f"the manifest of {record.name} is missing from {self.store.where} — {REBUILD_HINT}")
        try:
            data = json.loads(text)
        except ValueError as error:
            raise CorruptIndexError(f"the manifest of {record.name} is unreadable ({error}) — {REBUILD_HINT}") from None
        if data.get("format") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index at {self.location} has format version {data.get('format')}, this assistant reads {FORMAT_VERSION} — "
                f"{REBUILD_HINT}"
            )
        try:
            return Manifest.from_dict(data["manifest"]), {d: int(g) for d, g in data["gens"].items()}
        except (KeyError, TypeError, ValueError) as error:
            raise CorruptIndexError(f"the manifest of {record.name} is incomplete ({error}) — {REBUILD_HINT}") from None

    def read_manifest(self) -> Manifest:
        return self._manifest(self._current())[0]

    def open(self) -> MilvusVersion:
        record = self._current()
        manifest, gens = self._manifest(record)
        text = self.store.read_blob("stats", record.name, record.stats_parts)
        if text is None:
            raise CorruptIndexError(f"the term counts of {record.name} are missing from {self.store.where} — {REBUILD_HINT}")
        return MilvusVersion(self.store, record, manifest, gens, TermCounts.from_dict(json.loads(text)))

    @contextmanager
    def writing(self, wait: float) -> Iterator[None]:
        with WriterLock(self.store).hold(wait):
            self._collect_garbage()  # what a killed writer left
            yield

    def commit(self, update: IndexUpdate, previous: IndexVersion | None) -> str:
        """Write the new and changed documents' rows, mark the dropped ones' as dead, and switch by writing the
        commit record; a full rebuild (no previous version) writes into a new layout."""
        store = self.store
        store.ensure_blobs()
        records = store.versions()
        current = records[0] if records else None
        manifest = dataclasses.replace(update.manifest, format_version=FORMAT_VERSION)
        base = previous if isinstance(previous, MilvusVersion) and current is not None and previous.name == current.name else None
        number = (current.number if current else 0) + 1
        if base is not None and base.record.dimension == manifest.dimension:
            layout, counts = base.record.layout, base.counts.copy()
        else:
            base, layout, counts = None, uuid.uuid4().hex[:8], TermCounts()
            store.create_layout(layout, manifest.dimension, manifest.settings.bm25)
        gens: dict[str, int] = {}
        for doc_id in manifest.documents:
            if doc_id not in update.fresh:
                if base is None or doc_id not in base.gens:
                    raise ValueError(f"{doc_id} is kept, but there is no previous version to keep it from")
                gens[doc_id] = base.gens[doc_id]
        for batch in update.fresh.batches():
            for fresh in batch:
                doc_id = fresh.document.doc_id
                entry = update.manifest.documents[doc_id]  # final now that its batch is here
                if entry.chunks != len(fresh.chunks):
                    raise ValueError(f"{doc_id}: the manifest says {entry.chunks} chunks, the update holds {len(fresh.chunks)}")
                gens[doc_id] = key64(doc_id, number, layout)
                self._store_document(layout, number, gens[doc_id], fresh)
                counts.add(fresh.terms)
        manifest = dataclasses.replace(update.manifest, format_version=FORMAT_VERSION)
        gens = {doc_id: gens[doc_id] for doc_id in manifest.documents}  # in manifest order, as chunk ids run
        if base is not None:
            dropped = sorted({gen for doc_id, gen in base.gens.items() if gens.get(doc_id) != gen})
            self._drop_rows(layout, number, dropped, counts)
        store.flush(store.sentences(layout))
        store.flush(store.chunks(layout))
        name = VersionRecord(number, layout, manifest.dimension, 0, 0).name
        stats_parts = store.write_blob("stats", name, json.dumps(counts.to_dict(), ensure_ascii=False))
        blob = {"format": FORMAT_VERSION, "manifest": manifest.to_dict(), "gens": gens}
        manifest_parts = store.write_blob("manifest", name, json.dumps(blob, ensure_ascii=False))
        record = VersionRecord(number, layout, manifest.dimension, manifest_parts, stats_parts)
        store.flush(store.blobs)
        store.write_blob("version", name, record.to_json())  # the switch: readers see the new version from here on
        self._collect_garbage()
        return record.name

    def _store_document(self, layout: str, number: int, gen: int, fresh: PreparedDocument) -> None:
        """A new or changed document's text, chunk rows and sentence rows."""
        self.store.write_blob("text", fresh.document.text_sha256, fresh.document.text)
        chunk_rows, sentence_rows = [], []
        row = 0
        # Rounded to float16 as the local backend stores them, so that either backend ranks with the same vectors.
        vectors = np.asarray(fresh.vectors, dtype=np.float16).astype(np.float32)
        for seq, (chunk, terms) in enumerate(zip(fresh.chunks, fresh.terms, strict=True)):
            own = vectors[row : row + len(chunk.sentences)]
            if len(own) != len(chunk.sentences) or not len(own):
                raise ValueError(f"{fresh.document.doc_id}: every chunk needs one vector per sentence, in order")
            mean = own.sum(axis=0)
            mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
            text = engine_text(terms)
            sentences = json.dumps([list(s) for s in chunk.sentences])
            if max(len(text.encode("utf-8")), len(sentences)) > TEXT_FIELD_BYTES:
                raise ValueError(
                    f"a chunk of {fresh.document.doc_id} is too long for a Milvus text field (64 KB); "
                    "index with fewer --chunk-words"
                )
            key = _chunk_key(gen, seq)
            chunk_rows.append(
                {
                    "pk": key,
                    "doc_gen": gen,
                    "born": number,
                    "died": ALIVE,
                    "seq": seq,
                    "first_row": row,
                    "start": chunk.start,
                    "end": chunk.end,
                    "sentences": sentences,
                    "terms": text,
                    "mean": mean.tolist(),
                }
            )
            for (start, end), vector in zip(chunk.sentences, own, strict=True):
                sentence_rows.append(
                    {
                        "pk": _sentence_key(gen, row),
                        "doc_gen": gen,
                        "chunk": key,
                        "born": number,
                        "row": row,
                        "start": start,
                        "end": end,
                        "vector": vector.tolist(),
                    }
                )
                row += 1
        self.store.insert(self.store.sentences(layout), sentence_rows)
        self.store.insert(self.store.chunks(layout), chunk_rows)

    def _drop_rows(self, layout: str, number: int, gens: list[int], counts: TermCounts) -> None:
        """Mark the rows of dropped (removed or changed) documents as dead from version `number` on."""
        collection = self.store.chunks(layout)
        for start in range(0, len(gens), 500):
            batch = gens[start : start + 500]
            rows = self.store.query(collection, f"doc_gen in {batch} and died == {ALIVE}", _ROW_FIELDS)
            counts.add((terms_of(str(row["terms"])) for row in rows), sign=-1)
            self.store.upsert(collection, [{**_plain(row), "died": number} for row in rows])

    def _collect_garbage(self) -> None:
        """Keep the newest two versions (the one in use, and the one before for readers that opened it) and remove
        everything else: older versions, what a killed writer left, layouts and texts no kept version uses."""
        store = self.store
        if not (store.has(store.small) and store.has(store.blobs)):
            return
        records = store.versions()
        keep, old = records[:2], [r.name for r in records[2:]]
        store.delete_blobs("version", old)  # commit records first: an old version stops existing before its parts go
        names = {r.name for r in keep}
        for kind in ("manifest", "stats"):
            store.delete_blobs(kind, sorted(store.blob_keys(kind) - names))
        layouts = {r.layout for r in keep}
        pattern = re.compile(re.escape(store.settings.prefix) + r"_([0-9a-f]{8})_(chunks|sentences)")
        for collection in store.collections():
            match = pattern.fullmatch(collection)
            if match and match.group(1) not in layouts:
                store.drop(collection)
        if keep:
            newest, oldest = keep[0].number, keep[-1].number
            for layout in layouts:
                self._collect_rows(layout, newest, oldest)
        used: set[str] = set()
        for record in keep:
            used |= {r.text_sha256 for r in self._manifest(record)[0].documents.values()}
        store.delete_blobs("text", sorted(store.blob_keys("text") - used))

    def _collect_rows(self, layout: str, newest: int, oldest: int) -> None:
        store = self.store
        chunks, sentences = store.chunks(layout), store.sentences(layout)
        if not (store.has(chunks) and store.has(sentences)):
            return
        dead = f"died <= {oldest} or born > {newest}"  # seen by no kept version, or written by a writer that never committed
        gens = sorted({int(row["doc_gen"]) for row in store.query(chunks, dead, ["doc_gen"])})
        for start in range(0, len(gens), 500):
            store.delete(sentences, f"doc_gen in {gens[start : start + 500]}")
        store.delete(sentences, f"born > {newest}")
        store.delete(chunks, dead)
        revived = store.query(chunks, f"died > {newest} and died < {ALIVE}", _ROW_FIELDS)  # dropped by a writer that died
        store.upsert(chunks, [{**_plain(row), "died": ALIVE} for row in revived])


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row as read back, ready to be written again (only the fields that are written)."""
    values = {name: row[name] for name in _ROW_FIELDS}
    values["mean"] = [float(x) for x in values["mean"]]
    return values
