"""The Gradio web chat: a thin face over `Assistant`, like the CLI.

Conversation state lives in `gr.State`, one per browser session, never in
module globals. Every string that comes from a document is escaped by
`assistant.render` before it reaches the page. What reaches the server is
bounded: uploads by `MAX_BYTES` as they stream in, and deleted from Gradio's cache
after an hour; login attempts by a delay that grows with each failure.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.events import api as gr_api
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import quiet_libraries
from assistant.conversation import ConversationState
from assistant.core import Assistant, check_question
from assistant.errors import AssistantError, QuestionError, without_server_paths
from assistant.ingest import MAX_BYTES
from assistant.readers import suffixes
from assistant.render import answer_markdown, escape_markdown, sources_html
from assistant.settings import LLM_MODEL_ENV, LLM_URL_ENV, SearchSettings, default_corpus_dir, default_index_dir

log = logging.getLogger(__name__)

EXAMPLES = [
    "Who led the Lao side at the Son La border meeting?",
    "Who co-chaired the fifth Việt Nam – Laos defence policy dialogue?",
    "What did the Son La Border Guard Command provide to the Lao partners?",
]
# Shown beside the English ones when the corpus holds Vietnamese articles.
VIETNAMESE_EXAMPLES = [
    "Ai chủ trì hội đàm?",
    "Hai bên đã ký những văn bản gì?",
    "Hai bên thống nhất phối hợp trong những lĩnh vực nào?",
]
# The page's own words, in English and Vietnamese. Gradio's own translations know no Vietnamese (its
# I18n picks only from the languages it ships), so the page is labelled from here: in the language the
# browser asks for first (Accept-Language), and again whenever the language switch changes.
PAGE_TEXT = {
    "en": {
        "heading": "## Cooperation documents assistant\nAnswers quote the articles word for word; [n] marks each source.",
        "conversation": "Conversation",
        "ask": "Ask about the articles…",
        "clear": "Clear chat",
        "sources": "### Sources",
        "documents": "Search only these documents (empty: all)",
        "since": "Published from",
        "until": "to",
        "day": "YYYY-MM-DD",
        "upload": f"Add documents ({' '.join(suffixes())}; at most {MAX_BYTES // (1024 * 1024)} MB each)",
    },
    "vi": {
        "heading": "## Trợ lý tài liệu hợp tác\nCâu trả lời trích nguyên văn các bài viết; [n] đánh dấu từng nguồn.",
        "conversation": "Hội thoại",
        "ask": "Hỏi về các bài viết…",
        "clear": "Xóa hội thoại",
        "sources": "### Nguồn",
        "documents": "Chỉ tìm trong các tài liệu này (để trống: tất cả)",
        "since": "Xuất bản từ ngày",
        "until": "đến ngày",
        "day": "NNNN-TT-NN",
        "upload": f"Thêm tài liệu ({' '.join(suffixes())}; tối đa {MAX_BYTES // (1024 * 1024)} MB mỗi tệp)",
    },
}
LANGUAGE_CHOICES = [("English", "en"), ("Tiếng Việt", "vi")]


def page_language(accept_language: str) -> str:
    """The page's language for an Accept-Language header: the first of ours it names, by preference."""
    wanted = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        wanted.append((-weight, position, tag.split("-")[0].lower()))
    return next((code for _, _, code in sorted(wanted) if code in PAGE_TEXT), "en")


CSS = """
.source { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; margin-bottom: 8px; }
.source-meta { color: #57606a; font-size: 0.85em; }
.source-passage { white-space: pre-wrap; margin: 6px 0 0; }
.source-passage mark { background: #fff3a3; padding: 0 2px; }
.source-passage .short-answer { background: #ffd54f; }
"""
ChatMessage = dict[str, str]
# An upload is read by its event within seconds of arriving; the copy Gradio keeps in its cache serves nothing after.
UPLOAD_MAX_AGE_S = 3600
UPLOAD_SWEEP_S = 600
LOGIN_DELAY_CAP_S = 30.0


def status_line(assistant: Assistant) -> str:
    info = assistant.info()
    return escape_markdown(
        f"{info['documents']} documents · {info['chunks']} chunks · model {info['model']} · built {info['built_at']}"
    )


