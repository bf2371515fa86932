"""The records that flow through the pipeline and reach users.

Each user-facing record's `to_dict()` is exactly the JSON that the CLI prints
and the web API returns, so the two can never disagree.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Collection, ItemsView, Iterator, Mapping, MutableMapping, ValuesView
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.dates import published_date
from assistant.segment import Span
from assistant.textnorm import fold

if TYPE_CHECKING:
    from assistant.settings import IndexSettings


PAGED_FORMATS = frozenset({"pdf"})  # formats whose documents keep page boundaries, so a quote can say its page


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time: checks index files and model caches."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def text_hash(text: str) -> str:
    """The SHA-256 of a text as UTF-8: names the extracted text an index keeps, whatever the source's format."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """An article as a reader extracted it: `text` is what quotes point into, kept by the index.

    `sha256` identifies the source file (its bytes); `text_sha256` the
    extracted text. They are equal for a UTF-8 text file, not for a PDF.
    """

    doc_id: str
    path: str
    title: str
    text: str
    sha256: str
    body_start: int = 0  # where the text after any front matter begins
    text_sha256: str = ""  # computed from `text` when not given
    format: str = ""
    metadata: dict[str, str] = field(default_factory=dict)  # date, language, source… as the reader found them
    pages: tuple[int, ...] = ()  # where each page after the first starts in `text` (empty: no pages)
    published: str | None = None  # YYYY-MM-DD, or None when the document does not say (see assistant.dates)

    def __post_init__(self) -> None:
        if not self.text_sha256:
            object.__setattr__(self, "text_sha256", text_hash(self.text))

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding the character at `offset`, for formats that have pages (PDF); else None."""
        if self.format not in PAGED_FORMATS:
            return None
        return bisect_right(self.pages, offset) + 1


@dataclass(frozen=True)
class DocumentRecord:
    """What an index keeps of a document besides its text: the manifest's entry for it."""

    path: str
    title: str
    sha256: str  # of the source file's bytes
    text_sha256: str  # of the extracted text, which the index stores
    body_start: int = 0
    size: int = 0  # the source file's size and modification time, to skip reading unchanged files
    mtime_ns: int = 0
    chunks: int = 0
    format: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    pages: tuple[int, ...] = ()
    published: str | None = None

    @classmethod
    def of(cls, document: Document, size: int = 0, mtime_ns: int = 0, chunks: int = 0) -> DocumentRecord:
        return cls(
            path=document.path,
            title=document.title,
            sha256=document.sha256,
            text_sha256=document.text_sha256,
            body_start=document.body_start,
            size=size,
            mtime_ns=mtime_ns,
            chunks=chunks,
            format=document.format,
            metadata=dict(document.metadata),
            pages=document.pages,
            published=document.published,
        )

    def document(self, doc_id: str, text: str) -> Document:
        """The document this record describes, given its stored text."""
        return Document(
            doc_id=doc_id,
            path=self.path,
            title=self.title,
            text=text,
            sha256=self.sha256,
            body_start=self.body_start,
            text_sha256=self.text_sha256,
            format=self.format,
            metadata=dict(self.metadata),
            pages=self.pages,
            published=self.published,
        )

    def matches(self, where: Mapping[str, str]) -> bool:
        """True if the document's metadata has every field of `where`, compared as the product compares text
        (case and diacritics folded); a date matches by its start, so `date=2023` finds 2023-03-28."""
        for key, wanted in where.items():
            value, wanted = fold(self.metadata.get(key.lower(), "")), fold(wanted).strip()
            if not value or not (value == wanted or (key.lower() == "date" and value.startswith(wanted))):
                return False
        return True

    def published_within(self, since: str | None, until: str | None) -> bool:
        """Whether the document was published between the ISO dates `since` and `until` (both included, either
        open); a document whose date is unknown is in no range but the open one."""
        if since is None and until is None:
            return True
        return self.published is not None and (since or "") <= self.published <= (until or "9999-12-31")

    def describe(self, doc_id: str, text_length: int | None = None) -> dict[str, Any]:
        """What `assistant docs` lists of a document; given its text's length, also where each page's text
        lies in it (`assistant show --json`)."""
        paged = self.format in PAGED_FORMATS
        described: dict[str, Any] = {
            "doc_id": doc_id,
            "path": self.path,
            "title": self.title,
            "format": self.format,
            "published": self.published,
            "source": self.metadata.get("source"),
            "language": self.metadata.get("language"),
            "pages": len(self.pages) + 1 if paged else None,
            "chunks": self.chunks,
            "metadata": dict(self.metadata),
        }
        if text_length is not None:
            bounds = (0, *self.pages, text_length) if paged else ()
            described["text_length"] = text_length
            described["page_ranges"] = [
                {"page": n, "start": start, "end": end} for n, (start, end) in enumerate(pairwise(bounds), start=1)
            ]
        return described

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["pages"] = list(self.pages)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentRecord:
        """Also reads entries written before readers: their text was the file's bytes, so one hash names both."""
        values = {k: v for k, v in data.items() if k in _RECORD_FIELDS}
        values.setdefault("text_sha256", data["sha256"])
        values["pages"] = tuple(values.get("pages", ()))
        if "published" not in data:  # an entry from before dates: its metadata may still give one
            values["published"] = published_date(values.get("metadata", {}), "")
        return cls(**values)


