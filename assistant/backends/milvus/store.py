"""The collections the `milvus` backend keeps on a Milvus server, and the one client that talks to them.

    <prefix>_versions               small rows read before every question:
                                      version/<name>    a version's commit record, written last: the switch
                                      writer/<token>    who holds the writer lock (lock.py)
    <prefix>_blobs                  JSON and texts split into rows under the VARCHAR limit (64 KB), read by key:
                                      manifest/<name>   a version's manifest, and which rows hold each document
                                      stats/<name>      its term counts (lexical.TermCounts)
                                      text/<sha256>     an extracted text, shared by versions
    <prefix>_<layout>_chunks        one row per chunk: offsets, the BM25 terms (and the engine's sparse
                                    BM25 vector made from them), the mean of its sentence vectors
    <prefix>_<layout>_sentences     one row per sentence of a chunk, with its vector

A layout is a pair of collections of one vector dimension; a full rebuild
starts a new one, an update writes into the one in use. Every chunk row
says in which version it was born and died: version v sees the rows with
`born <= v < died`, so a version opened before an update keeps answering as
it did, and a new version becomes visible all at once when its commit
record is written. Every read is `Strong`: it sees every write that came
before it, ours or another process's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from assistant.errors import AssistantError, CorruptIndexError
from assistant.settings import BM25Params, MilvusSettings

log = logging.getLogger(__name__)

CONSISTENCY = "Strong"  # reads after our own writes (and other processes') must see them
TIMEOUT = 30.0  # seconds a call may take, retries included, before the server counts as unreachable
ALIVE = 2**62  # `died` of a row no version has dropped
BLOB_BYTES = 60_000  # one blob row's data, in UTF-8 bytes: under VARCHAR's 65,535
TEXT_FIELD_BYTES = 65_535
BATCH_ROWS = 500  # rows per insert: well under the server's 64 MB message limit with 384-dimension vectors
QUERY_BATCH = 1_000
HNSW = {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 16, "efConstruction": 200}}
# Beam width per question, at least `candidates`. Share of the exact dense top 10 kept at 10k / 100k chunks: ef 128
# 98.9 % / —, 256 99.6 / 93.6 %, 512 100 / 98.5 %, 1024 100 / 99.4 %, 2048 — / 99.5 %; search time did not change
# measurably against milvus-lite (benchmarks/milvus.py; README, "Scaling out").
HNSW_EF = 1024
_VERSION_NAME = re.compile(r"v(\d{8})-([0-9a-f]{8})")

SMALL_KINDS = ("version", "writer")

T = TypeVar("T")


class MilvusUnavailableError(AssistantError):
    """The Milvus server refused a request."""


class MilvusUnreachableError(MilvusUnavailableError):
    """The Milvus server cannot be reached: down, or not where the URI says."""


def quiet_client_logs() -> None:
    """pymilvus logs every failed call, with a traceback, on a handler of its own (set up when it is imported);
    our errors reach the user as one line instead, so keep its loggers to critical messages."""
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def key64(*parts: object) -> int:
    """A signed 64-bit key from `parts`: the primary keys of rows, which Milvus wants as INT64."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def split_utf8(text: str, limit: int = BLOB_BYTES) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, cut between characters (at least one piece)."""
    data = text.encode("utf-8")
    pieces, start = [], 0
    while start < len(data):
        stop = min(start + limit, len(data))
        while stop < len(data) and data[stop] & 0xC0 == 0x80:  # not inside a character
            stop -= 1
        pieces.append(data[start:stop].decode("utf-8"))
        start = stop
    return pieces or [""]


@dataclass(frozen=True)
class VersionRecord:
    """A committed version: its number, its layout, and how many rows its manifest and term counts take."""

    number: int
    layout: str
    dimension: int
    manifest_parts: int
    stats_parts: int

    @property
    def name(self) -> str:
        return f"v{self.number:08d}-{self.layout}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "number": self.number,
                "layout": self.layout,
                "dimension": self.dimension,
                "manifest_parts": self.manifest_parts,
                "stats_parts": self.stats_parts,
            }
        )

    @classmethod
    def from_json(cls, data: str) -> VersionRecord:
        values = json.loads(data)
        return cls(
            int(values["number"]),
            str(values["layout"]),
            int(values["dimension"]),
            int(values["manifest_parts"]),
            int(values["stats_parts"]),
        )


