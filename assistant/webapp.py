"""The Gradio web chat: a thin face over `Assistant`, like the CLI.

Conversation state lives in `gr.State`, one per browser session, never in
module globals. Every string that comes from a document is escaped by
`assistant.render` before it reaches the page.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.conversation import ConversationState
from assistant.core import Assistant
from assistant.errors import AssistantError
from assistant.indexer import update_index
from assistant.ingest import MAX_BYTES
from assistant.render import answer_markdown, escape_markdown, sources_html

log = logging.getLogger(__name__)

EXAMPLES = [
    "Who led the Lao side at the Son La border meeting?",
    "Who co-chaired the fifth Việt Nam – Laos defence policy dialogue?",
    "What did the Son La Border Guard Command provide to the Lao partners?",
]
CSS = """
.source { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; margin-bottom: 8px; }
.source-meta { color: #57606a; font-size: 0.85em; }
.source-passage { white-space: pre-wrap; margin: 6px 0 0; }
.source-passage mark { background: #fff3a3; padding: 0 2px; }
"""
Message = dict[str, str]


def status_line(assistant: Assistant) -> str:
    info = assistant.info()
    return escape_markdown(
        f"{info['documents']} documents · {info['chunks']} chunks · model {info['model']} · built {info['built_at']}"
    )


def document_choices(assistant: Assistant) -> list[tuple[str, str]]:
    index = assistant.index
    return [(f"{record['title']} ({doc_id})", doc_id) for doc_id, record in index.manifest.documents.items()]


def _user_error(error: Exception) -> str:
    if not isinstance(error, AssistantError):
        log.exception("unexpected error")
    return f"Something went wrong: {str(error).splitlines()[0] if str(error) else type(error).__name__}"


def build_app(assistant: Assistant, stream_delay: float = 0.015) -> gr.Blocks:
    """The chat page and its `/ask` API, all calls going to `assistant`."""

    def respond(
        message: str, history: list[Message], state: ConversationState, doc_ids: list[str] | None
    ) -> Iterator[tuple[list[Message], str, ConversationState, str]]:
        question = (message or "").strip()
        if not question:
            yield history, "", state, gr.skip()
            return
        history = [*history, {"role": "user", "content": escape_markdown(question)}]
        yield [*history, {"role": "assistant", "content": "_Searching the articles…_"}], "", state, gr.skip()
        try:
            decision = assistant.decide(question, state=state, doc_ids=doc_ids or None)
        except Exception as error:  # shown to the user as one line, never a traceback
            yield [*history, {"role": "assistant", "content": escape_markdown(_user_error(error))}], "", state, ""
            return
        answer = decision.answer
        text = answer_markdown(answer)
        words = text.split(" ")
        for end in range(4, len(words), 4):
            yield [*history, {"role": "assistant", "content": " ".join(words[:end])}], "", state, gr.skip()
            time.sleep(stream_delay)
        yield [*history, {"role": "assistant", "content": text}], "", state, sources_html(answer, assistant.index.documents)

    def clear() -> tuple[list[Message], ConversationState, str]:
        return [], ConversationState(), ""

    def upload(files: list[str] | None) -> tuple[str, Any, str, None]:
        if not files:
            return "", gr.skip(), gr.skip(), None
        lines = []
        articles = []
        for file in files:
            path = Path(file)
            if path.stat().st_size > MAX_BYTES:
                lines.append(f"{path.name}: larger than {MAX_BYTES // (1024 * 1024)} MB, not added")
                continue
            articles.append((path.name, path.read_bytes()))
        if articles:
            try:
                admissions, report = assistant.add_articles(articles)
                lines += [a.describe() for a in admissions]
                if report is not None:
                    lines.append(report.summary())
            except Exception as error:  # a bad upload is a message, never a crash
                lines.append(_user_error(error))
        message = "\n\n".join(escape_markdown(line) for line in lines)
        return message, gr.Dropdown(choices=document_choices(assistant)), status_line(assistant), None

    def refresh_page() -> tuple[str, Any]:
        assistant.refresh()
        return status_line(assistant), gr.Dropdown(choices=document_choices(assistant))

    def ask(question: str) -> str:
        """Answer `question` from the articles: the JSON line `assistant ask --json` prints.

        A JSON string, not a dict: gradio_client takes any dict with a "path"
        key for a file to download, and every source has one.
        """
        try:
            return assistant.ask(question).to_json()
        except AssistantError as error:
            raise gr.Error(str(error)) from None

    with gr.Blocks(title="Cooperation documents assistant") as app:
        gr.Markdown("## Cooperation documents assistant\nAnswers quote the articles word for word; [n] marks each source.")
        status = gr.Markdown(status_line(assistant), elem_id="status")
        state = gr.State(ConversationState())
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Conversation", elem_id="chat", height=460, buttons=["copy"], feedback_options=None)
                question = gr.Textbox(
                    placeholder="Ask about the articles…", show_label=False, elem_id="question", submit_btn=True
                )
                gr.Examples(EXAMPLES, inputs=question)
                clear_button = gr.Button("Clear chat", elem_id="clear", size="sm")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(elem_id="sources")
                documents = gr.Dropdown(
                    choices=document_choices(assistant),
                    multiselect=True,
                    label="Search only these documents (empty: all)",
                    elem_id="documents",
                )
                files = gr.File(
                    label="Add articles (.txt or .md, at most 5 MB)",
                    file_types=[".txt", ".md"],
                    file_count="multiple",
                    elem_id="upload",
                )
                upload_status = gr.Markdown(elem_id="upload-status")
        question.submit(
            respond, [question, chatbot, state, documents], [chatbot, question, state, sources], api_visibility="private"
        )
        clear_button.click(clear, None, [chatbot, state, sources], api_visibility="private")
        files.upload(upload, files, [upload_status, documents, status, files], api_visibility="private")
        app.load(refresh_page, None, [status, documents], api_visibility="private")
        gr.api(ask, api_name="ask")
    return app


def _auth_from_environment() -> tuple[str, str] | None:
    value = os.environ.get("ASSISTANT_AUTH", "")
    if not value:
        return None
    user, separator, password = value.partition(":")
    if not separator or not user or not password:
        raise AssistantError("ASSISTANT_AUTH must look like user:password")
    return user, password


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The web chat over the articles.")
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("ASSISTANT_CORPUS", "corpus")))
    parser.add_argument("--index", type=Path, default=Path(os.environ.get("ASSISTANT_INDEX", "index")))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also make a public Gradio link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        auth = _auth_from_environment()
        update_index(args.corpus, args.index, progress=sys.stderr.isatty())  # logs what it did
        assistant = Assistant.load(args.index, corpus_dir=args.corpus)
    except AssistantError as error:
        sys.exit(f"Error: {error}")
    app = build_app(assistant)
    app.queue(default_concurrency_limit=4)
    print(f"serving the chat at http://{args.host}:{args.port}", flush=True)
    app.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth, css=CSS, footer_links=["api"])
