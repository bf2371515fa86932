"""A milvus-lite server for the tests: started by a fixture on a free port of 127.0.0.1, never assumed running.

`milvus_server` is one server for the whole session (slow tests only: the fast
tier starts no server). A test that kills the server and starts it again on
the same data uses its own (`MilvusServer.start` / `kill`). Import the fixture
into the module that uses it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.settings import MilvusSettings

READY_TIMEOUT = 60.0  # seconds: it is ready in about one, but the test machine is shared


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MilvusServer:
    """`milvus-lite server --data-dir DIR --host 127.0.0.1 --port PORT`, as a child process."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, prefix: str | None = None) -> MilvusSettings:
        """Settings for this server; a fresh collection prefix unless given, so that tests never share an index."""
        return MilvusSettings(uri=self.uri, prefix=prefix or f"t{uuid.uuid4().hex[:12]}")

    def start(self) -> MilvusServer:
        command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"milvus-lite exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"milvus-lite did not listen on {self.uri} within {READY_TIMEOUT:g} s")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.process = None


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    """One milvus-lite server for the session, on a free port of 127.0.0.1."""
    server = MilvusServer(tmp_path_factory.mktemp("milvus") / "data").start()
    try:
        yield server
    finally:
        server.stop()