_RECORD_FIELDS = frozenset(f.name for f in fields(DocumentRecord))


class PairedItems(ItemsView[str, "DocumentRecord"]):
    """`items()` of a record mapping with a `pairs()` that walks its storage in order, instead of looking up
    every document by id."""

    def __iter__(self) -> Iterator[tuple[str, DocumentRecord]]:
        return self._mapping.pairs()  # type: ignore[attr-defined, no-any-return]


class PairedValues(ValuesView["DocumentRecord"]):
    def __iter__(self) -> Iterator[DocumentRecord]:
        return (record for _, record in self._mapping.pairs())  # type: ignore[attr-defined]


class RecordOverlay(MutableMapping[str, "DocumentRecord"]):
    """The records of a version as the previous version's, minus `removed`, with `changes` laid over them: the
    next version's records in the time an update takes, however many documents the previous one holds."""

    def __init__(self, base: Mapping[str, DocumentRecord], changes: dict[str, DocumentRecord], removed: Collection[str]) -> None:
        self.base, self.changes, self.removed = base, changes, set(removed) - set(changes)

    def __getitem__(self, doc_id: str) -> DocumentRecord:
        if doc_id in self.changes:
            return self.changes[doc_id]
        if doc_id in self.removed:
            raise KeyError(doc_id)
        return self.base[doc_id]

    def __setitem__(self, doc_id: str, record: DocumentRecord) -> None:
        self.changes[doc_id] = record
        self.removed.discard(doc_id)

    def __delitem__(self, doc_id: str) -> None:
        if doc_id not in self:
            raise KeyError(doc_id)
        self.changes.pop(doc_id, None)
        self.removed.add(doc_id)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.changes or (doc_id not in self.removed and doc_id in self.base)

    def _added(self) -> list[str]:
        return [d for d in self.changes if d not in self.base]

    def __iter__(self) -> Iterator[str]:
        yield from (d for d in self.base if d not in self.removed)
        yield from self._added()

    def __len__(self) -> int:
        return len(self.base) - sum(d in self.base for d in self.removed) + len(self._added())

    def pairs(self) -> Iterator[tuple[str, DocumentRecord]]:
        for doc_id, record in self.base.items():
            if doc_id not in self.removed:
                yield doc_id, self.changes.get(doc_id, record)
        yield from ((d, self.changes[d]) for d in self._added())

    def items(self) -> ItemsView[str, DocumentRecord]:
        return PairedItems(self)

    def values(self) -> ValuesView[DocumentRecord]:
        return PairedValues(self)


