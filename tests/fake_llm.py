"""A fake OpenAI-compatible chat-completions server on a real 127.0.0.1 socket, with scripted replies.

`FakeLLM.script` decides each reply from the request's messages: a `Reply` (status, body text, or a
hang until the server stops). `parrot` is a tiny "model" that speaks the prompt format of
answerers/llm.py: it copies the numbered sentence sharing most words with the question, and cites it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from assistant.textnorm import analyze

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Reply:
    content: str | None = None  # the assistant message's text, wrapped as a chat completion
    status: int = 200
    raw: str | None = None  # a body sent as it is, instead of a chat completion
    hang: bool = False  # answer nothing until the server stops


def completion(content: str) -> str:
    return json.dumps(
        {
            "id": "fake",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        }
    )


def numbered(messages: Messages) -> dict[int, str]:
    """The prompt's numbered sentences."""
    return {int(n): text for n, text in re.findall(r"^\[(\d+)\] (.*)$", messages[-1]["content"], re.MULTILINE)}


def asked(messages: Messages) -> str:
    found = re.search(r"^Question: (.*)$", messages[-1]["content"], re.MULTILINE)
    return found.group(1) if found else ""


def best_sentence(messages: Messages, question: str | None = None) -> tuple[int, str]:
    """The numbered sentence sharing most content words with the question (the first of a tie)."""
    words = set(analyze(question if question is not None else asked(messages)).words)
    sentences = numbered(messages)
    n = max(sentences, key=lambda k: (len(words & set(analyze(sentences[k]).words)), -k))
    return n, sentences[n]


def parrot(messages: Messages) -> Reply:
    n, sentence = best_sentence(messages)
    return Reply(f"{sentence.rstrip('.')} [{n}].")


class FakeLLM:
    """The server; `url` is its base, `requests` every request body it got, in order."""

    def __init__(self, script: Callable[[Messages], Reply] = parrot) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), **body})
                reply = fake.script(body["messages"])
                if reply.hang:
                    fake.stopping.wait(30)
                    return
                data = (reply.raw if reply.raw is not None else completion(reply.content or "")).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
