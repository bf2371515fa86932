"""The web chat as a user meets it: a real app process, its API through gradio_client, the page in Chromium."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AuthenticationError

from assistant.evaluation import contains_fact
from assistant.indexer import update_index

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
QUESTION = "Who led the Lao side at the Son La border meeting?"
HOSTILE = (
    "# Border notes <img src=x onerror=\"window.__pwned='title'\">\n\n"
    "Lieutenant Somchai Keo reported the patrol log <script>window.__pwned='script'</script> to the Phongsaly command. "
    "The tag <img src=x onerror=\"window.__pwned='img'\"> was found in the Phongsaly patrol log, said Somchai Keo.\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(corpus: Path, index_dir: Path, **environment: str) -> Iterator[str]:
    """`app.py` as a real process on a free port until the block ends; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--corpus", str(corpus), "--index", str(index_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **environment},
    )
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lines.append(process.stdout.readline())
            if "Running on local URL" in lines[-1] or process.poll() is not None:
                break
        assert f"serving the chat at http://127.0.0.1:{port}" in "".join(lines), "".join(lines)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(seed_corpus, seed_index, tmp_path_factory):
    """The app over copies of the seed corpus and index; yields (url, corpus, index)."""
    root = tmp_path_factory.mktemp("web")
    corpus, index_dir = root / "corpus", root / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index_dir)
    with running_app(corpus, index_dir) as url:
        yield url, corpus, index_dir


@pytest.fixture(scope="module")
def client(server):
    return Client(server[0], verbose=False)


def test_ask_api_returns_the_cli_json(client, server, seed_index):
    _, corpus, _ = server
    answer = json.loads(client.predict(QUESTION, api_name="/ask"))
    assert set(answer) == {"question", "answer", "short_answer", "abstained", "sources", "answerer", "notice"}
    assert contains_fact(answer["answer"], "Colonel Viliem Vongthisan"), answer["answer"]
    for source in answer["sources"]:
        text = (corpus / source["path"]).read_text(encoding="utf-8")
        assert text[source["start"] : source["end"]] == source["quote"]
    cli = subprocess.run(
        [Path(sys.executable).parent / "assistant", "ask", "--index", str(seed_index), "--json", QUESTION],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert json.loads(cli.stdout) == answer  # the web and the CLI cannot disagree


def test_ask_api_abstains_off_corpus(client):
    answer = json.loads(client.predict("What is the capital of France?", api_name="/ask"))
    assert answer["abstained"] is True and answer["sources"] == []


def test_an_article_indexed_after_start_is_answered(client, server):
    _, corpus, index_dir = server
    (corpus / "phongsaly.md").write_text(
        "# Phongsaly patrol\n\nMajor Khamla Vongsa led the Phongsaly joint patrol on June 9.", encoding="utf-8"
    )
    update_index(corpus, index_dir)  # another process's job in real life: `assistant add` or `assistant watch`
    answer = json.loads(client.predict("Who led the Phongsaly joint patrol?", api_name="/ask"))
    assert contains_fact(answer["answer"], "Major Khamla Vongsa"), answer["answer"]


# -- the page in a real browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install chromium (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    page.goto(server[0])
    page.wait_for_selector("#question textarea", timeout=60_000)
    yield page
    context.close()


def ask(page, question: str) -> str:
    """Type a question, wait for the full answer (the sources panel is filled last); the answer's text."""
    answers = page.locator("#chat .message.bot")
    before = answers.count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([before]) => { const m = document.querySelectorAll('#chat .message.bot');"
        " return m.length > before && !m[m.length - 1].innerText.includes('Searching'); }",
        arg=[before],
        timeout=60_000,
    )
    settled = (
        "() => { const m = document.querySelectorAll('#chat .message.bot');"
        " return document.querySelector('#sources').innerText.trim().length > 0 && !document.querySelector('#chat .pending')"
        " && m.length > 0 && !m[m.length - 1].innerText.includes('Searching'); }"
    )
    page.wait_for_function(settled, timeout=60_000)
    page.wait_for_timeout(300)  # the last streamed update
    page.wait_for_function(settled, timeout=60_000)  # a loaded machine may re-render the placeholder in between
    return answers.nth(answers.count() - 1).inner_text()


def test_question_answer_with_highlighted_source(page):
    text = ask(page, QUESTION)
    assert contains_fact(text, "Colonel Viliem Vongthisan") and "[1]" in text, text
    highlighted = page.inner_text("#sources mark")
    assert highlighted.startswith("The Vietnamese delegation was led by") and "Vongthisan" in highlighted
    assert "son-la-luang-prabang-border-meeting.txt" in page.inner_text("#sources")
    assert "documents" in page.inner_text("#status") and "chunks" in page.inner_text("#status")
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)