def examples_for(assistant: Assistant) -> list[str]:
    """The example questions: English ones, and Vietnamese ones when some indexed article is in Vietnamese."""
    try:
        vietnamese = any(r.metadata.get("language") == "vi" for r in assistant.documents().values())
    except AssistantError:
        vietnamese = False
    return EXAMPLES + VIETNAMESE_EXAMPLES if vietnamese else EXAMPLES


def document_choices(assistant: Assistant) -> list[tuple[str, str]]:
    return [(f"{record.title} ({doc_id})", doc_id) for doc_id, record in assistant.documents().items()]


def _user_error(error: Exception) -> str:
    """The one line a web user sees for `error`: no traceback, and no absolute path of the server."""
    if not isinstance(error, AssistantError):
        log.exception("unexpected error")
    return without_server_paths(f"Something went wrong: {str(error).splitlines()[0] if str(error) else type(error).__name__}")


class ChatHandlers:
    """What the page's events do; every one is a call on `assistant` and a rendering of its result."""

    def __init__(self, assistant: Assistant, stream_delay: float) -> None:
        self.assistant = assistant
        self.stream_delay = stream_delay

    def respond(
        self,
        message: str,
        history: list[ChatMessage],
        state: ConversationState,
        doc_ids: list[str] | None,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[tuple[list[ChatMessage], str, ConversationState, Any]]:
        """The question shown, a placeholder, then the answer streamed a few words at a time, then its sources.
        `doc_ids` and the dates `since`/`until` (YYYY-MM-DD) restrict the documents it is answered from.

        A question the assistant refuses (too long, not valid text) gets its one-line reason, without
        being shown: a megabyte of it, or a lone surrogate, has no place in the page.
        """
        question = (message or "").strip()
        if not question:
            yield history, "", state, gr.skip()
            return
        try:
            check_question(question)
        except QuestionError as error:
            yield [*history, {"role": "assistant", "content": escape_markdown(_user_error(error))}], "", state, ""
            return
        history = [*history, {"role": "user", "content": escape_markdown(question)}]
        yield [*history, {"role": "assistant", "content": "_Searching the articles…_"}], "", state, gr.skip()
        try:
            decision = self.assistant.decide(question, state=state, doc_ids=doc_ids or None, since=since, until=until)
            answer, documents = decision.answer, decision.documents
        except Exception as error:  # shown to the user as one line, never a traceback
            yield [*history, {"role": "assistant", "content": escape_markdown(_user_error(error))}], "", state, ""
            return
        text = answer_markdown(answer)
        words = text.split(" ")
        for end in range(4, len(words), 4):
            yield [*history, {"role": "assistant", "content": " ".join(words[:end])}], "", state, gr.skip()
            time.sleep(self.stream_delay)
        yield [*history, {"role": "assistant", "content": text}], "", state, sources_html(answer, documents)

    def clear(self) -> tuple[list[ChatMessage], ConversationState, str]:
        return [], ConversationState(), ""

    def upload(self, files: list[str] | None) -> tuple[str, Any, Any, None]:
        """Add the uploaded articles (each at most MAX_BYTES) and index them; a message says what became of each."""
        if not files:
            return "", gr.skip(), gr.skip(), None
        lines = []
        accepted = []
        for file in files:
            path = Path(file)
            if path.stat().st_size > MAX_BYTES:
                lines.append(f"{path.name}: larger than {MAX_BYTES // (1024 * 1024)} MB, not added")
                continue
            accepted.append(path)
        if accepted:
            try:
                admissions, report = self.assistant.add_files(accepted)
                lines += [a.describe() for a in admissions]
                if report is not None:
                    lines.append(report.summary())
            except Exception as error:  # a bad upload is a message, never a crash
                lines.append(_user_error(error))
        message = "\n\n".join(escape_markdown(line) for line in lines)
        return message, gr.Dropdown(choices=document_choices(self.assistant)), status_line(self.assistant), None

    def browser_language(self, request: gr.Request) -> tuple[Any, ...]:
        """The page in the language the browser asks for first: the switch set to it, every label in it."""
        code = page_language(request.headers.get("accept-language", "") if request is not None else "")
        return (code, *self.relabel(code))

    def relabel(self, code: str) -> tuple[Any, ...]:
        """Every label of the page in the language `code`, in the order build_app lists them."""
        text = PAGE_TEXT.get(code, PAGE_TEXT["en"])
        return (
            text["heading"],
            gr.update(label=text["conversation"]),
            gr.update(placeholder=text["ask"]),
            gr.update(value=text["clear"]),
            text["sources"],
            gr.update(label=text["documents"]),
            gr.update(label=text["since"], info=text["day"]),
            gr.update(label=text["until"], info=text["day"]),
            gr.update(label=text["upload"]),
        )

    def refresh_page(self) -> tuple[str, Any]:
        self.assistant.refresh()
        return status_line(self.assistant), gr.Dropdown(choices=document_choices(self.assistant))

    def ask(self, question: str) -> str:
        """Answer `question` from the articles: the JSON line `assistant ask --json` prints.

        A JSON string, not a dict: gradio_client takes any dict with a "path"
        key for a file to download, and every source has one.
        """
        return self.ask_dated(question, "", "")

    def ask_dated(self, question: str, since: str, until: str) -> str:
        """`ask` from the articles published from `since` to `until` (YYYY-MM-DD, both included; "" leaves that
        end open). An endpoint of its own: a raw HTTP call must send every input of an endpoint, so adding
        inputs to `/ask` would break every script written for it."""
        try:
            return self.assistant.ask(question, since=since or None, until=until or None).to_json()
        except AssistantError as error:
            raise gr.Error(without_server_paths(str(error))) from None


def build_app(assistant: Assistant, stream_delay: float = 0.015) -> gr.Blocks:
    """The chat page and its `/ask` and `/ask_dated` API, all calls going to `assistant`."""
    handlers = ChatHandlers(assistant, stream_delay)
    app: gr.Blocks
    with gr.Blocks(title="Cooperation documents assistant", delete_cache=(UPLOAD_SWEEP_S, UPLOAD_MAX_AGE_S)) as app:
        text = PAGE_TEXT["en"]
        heading = gr.Markdown(text["heading"])
        status = gr.Markdown(status_line(assistant), elem_id="status")
        state = gr.State(ConversationState())
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label=text["conversation"], elem_id="chat", height=460, buttons=["copy"], feedback_options=None
                )
                question = gr.Textbox(placeholder=text["ask"], show_label=False, elem_id="question", submit_btn=True)
                gr.Examples(examples_for(assistant), inputs=question)
                clear_button = gr.Button(text["clear"], elem_id="clear", size="sm")
                language = gr.Radio(LANGUAGE_CHOICES, value="en", show_label=False, elem_id="language", container=False)
            with gr.Column(scale=2):
                sources_heading = gr.Markdown(text["sources"])
                sources = gr.HTML(elem_id="sources")
                documents = gr.Dropdown(
                    choices=document_choices(assistant),
                    multiselect=True,
                    label=text["documents"],
                    elem_id="documents",
                )
                with gr.Row():
                    since = gr.DateTime(include_time=False, type="string", label=text["since"], elem_id="since", info=text["day"])
                    until = gr.DateTime(include_time=False, type="string", label=text["until"], elem_id="until", info=text["day"])
                files = gr.File(
                    label=text["upload"],
                    file_types=list(suffixes()),
                    file_count="multiple",
                    elem_id="upload",
                )
                upload_status = gr.Markdown(elem_id="upload-status")
        question.submit(
            handlers.respond,
            [question, chatbot, state, documents, since, until],
            [chatbot, question, state, sources],
            api_visibility="private",
        )
        clear_button.click(handlers.clear, None, [chatbot, state, sources], api_visibility="private")
        chatbot.clear(handlers.clear, None, [chatbot, state, sources], api_visibility="private")  # its trash icon
        files.upload(handlers.upload, files, [upload_status, documents, status, files], api_visibility="private")
        app.load(handlers.refresh_page, None, [status, documents], api_visibility="private")
        labelled = [heading, chatbot, question, clear_button, sources_heading, documents, since, until, files]
        app.load(handlers.browser_language, None, [language, *labelled], api_visibility="private")
        language.change(handlers.relabel, language, labelled, api_visibility="private")
        gr_api(handlers.ask, api_name="ask")
        gr_api(handlers.ask_dated, api_name="ask_dated")
    return app


