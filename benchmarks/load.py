"""Load on the web chat: 16, 32 and 64 concurrent clients asking through `/ask`, each level for a bounded time.

Indexes the seed corpus into a temporary folder (`assistant index`, the real model), starts app.py on a free
port over it, asks every question once to warm it, then for each client count runs that many clients at once for
--seconds: each asks the questions of tests/qa/seed_qa.jsonl in turn (from its own starting point) and sends
the next as soon as its answer is in. A request is Gradio's API as gradio_client makes it (POST the question,
then read the answer's event stream); its latency runs from sending the question to having the answer. An
error is a failed HTTP call, an error event, or an answer that is not the JSON `assistant ask --json` prints.
The server's resident memory comes from /proc: before the first level, the peak sampled during each level
(every 0.25 s), and the process's own high-water mark at the end. The clients run on the same machine as the
server and take some of its CPU. Writes benchmarks/results/load.json; exits 1 if any request failed.

    .venv/bin/python benchmarks/load.py [--clients 16 32 64] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "load.json"
QUESTIONS = ROOT / "tests" / "qa" / "seed_qa.jsonl"
COMMAND = Path(sys.executable).parent / "assistant"
SAMPLE_EVERY_S = 0.25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_mb(pid: int, field_name: str = "VmRSS") -> float:
    """A memory figure of process `pid` from /proc/PID/status (VmRSS: resident now; VmHWM: its peak), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field_name} in /proc/{pid}/status")


async def defaults(url: str) -> list[object]:
    """The values `/ask` takes after the question when a caller gives none, from the API's own description
    (gradio_client fills them in the same way; a raw call must send every one)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        info = (await client.get("gradio_api/info")).raise_for_status().json()
    return [parameter["parameter_default"] for parameter in info["named_endpoints"]["/ask"]["parameters"][1:]]


async def ask(client: httpx.AsyncClient, question: str, rest: list[object]) -> None:
    """One question through `/ask`, as gradio_client sends it; raises if no well-formed answer comes back."""
    started = await client.post("gradio_api/call/ask", json={"data": [question, *rest]})
    started.raise_for_status()
    events = await client.get(f"gradio_api/call/ask/{started.json()['event_id']}")
    events.raise_for_status()
    lines = events.text.splitlines()
    if "event: complete" not in lines:
        raise ValueError(f"no answer: {events.text[:200]!r}")
    data = lines[lines.index("event: complete") + 1].removeprefix("data: ")
    answer = json.loads(json.loads(data)[0])
    if not isinstance(answer.get("answer"), str) or answer.get("question") != question:
        raise ValueError(f"not an answer to the question: {data[:200]!r}")


async def warm_up(url: str, questions: list[str], rest: list[object]) -> None:
    """Every question once, one at a time: every code path warm and the span model loaded before timing."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        for question in questions:
            await ask(client, question, rest)


@dataclass
class Level:
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rss_peak_mb: float = 0.0


async def client_loop(
    client: httpx.AsyncClient, questions: list[str], rest: list[object], first: int, deadline: float, level: Level
) -> None:
    turn = first
    while time.monotonic() < deadline:
        question = questions[turn % len(questions)]
        turn += 1
        began = time.perf_counter()
        try:
            await ask(client, question, rest)
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as error:
            level.errors.append(f"{type(error).__name__}: {error}")
            continue
        level.latencies.append(time.perf_counter() - began)


async def sample_memory(pid: int, level: Level, stop: asyncio.Event) -> None:
    while not stop.is_set():
        level.rss_peak_mb = max(level.rss_peak_mb, memory_mb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)


async def run_level(
    url: str, pid: int, questions: list[str], rest: list[object], clients: int, seconds: float
) -> tuple[Level, float]:
    """`clients` clients asking for `seconds`; returns what they measured and the level's wall time (to the last answer)."""
    level = Level(clients)
    limits = httpx.Limits(max_connections=2 * clients, max_keepalive_connections=2 * clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_memory(pid, level, stop))
        began = time.monotonic()
        deadline = began + seconds
        step = max(1, len(questions) // clients)
        await asyncio.gather(*(client_loop(client, questions, rest, n * step, deadline, level) for n in range(clients)))
        elapsed = time.monotonic() - began
        stop.set()
        await sampler
    return level, elapsed


def summary(level: Level, elapsed: float) -> dict[str, object]:
    latencies = sorted(level.latencies)
    p95 = statistics.quantiles(latencies, n=100)[94] if len(latencies) > 1 else latencies[0]
    return {
        "clients": level.clients,
        "seconds": round(elapsed, 1),
        "answers": len(latencies),
        "errors": len(level.errors),
        "first_errors": level.errors[:5],
        "throughput_per_s": round(len(latencies) / elapsed, 2),
        "latency_ms_p50": round(statistics.median(latencies) * 1000),
        "latency_ms_p95": round(p95 * 1000),
        "latency_ms_max": round(latencies[-1] * 1000),
        "server_rss_mb_peak": round(level.rss_peak_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory() as work:
        index_dir, log = Path(work) / "index", Path(work) / "app.log"
        environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
        # Built apart, as `make run` finds it: the server's memory is a server's, not an index build's.
        subprocess.run([COMMAND, "index", "--corpus", "corpus", "--index", index_dir], cwd=ROOT, env=environment, check=True)
        with log.open("w", encoding="utf-8") as output:  # a file, not a pipe nobody reads: the server never blocks on it
            serve = ["app.py", "--corpus", "corpus", "--index", str(index_dir), "--port", str(port)]
            app = subprocess.Popen(
                [sys.executable, *serve],
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        try:
            while "Running on local URL" not in log.read_text(encoding="utf-8"):
                if app.poll() is not None:
                    sys.exit(f"the app did not start:\n{log.read_text(encoding='utf-8')}")
                time.sleep(0.5)
            rest = asyncio.run(defaults(url))
            asyncio.run(warm_up(url, questions, rest))
            rss_idle = memory_mb(app.pid)
            levels = []
            for clients in args.clients:
                level, elapsed = asyncio.run(run_level(url, app.pid, questions, rest, clients, args.seconds))
                levels.append(summary(level, elapsed))
                print(json.dumps(levels[-1]), flush=True)
            rss_end, rss_high = memory_mb(app.pid), memory_mb(app.pid, "VmHWM")
        finally:
            app.terminate()
            app.wait(timeout=30)
    report = {
        "questions": len(questions),
        "seconds_per_level": args.seconds,
        "cpus": os.cpu_count(),
        "server_rss_mb_after_warm_up": round(rss_idle),
        "server_rss_mb_at_end": round(rss_end),
        "server_rss_mb_high_water": round(rss_high),
        "levels": levels,
    }
    print(json.dumps(report, indent=1))
    RESULTS.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if any(level["errors"] for level in levels):
        sys.exit(1)


if __name__ == "__main__":
    main()