@dataclass
class Manifest:
    """What a version of an index holds: model, settings and documents. Backends store it as JSON."""

    model: str
    dimension: int
    settings: IndexSettings
    documents: Mapping[str, DocumentRecord]
    chunk_count: int
    corpus: str
    format_version: int = 0  # set by the backend that stores it
    built_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    files: dict[str, str] = field(default_factory=dict)  # checksums of the version's files, where a backend has files

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "model": self.model,
            "dimension": self.dimension,
            "settings": self.settings.to_dict(),
            "built_at": self.built_at,
            "corpus": self.corpus,
            "chunk_count": self.chunk_count,
            "documents": {doc_id: record.to_dict() for doc_id, record in self.documents.items()},
            "files": self.files,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        from assistant.settings import IndexSettings

        return cls(
            model=data["model"],
            dimension=data["dimension"],
            settings=IndexSettings.from_dict(data["settings"]),
            documents={doc_id: DocumentRecord.from_dict(record) for doc_id, record in data["documents"].items()},
            chunk_count=data["chunk_count"],
            corpus=data["corpus"],
            built_at=data["built_at"],
            format_version=data["format_version"],
            files=data["files"],
        )

    def summary(self) -> dict[str, Any]:
        """What `assistant info` shows."""
        return {
            "documents": len(self.documents),
            "chunks": self.chunk_count,
            "model": self.model,
            "embedder": self.settings.embedder,
            "dimension": self.dimension,
            "built_at": self.built_at,
            "corpus": self.corpus,
        }


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one document, with their offsets."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    sentences: tuple[Span, ...]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score and both component scores."""

    rank: int
    chunk: Chunk
    document: Document
    score: float
    bm25_score: float
    dense_score: float
    sentence_scores: tuple[float, ...] = ()  # the question's similarity to each of the chunk's sentences

    @property
    def text(self) -> str:
        return self.document.text[self.chunk.start : self.chunk.end]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.document.doc_id,
            "path": self.document.path,
            "title": self.document.title,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "text": self.text,
            "score": round(self.score, 6),
            "bm25_score": round(self.bm25_score, 6),
            "dense_score": round(self.dense_score, 6),
            "published": self.document.published,
            "page": self.document.page_at(self.chunk.start),
            "format": self.document.format,
        }


@dataclass(frozen=True)
class Source:
    """One quoted sentence of an answer: `quote == document text[start:end]`."""

    n: int
    doc_id: str
    path: str
    title: str
    quote: str
    start: int
    end: int
    score: float
    published: str | None = None  # the document's date, YYYY-MM-DD
    page: int | None = None  # 1-based, for formats with pages (PDF)
    format: str = ""

    @classmethod
    def of(cls, n: int, document: Document, start: int, end: int, score: float) -> Source:
        """Source [n]: `document`'s text at [start, end), with the document's date, page and format."""
        return cls(
            n=n,
            doc_id=document.doc_id,
            path=document.path,
            title=document.title,
            quote=document.text[start:end],
            start=start,
            end=end,
            score=score,
            published=document.published,
            page=document.page_at(start),
            format=document.format,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "doc_id": self.doc_id,
            "path": self.path,
            "title": self.title,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 6),
            "published": self.published,
            "page": self.page,
            "format": self.format,
        }


@dataclass(frozen=True)
class ShortAnswer:
    """The shortest span that answers the question (a name, a date, a number…), inside a quoted sentence:
    `text == document text[start:end]`, like a quote."""

    text: str
    doc_id: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "doc_id": self.doc_id, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    sources: list[Source] = field(default_factory=list)
    short_answer: ShortAnswer | None = None  # None when the question wants more than a span, or when unsure
    answerer: str = "extractive"  # which answerer's text this is: "extractive", or "llm" for a verified model reply
    notice: str | None = None  # set when a model's reply was rejected in whole or in part, or the model failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "short_answer": self.short_answer.to_dict() if self.short_answer else None,
            "abstained": self.abstained,
            "sources": [s.to_dict() for s in self.sources],
            "answerer": self.answerer,
            "notice": self.notice,
        }

    def to_json(self) -> str:
        """The one-line JSON that `assistant ask --json` prints and the web `/ask` endpoint returns."""
        return json.dumps(self.to_dict(), ensure_ascii=False)