def _auth_from_environment() -> tuple[str, str] | None:
    value = os.environ.get("ASSISTANT_AUTH", "")
    if not value:
        return None
    user, separator, password = value.partition(":")
    if not separator or not user or not password:
        raise AssistantError("ASSISTANT_AUTH must look like user:password")
    return user, password


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server to this machine (a name other than localhost counts as not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, share: bool, login: bool) -> str | None:
    """What to shout at start when others can reach the chat without a login: they could read and add articles."""
    if login or (is_loopback(host) and not share):
        return None
    where = "a public Gradio share link" if share else f"{host}, reachable from other machines,"
    return (
        f"SERVING ON {where} WITHOUT A LOGIN: anyone who can reach it can read every article and add new ones"
        " — set ASSISTANT_AUTH=user:password, or serve on 127.0.0.1"
    )


def login_delay(failures: int) -> float:
    """Seconds a client's next login attempt waits after `failures` failed ones in a row: 0, then 1, 2, 4 … up to 30.

    Growing, so a person who mistypes hardly notices and a password guesser gets one try per half minute.
    """
    if failures <= 0:
        return 0.0
    return min(LOGIN_DELAY_CAP_S, 2.0 ** min(failures - 1, 64))  # 2**64 s is past any cap; 2.0**1024 overflows