def layout_of(name: str) -> str:
    match = _VERSION_NAME.fullmatch(name)
    return match.group(2) if match else ""


class Store:
    """One Milvus connection (made on first use) and the backend's collections on it.

    Every call goes through `_call`, which turns the client's failures into one-line errors naming the server.
    """

    def __init__(self, settings: MilvusSettings) -> None:
        self.settings = settings
        self._client: MilvusClient | None = None
        self._loaded: set[str] = set()

    # ---- connection and errors

    @property
    def where(self) -> str:
        return f"Milvus at {self.settings.uri}"

    @property
    def client(self) -> MilvusClient:
        if self._client is None:
            quiet_client_logs()
            self._client = self._call(
                "connect",
                lambda: MilvusClient(
                    uri=self.settings.uri, token=self.settings.token, db_name=self.settings.database, timeout=TIMEOUT
                ),
            )
        return self._client

    def _call(self, action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except MilvusException as error:
            raise self._error(action, error) from None
        except Exception as error:  # grpc and socket errors the client does not wrap
            if type(error).__module__.startswith(("grpc", "pymilvus")) or isinstance(error, OSError):
                raise self._error(action, error) from None
            raise

    def _error(self, action: str, error: Exception) -> MilvusUnavailableError:
        reason = " ".join(str(getattr(error, "message", "") or error or type(error).__name__).split())
        if "Fail connecting" in reason or "UNAVAILABLE" in reason or "unavailable" in reason or "Retry timeout" in reason:
            return MilvusUnreachableError(
                f"cannot reach {self.where} ({action}): the server is down or unreachable — start it "
                f"(make milvus) or point ASSISTANT_MILVUS_URI at a running one"
            )
        return MilvusUnavailableError(f"{self.where} refused to {action}: {reason[:300]}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---- collections

    def name(self, *parts: str) -> str:
        return "_".join((self.settings.prefix, *parts))

    @property
    def blobs(self) -> str:
        return self.name("blobs")

    @property
    def small(self) -> str:
        """Commit records and the writer lock's rows: read before every question, so kept apart from the texts
        (a filtered read scans its collection in milvus-lite)."""
        return self.name("versions")

    def _home(self, kind: str) -> str:
        return self.small if kind in SMALL_KINDS else self.blobs

    def chunks(self, layout: str) -> str:
        return self.name(layout, "chunks")

    def sentences(self, layout: str) -> str:
        return self.name(layout, "sentences")

    def collections(self) -> list[str]:
        """Every collection of this prefix."""
        start = f"{self.settings.prefix}_"
        names: list[str] = self._call("list collections", lambda: self.client.list_collections())
        return [n for n in names if n.startswith(start)]

    def has(self, collection: str) -> bool:
        return bool(self._call("look for a collection", lambda: self.client.has_collection(collection, timeout=TIMEOUT)))

    def drop(self, collection: str) -> None:
        self._call("drop a collection", lambda: self.client.drop_collection(collection, timeout=TIMEOUT))
        self._loaded.discard(collection)

    def _create(self, collection: str, schema: Any, index: Any) -> None:
        """Create, index and load a collection. The indexes are not waited for (`sync=False`): on an empty
        collection there is nothing to build, and pymilvus would poll each one every half second."""
        client = self.client
        self._call(
            "create a collection",
            lambda: client.create_collection(collection, schema=schema, consistency_level=CONSISTENCY, timeout=TIMEOUT),
        )
        self._call("index a collection", lambda: client.create_index(collection, index, timeout=TIMEOUT, sync=False))
        self._call("load a collection", lambda: client.load_collection(collection, timeout=TIMEOUT))
        self._loaded.add(collection)

    def ensure_blobs(self) -> None:
        for collection in (self.blobs, self.small):
            if not self.has(collection):
                self._create_blobs(collection)

    def _create_blobs(self, collection: str) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("kind", DataType.VARCHAR, max_length=16)
        schema.add_field("key", DataType.VARCHAR, max_length=256)
        schema.add_field("part", DataType.INT64)
        schema.add_field("parts", DataType.INT64)  # how many rows the blob takes
        schema.add_field("data", DataType.VARCHAR, max_length=TEXT_FIELD_BYTES)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        index = MilvusClient.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
        self._create(collection, schema, index)

    def create_layout(self, layout: str, dimension: int, bm25: BM25Params) -> None:
        """The chunk and sentence collections of a new layout."""
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("doc_gen", DataType.INT64)  # the document's rows of one version (key64 of its id and that version)
        schema.add_field("born", DataType.INT64)
        schema.add_field("died", DataType.INT64)
        schema.add_field("seq", DataType.INT64)  # the chunk's place in its document
        schema.add_field("first_row", DataType.INT64)  # its first sentence row (sentence rows are keyed by document and row)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("sentences", DataType.VARCHAR, max_length=TEXT_FIELD_BYTES)  # JSON [[start, end], ...]
        schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_FIELD_BYTES, enable_analyzer=True)
        schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("mean", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_function(
            Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["bm25"])
        )
        index = MilvusClient.prepare_index_params()
        index.add_index("mean", **HNSW)
        index.add_index(
            "bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": bm25.k1, "bm25_b": bm25.b}
        )
        index.add_index("doc_gen", index_type="INVERTED")
        self._create(self.chunks(layout), schema, index)

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("doc_gen", DataType.INT64)
        schema.add_field("chunk", DataType.INT64)  # the chunk row's pk
        schema.add_field("born", DataType.INT64)
        schema.add_field("row", DataType.INT64)  # the sentence's place among its document's sentence rows
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index = MilvusClient.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")  # read by key, never searched
        index.add_index("doc_gen", index_type="INVERTED")
        index.add_index("chunk", index_type="INVERTED")
        self._create(self.sentences(layout), schema, index)

    def _loaded_collection(self, collection: str) -> str:
        """Load a collection once per process (a server restarted may have released it)."""
        if collection not in self._loaded:
            self._call("load a collection", lambda: self.client.load_collection(collection, timeout=TIMEOUT))
            self._loaded.add(collection)
        return collection

    # ---- rows

    def insert(self, collection: str, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = list(rows[start : start + BATCH_ROWS])
            self._call("store rows", lambda batch=batch: self.client.insert(collection, batch, timeout=TIMEOUT))  # type: ignore[misc]

    def upsert(self, collection: str, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = list(rows[start : start + BATCH_ROWS])
            self._call("store rows", lambda batch=batch: self.client.upsert(collection, batch, timeout=TIMEOUT))  # type: ignore[misc]

    def flush(self, collection: str) -> None:
        """Seal what was written into segments: after an update, so searches use built indexes, not a memory table."""
        self._call("flush rows", lambda: self.client.flush(collection, timeout=TIMEOUT))

    def delete(self, collection: str, expression: str) -> None:
        self._call("delete rows", lambda: self.client.delete(collection, filter=expression, timeout=TIMEOUT))

    def query(self, collection: str, expression: str, fields: list[str], limit: int | None = None) -> list[dict[str, Any]]:
        """The rows matching `expression`; all of them (read in batches) unless `limit` says how many at most."""
        name = self._loaded_collection(collection)
        if limit is not None:
            return list(
                self._call(
                    "read rows",
                    lambda: self.client.query(
                        name,
                        filter=expression,
                        output_fields=fields,
                        limit=limit,
                        consistency_level=CONSISTENCY,
                        timeout=TIMEOUT,
                    ),
                )
            )
        return list(self._iterate(name, expression, fields))

    def _iterate(self, collection: str, expression: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        iterator = self._call(
            "read rows",
            lambda: self.client.query_iterator(
                collection,
                batch_size=QUERY_BATCH,
                filter=expression,
                output_fields=fields,
                consistency_level=CONSISTENCY,
                timeout=TIMEOUT,
            ),
        )
        try:
            while batch := self._call("read rows", iterator.next):
                yield from batch
        finally:
            iterator.close()

    def search(
        self, collection: str, data: list[Any], field: str, limit: int, expression: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        name = self._loaded_collection(collection)
        results = self._call(
            "search",
            lambda: self.client.search(
                name,
                data=data,
                anns_field=field,
                limit=limit,
                filter=expression,
                search_params=params or {},
                output_fields=["pk"],
                consistency_level=CONSISTENCY,
                timeout=TIMEOUT,
            ),
        )
        return list(results[0]) if results else []

    # ---- blobs

    @staticmethod
    def _blob_key(kind: str, key: str, part: int) -> str:
        return f"{kind}/{key}/{part}"

    def write_blob(self, kind: str, key: str, text: str) -> int:
        """Store `text` under (kind, key) in rows under the VARCHAR limit; returns how many."""
        pieces = split_utf8(text)
        rows = [
            {
                "pk": self._blob_key(kind, key, part),
                "kind": kind,
                "key": key,
                "part": part,
                "parts": len(pieces),
                "data": piece,
                "unused": [0.0, 0.0],
            }
            for part, piece in enumerate(pieces)
        ]
        self.upsert(self._home(kind), rows)
        return len(rows)

    def read_blob(self, kind: str, key: str, parts: int | None = None) -> str | None:
        """The text stored under (kind, key); None if its first row is not there. Rows are read by primary key
        (a filter on other fields is a scan in milvus-lite): the first row says how many there are."""
        if parts is None:
            first = self.query(
                self._home(kind), f"pk in {json.dumps([self._blob_key(kind, key, 0)])}", ["part", "parts", "data"], limit=1
            )
            if not first:
                return None
            parts = int(first[0]["parts"])
            rest = list(range(1, parts))
        else:
            first, rest = [], list(range(parts))
        keys = [self._blob_key(kind, key, part) for part in rest]
        rows = first + (
            self.query(self._home(kind), f"pk in {json.dumps(keys)}", ["part", "data"], limit=len(keys)) if keys else []
        )
        if not rows:
            return None
        ordered = sorted(rows, key=lambda row: int(row["part"]))
        if [int(row["part"]) for row in ordered] != list(range(parts)):
            raise CorruptIndexError(
                f"{kind} {key} in {self.where} ({self._home(kind)}) is missing rows — run: assistant index --full"
            )
        return "".join(str(row["data"]) for row in ordered)

    def read_blobs(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        """Several blobs at once (those that are there), in one read of their first rows and one of the rest."""
        if not keys:
            return {}
        firsts = self.query(
            self._home(kind),
            f"pk in {json.dumps([self._blob_key(kind, k, 0) for k in keys])}",
            ["key", "parts", "data"],
            limit=len(keys),
        )
        found = {str(row["key"]): [str(row["data"])] for row in firsts}
        rest = [self._blob_key(kind, str(row["key"]), part) for row in firsts for part in range(1, int(row["parts"]))]
        if rest:
            for row in sorted(
                self.query(self._home(kind), f"pk in {json.dumps(rest)}", ["key", "part", "data"], limit=len(rest)),
                key=lambda row: int(row["part"]),
            ):
                found[str(row["key"])].append(str(row["data"]))
        expected = {str(row["key"]): int(row["parts"]) for row in firsts}
        return {key: "".join(pieces) for key, pieces in found.items() if len(pieces) == expected[key]}

    def blob_keys(self, kind: str) -> set[str]:
        """The keys stored under `kind` (the first row of each)."""
        rows = self.query(self._home(kind), f"kind == {json.dumps(kind)} and part == 0", ["key"])
        return {str(row["key"]) for row in rows}

    def delete_blobs(self, kind: str, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), QUERY_BATCH):
            batch = list(keys[start : start + QUERY_BATCH])
            self.delete(self._home(kind), f"kind == {json.dumps(kind)} and key in {json.dumps(batch)}")

    def versions(self) -> list[VersionRecord]:
        """Every committed version, newest first (an empty list if the blobs collection is not there)."""
        if not self.has(self.small):
            return []
        rows = self.query(self.small, 'kind == "version"', ["key", "data"])
        records = []
        for row in rows:
            try:
                records.append(VersionRecord.from_json(str(row["data"])))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring an unreadable commit record %s in %s", row.get("key"), self.where)
        return sorted(records, key=lambda r: r.number, reverse=True)
