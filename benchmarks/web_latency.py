"""Web chat latency on the seed corpus: submit -> first streamed answer text, and -> full answer with sources.

Times are taken around the browser: from the Enter key to the first answer
words on the page, and to the sources panel being filled (the last update).

Starts the app on a free port over the seed corpus (index in a temporary
folder), drives the page in headless Chromium and times each question in the
browser. Writes benchmarks/results/web_latency.json.

    .venv/bin/python benchmarks/web_latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "web_latency.json"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
QUESTIONS = [
    "Who led the Lao side at the Son La border meeting?",
    "Who co-chaired the fifth Việt Nam – Laos defence policy dialogue?",
    "What did the Son La Border Guard Command provide to the Lao partners?",
    "Which mechanisms did the two sides laud?",
    "What is the capital of France?",
]
FIRST_TEXT = """() => { const bots = document.querySelectorAll('#chat .message.bot');
  return bots.length > 0 && !bots[bots.length - 1].innerText.includes('Searching'); }"""
FULL_ANSWER = (
    """() => document.querySelector('#sources').innerText.trim().length > 0 && !document.querySelector('#chat .pending')"""
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    port = free_port()
    with tempfile.TemporaryDirectory() as index_dir:
        app = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--corpus", str(ROOT / "corpus"), "--index", index_dir, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        try:
            while "Running on local URL" not in (line := app.stdout.readline()):
                if app.poll() is not None:
                    sys.exit(f"the app did not start: {line}")
            first, full = [], []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("#question textarea")
                for _ in range(rounds):
                    for question in QUESTIONS:
                        page.click("#clear")
                        page.wait_for_function("() => document.querySelectorAll('#chat .message').length === 0")
                        page.fill("#question textarea", question)
                        started = time.perf_counter()
                        page.keyboard.press("Enter")
                        page.wait_for_function(FIRST_TEXT, polling="raf", timeout=60_000)
                        first.append((time.perf_counter() - started) * 1000)
                        page.wait_for_function(FULL_ANSWER, polling="raf", timeout=60_000)
                        full.append((time.perf_counter() - started) * 1000)
                browser.close()
        finally:
            app.terminate()
            app.wait(timeout=30)
    report = {
        "questions": len(first),
        "first_text_ms_p50": round(statistics.median(first)),
        "first_text_ms_max": round(max(first)),
        "full_answer_ms_p50": round(statistics.median(full)),
        "full_answer_ms_max": round(max(full)),
    }
    print(json.dumps(report, indent=1))
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