@dataclass
class _Client:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    failures: int = 0  # failed logins in a row
    attempts: int = 0  # logins in flight


class LoginThrottle:
    """ASGI middleware before Gradio's POST /login: one attempt at a time per client address, each after
    `login_delay` of the client's failures, so parallel requests do not get round the delay.

    A client is forgotten once it has no attempt in flight and its last attempt succeeded.
    """

    def __init__(self, app: ASGIApp, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.app = app
        self.sleep = sleep
        self.clients: dict[str, _Client] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != "/login":
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else ""
        client = self.clients.setdefault(address, _Client())
        client.attempts += 1
        status = 0

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            async with client.lock:
                await self.sleep(login_delay(client.failures))
                await self.app(scope, receive, noting_status)
                client.failures = client.failures + 1 if status >= 400 else 0
        finally:
            client.attempts -= 1
            if not client.attempts and not client.failures:
                del self.clients[address]


def serve(app: gr.Blocks, host: str, port: int, share: bool, auth: tuple[str, str] | None) -> None:
    """Launch `app` (blocking) with what guards it: no upload over MAX_BYTES is read past the limit, failed
    logins slow down, and serving beyond this machine without a login is loudly warned about."""
    warning = exposure_warning(host, share, login=auth is not None)
    if warning:
        log.warning(warning)
    print(f"serving the chat at http://{host}:{port}", flush=True)
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=auth,
        css=CSS,
        footer_links=["api"],
        max_file_size=MAX_BYTES,
        app_kwargs={"middleware": [Middleware(LoginThrottle)]},
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The web chat over the articles.")
    parser.add_argument("--corpus", type=Path, default=default_corpus_dir())
    parser.add_argument("--index", type=Path, default=default_index_dir())
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also make a public Gradio link")
    parser.add_argument("--llm-url", default=os.environ.get(LLM_URL_ENV, ""), help="answer with this model server")
    parser.add_argument("--llm-model", default=os.environ.get(LLM_MODEL_ENV, ""), help="the server's model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    quiet_libraries()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        auth = _auth_from_environment()
        settings = SearchSettings(answerer="llm", llm_url=args.llm_url, llm_model=args.llm_model) if args.llm_url else None
        assistant = Assistant(args.index, args.corpus, settings)
        assistant.update(progress=sys.stderr.isatty())  # logs what it did
        assistant.open()
    except AssistantError as error:
        sys.exit(f"Error: {error}")
    app = build_app(assistant)
    app.queue(default_concurrency_limit=4)
    serve(app, args.host, args.port, args.share, auth)