def test_follow_up_and_clear(page):
    ask(page, "Who co-chaired the fifth defence policy dialogue?")
    text = ask(page, "Where was it held?")
    assert contains_fact(text, "Luang Prabang"), text
    page.screenshot(path=str(ARTIFACTS / "follow-up.png"), full_page=True)
    page.click("#clear")
    page.wait_for_function("() => document.querySelectorAll('#chat .message').length === 0")
    text = ask(page, "Where was it held?")  # no topic any more: nothing to resolve "it" against
    assert "do not say" in text


def test_the_chat_trash_icon_starts_a_new_conversation(page):
    ask(page, "Who co-chaired the fifth defence policy dialogue?")
    page.locator("#chat").get_by_role("button", name="Clear").click()
    page.wait_for_function("() => document.querySelectorAll('#chat .message').length === 0")
    assert "do not say" in ask(page, "Where was it held?")  # the old topic went with the messages


def test_conversations_are_per_browser_session(browser, server, page):
    ask(page, "Who co-chaired the fifth defence policy dialogue?")
    other = browser.new_context().new_page()
    other.goto(server[0])
    other.wait_for_selector("#question textarea", timeout=60_000)
    assert "do not say" in ask(other, "Where was it held?")  # the first session's topic is not shared
    text = ask(page, "Where was it held?")
    assert contains_fact(text, "Luang Prabang"), text
    other.context.close()


