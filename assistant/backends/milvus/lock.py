"""One writer at a time for an index kept on a Milvus server, from any number of machines.

Milvus has no compare-and-set, but an alias names one collection and
creating an alias that already exists fails, on a laptop's milvus-lite as
on a cluster. So a writer makes a collection of its own
(`<prefix>_writer_<token>`) and holds the lock while the alias
`<prefix>_writer` points to it. A row beside it (blobs, `writer/<token>`)
says who holds it (host, process) and when it last said so; the holder
renews that every `BEAT` seconds. A lock whose holder is a process that is
gone (same host) or that has not renewed it for `LEASE` seconds (a machine
that died) is taken over by the next writer.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from pymilvus import DataType, MilvusClient

from assistant.backends.milvus.store import TIMEOUT, MilvusUnavailableError, MilvusUnreachableError, Store
from assistant.errors import IndexBusyError

LEASE = 60.0  # seconds without renewal after which a holder on another machine counts as dead
BEAT = 10.0  # seconds between renewals
POLL = 0.1  # seconds between attempts while another writer holds the lock


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class WriterLock:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.alias = store.name("writer")

    def _holder_collection(self, token: str) -> str:
        return self.store.name("writer", token)

    def _stamp(self, token: str) -> None:
        record = {"host": socket.gethostname(), "pid": os.getpid(), "beat": time.time()}
        self.store.write_blob("writer", token, json.dumps(record))

    def _holder(self) -> str | None:
        """The token of the writer holding the lock, None if nobody does."""
        try:
            described: dict[str, Any] = self.store._call(
                "read the writer lock", lambda: self.store.client.describe_alias(self.alias, timeout=TIMEOUT)
            )
        except MilvusUnreachableError:
            raise
        except MilvusUnavailableError:  # no such alias: nobody holds the lock
            return None
        collection = str(described.get("collection_name", ""))
        return collection.removeprefix(self._holder_collection(""))

    def _stale(self, token: str) -> bool:
        text = self.store.read_blob("writer", token)
        if text is None:
            return True  # its row was removed: a writer that was taking over, or cleaning up, died
        record = json.loads(text)
        if record.get("host") == socket.gethostname() and not _alive(int(record.get("pid", 0))):
            return True
        return bool(time.time() - float(record.get("beat", 0)) > LEASE)

    def _break(self, token: str) -> None:
        """Release a dead writer's lock: only if it still holds it, so that a lock just taken is left alone."""
        if self._holder() != token:
            return
        self.store._call("release a dead writer's lock", lambda: self.store.client.drop_alias(self.alias, timeout=TIMEOUT))
        self._release_leftovers(token)

    def _release_leftovers(self, token: str) -> None:
        with suppress(MilvusUnavailableError):
            self.store.drop(self._holder_collection(token))
            self.store.delete_blobs("writer", [token])

    def _try(self, token: str) -> bool:
        try:
            self.store._call(
                "take the writer lock",
                lambda: self.store.client.create_alias(self._holder_collection(token), self.alias, timeout=TIMEOUT),
            )
        except MilvusUnreachableError:
            raise
        except MilvusUnavailableError:  # the alias exists: another writer holds the lock
            return False
        return True

    @contextmanager
    def hold(self, wait: float) -> Iterator[None]:
        """Hold the lock, waiting up to `wait` seconds for another writer (IndexBusyError after)."""
        self.store.ensure_blobs()
        token = uuid.uuid4().hex[:16]
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
        self.store._call(
            "create the writer's collection",
            lambda: self.store.client.create_collection(self._holder_collection(token), schema=schema, timeout=TIMEOUT),
        )
        self._stamp(token)
        deadline = time.monotonic() + wait
        try:
            while not self._try(token):
                holder = self._holder()
                if holder is not None and holder != token and self._stale(holder):
                    self._break(holder)
                    continue
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"another process is updating the index in {self.store.where} "
                        f"({self.store.settings.prefix}_*; waited {wait:g} s); try again when it has finished"
                    )
                time.sleep(POLL)
        except BaseException:
            self._release_leftovers(token)
            raise
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(token, stop), daemon=True, name="milvus-writer-lease")
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join()
            with suppress(MilvusUnavailableError):  # a server that went away: the lease lets the next writer in
                if self._holder() == token:
                    self.store._call("release the writer lock", lambda: self.store.client.drop_alias(self.alias, timeout=TIMEOUT))
                self._release_leftovers(token)

    def _beat(self, token: str, stop: threading.Event) -> None:
        while not stop.wait(BEAT):
            with suppress(MilvusUnavailableError):
                self._stamp(token)