def test_upload_then_ask_and_hostile_markup_stays_text(page, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    article = tmp_path / "border <notes>.md"
    article.write_text(HOSTILE, encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(article))
    page.wait_for_function("() => document.querySelector('#upload-status').innerText.includes('added')", timeout=60_000)
    assert "border-notes.md" in page.inner_text("#upload-status")
    text = ask(page, "What did Lieutenant Somchai Keo report to the Phongsaly command?")
    assert "<script>window.__pwned='script'</script>" in text  # shown as the characters it is
    sources = page.inner_text("#sources")
    assert "<img src=x onerror=" in sources  # the title, as text
    ask(page, "Which tag was found in the Phongsaly patrol log?")
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    assert page.locator("#chat script, #sources script, #chat img[src='x'], #sources img[src='x']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "hostile-article.png"), full_page=True)


def test_document_selector_restricts_the_search(page):
    page.click("#documents input")
    page.get_by_role("option", name="Vietnam Laos Defence Policy Dialogue (vietnam-laos-defence-policy-dialogue.txt)").click()
    page.keyboard.press("Escape")
    text = ask(page, QUESTION)
    assert not contains_fact(text, "Vongthisan"), text
    assert "son-la-luang-prabang-border-meeting.txt" not in page.inner_text("#sources")


def test_malformed_auth_setting_is_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--index", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        env={**os.environ, "ASSISTANT_AUTH": "no-colon"},
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "Error: ASSISTANT_AUTH must look like user:password"
    assert "Traceback" not in done.stderr


def test_login_when_auth_is_set(seed_corpus, seed_index):
    with running_app(seed_corpus, seed_index, ASSISTANT_AUTH="analyst:s3cret") as url:
        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(url, verbose=False).predict(QUESTION, api_name="/ask")
        answer = json.loads(Client(url, auth=("analyst", "s3cret"), verbose=False).predict(QUESTION, api_name="/ask"))
        assert contains_fact(answer["answer"], "Vongthisan"), answer["answer"]


DATED = "---\ntitle: Muang Khua talks\ndate: 2024-04-10\n---\nThe Muang Khua border talks agreed on nine joint patrols.\n"


def test_ask_api_takes_a_date_range(client, server):
    _, corpus, index_dir = server
    (corpus / "muang-khua.md").write_text(DATED, encoding="utf-8")
    update_index(corpus, index_dir)
    question = "How many joint patrols did the Muang Khua border talks agree on?"
    answer = json.loads(client.predict(question, "2024-01-01", "2024-12-31", api_name="/ask_dated"))
    assert contains_fact(answer["answer"], "nine"), answer["answer"]
    assert answer["sources"][0]["published"] == "2024-04-10" and answer["sources"][0]["format"] == "md"
    assert json.loads(client.predict(question, "2025-01-01", "", api_name="/ask_dated"))["abstained"] is True
    assert not json.loads(client.predict(question, api_name="/ask"))["abstained"]  # /ask: every document


def test_the_date_range_on_the_page_restricts_the_search(page, server):
    _, corpus, index_dir = server
    (corpus / "muang-khua.md").write_text(DATED, encoding="utf-8")
    update_index(corpus, index_dir)
    question = "How many joint patrols did the Muang Khua border talks agree on?"
    page.fill("#since input", "2024-01-01")
    text = ask(page, question)
    assert contains_fact(text, "nine"), text
    assert "published 2024-04-10" in page.inner_text("#sources")
    page.screenshot(path=str(ARTIFACTS / "date-range.png"), full_page=True)
    page.fill("#since input", "2025-01-01")
    assert "do not say" in ask(page, question)


def test_upload_a_pdf_then_ask_and_its_page_is_shown(page, tmp_path):
    from tests.documents import pdf_file

    report = tmp_path / "border gates report.pdf"
    report.write_bytes(pdf_file())
    page.set_input_files("#upload input[type=file]", str(report))
    page.wait_for_function("() => document.querySelector('#upload-status').innerText.includes('added')", timeout=60_000)
    assert "border-gates-report.pdf" in page.inner_text("#upload-status")
    text = ask(page, "What did they sign for the years 2023 to 2025?")
    assert contains_fact(text, "management of the border gates"), text
    sources = page.inner_text("#sources")
    assert "border-gates-report.pdf" in sources and "page 2" in sources and "published 2023-03-29" in sources
    page.screenshot(path=str(ARTIFACTS / "pdf-upload.png"), full_page=True)


def test_the_page_speaks_the_browser_s_language(browser, server):
    english = browser.new_context(locale="en-US").new_page()
    english.goto(server[0])
    english.wait_for_selector("#question textarea", timeout=60_000)
    english.wait_for_timeout(1000)  # the page's load events have run
    assert english.get_attribute("#question textarea", "placeholder") == "Ask about the articles…"
    vietnamese = browser.new_context(locale="vi-VN").new_page()
    vietnamese.goto(server[0])
    vietnamese.wait_for_selector("#question textarea", timeout=60_000)
    vietnamese.wait_for_function(  # labelled once the page has loaded
        "() => document.querySelector('#question textarea').placeholder === 'Hỏi về các bài viết…'", timeout=30_000
    )
    assert "Nguồn" in vietnamese.inner_text("body") and "Xóa hội thoại" in vietnamese.inner_text("#clear")
    assert "do not say" not in (said := ask(vietnamese, "Thủ đô của Pháp là gì?")) and "Các tài liệu không nói" in said
    vietnamese.screenshot(path=str(ARTIFACTS / "vietnamese-page.png"), full_page=True)
    english.get_by_label("Tiếng Việt").check()  # the switch
    english.wait_for_function("() => document.querySelector('#question textarea').placeholder === 'Hỏi về các bài viết…'")
    english.context.close()
    vietnamese.context.close()


def test_the_page_shows_a_model_s_verified_answer_and_its_notice(browser, seed_corpus, seed_index, tmp_path):
    """app.py --llm-url against a fake model server: the model's words with their verified [n], the sources
    quoted verbatim; with the server gone, the quoted answer and a notice, never an error."""
    from tests.fake_llm import FakeLLM

    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index_dir)
    fake = FakeLLM()
    try:
        with running_app(corpus, index_dir, ASSISTANT_LLM_URL=fake.url) as url:
            page = browser.new_context().new_page()
            page.goto(url)
            page.wait_for_selector("#question textarea", timeout=60_000)
            text = ask(page, QUESTION)
            assert contains_fact(text, "Viliem Vongthisan") and "[1]" in text, text
            assert fake.requests, "the model was not asked"
            assert "son-la-luang-prabang-border-meeting.txt" in page.inner_text("#sources")
            page.context.close()
            fake.stop()
            page = browser.new_context().new_page()
            page.goto(url)
            page.wait_for_selector("#question textarea", timeout=60_000)
            text = ask(page, "Who co-chaired the fifth defence policy dialogue?")
            assert contains_fact(text, "Phommakone") and "[1]" in text and "model" in text.lower(), text  # why, in a notice
            page.context.close()
    finally:
        fake.stop()
