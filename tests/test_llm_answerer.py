"""The `llm` answerer against a fake OpenAI-compatible server on a real socket (tests/fake_llm.py): only claims
whose citations check out reach the answer; a server that is down, slow or talks nonsense leaves the extractive
answer with a notice. Hashing stand-in embedder, rule short answers: no model. One opt-in test asks a real
server when ASSISTANT_LLM_URL is set."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.answerers.llm import (
    MIN_SUPPORT,
    Claim,
    check,
    completions_url,
    numbered_sentences,
    parse_claims,
    prompt_messages,
)
from assistant.cli import main
from assistant.conversation import ConversationState
from assistant.core import Assistant
from assistant.question import Question
from assistant.records import Answer
from assistant.settings import SearchSettings
from tests.conftest import SEED_CORPUS
from tests.fake_llm import FakeLLM, Messages, Reply, best_sentence, numbered, parrot
from tests.fakes import HASHING_EMBEDDER

QUESTION = "Who led the Lao side at the Son La border meeting?"
OFF_TOPIC = "What is the capital of France?"


@pytest.fixture(scope="module")
def seed_hashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The seed corpus indexed once for this module with the hashing stand-in."""
    corpus, index_dir = tmp_path_factory.mktemp("corpus"), tmp_path_factory.mktemp("index")
    for path in SEED_CORPUS.glob("*.txt"):
        shutil.copy(path, corpus / path.name)
    Assistant(index_dir, corpus, SearchSettings(short_answers="rules")).update(embedder=HASHING_EMBEDDER)
    return corpus, index_dir


@pytest.fixture
def assistant(seed_hashed: tuple[Path, Path]) -> Assistant:
    """The extractive assistant over that index (rule short answers, as the fast tier sets)."""
    corpus, index_dir = seed_hashed
    return Assistant(index_dir, corpus)


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM()
    yield server
    server.stop()


def llm_assistant(assistant: Assistant, url: str, **settings: object) -> Assistant:
    """An assistant over the same (hashing) index that answers with the llm answerer at `url`."""
    chosen = SearchSettings(answerer="llm", llm_url=url, llm_model="fake", **settings)  # type: ignore[arg-type]
    return Assistant(assistant.index_dir, assistant.corpus_dir, chosen)


def assert_quotes_exact(answer: Answer, assistant: Assistant) -> None:
    assert [s.n for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    for source in answer.sources:
        assert assistant.document(source.doc_id).text[source.start : source.end] == source.quote


def wrong_sentence(messages: Messages, right: int) -> int:
    """A numbered sentence that is not `right` and shares few words with it."""
    return next(n for n in numbered(messages) if n != right and "Viliem" not in numbered(messages)[n])


# The prompt and the parser


def test_the_prompt_numbers_each_sentence_once_in_rank_then_document_order(assistant):
    passages = assistant.search(QUESTION, k=4)
    sentences = numbered_sentences(passages)
    assert [s.n for s in sentences] == list(range(1, len(sentences) + 1))
    assert len({(s.passage.document.doc_id, s.start, s.end) for s in sentences}) == len(sentences)
    ranks = [s.passage.rank for s in sentences]
    assert ranks == sorted(ranks)
    messages = prompt_messages(Question.analyse(QUESTION), sentences)
    user = messages[-1]["content"]
    for s in sentences:
        assert f"[{s.n}] {' '.join(s.text.split())}\n" in user + "\n"
    assert f"Question: {QUESTION}" in user and "Answer in English" in user


def test_claims_are_the_text_before_each_run_of_markers():
    claims = parse_claims(
        "Here is what I found:\nThe Lao side was led by Colonel X [2], and they signed minutes [1][3]. Also Y happened."
    )
    assert claims == [
        Claim("The Lao side was led by Colonel X", (2,), ","),
        Claim("and they signed minutes", (1, 3), "."),
        Claim("Also Y happened.", ()),
    ]
    assert parse_claims("A claim [1, 4]. <think>pondering [9]</think>") == [Claim("A claim", (1, 4), ".")]
    assert parse_claims("First sentence. Second one [2].") == [Claim("First sentence.", ()), Claim("Second one", (2,), ".")]


def test_a_claim_is_supported_only_by_sentences_that_say_it(assistant):
    sentences = {s.n: s for s in numbered_sentences(assistant.search(QUESTION, k=4))}
    n = next(k for k, s in sentences.items() if "Viliem Vongthisan" in s.text)
    other = next(k for k, s in sentences.items() if "Viliem" not in s.text)
    assert check(Claim("The Lao side was led by Colonel Viliem Vongthisan", (n,)), sentences) >= MIN_SUPPORT
    assert check(Claim("The Lao side was led by Colonel Viliem Vongthisan", (other,)), sentences) < MIN_SUPPORT
    assert check(Claim("The Lao side was led by Colonel Viliem Vongthisan", (999,)), sentences) == 0.0
    assert check(Claim("The Lao side was not led by Colonel Viliem Vongthisan", (n,)), sentences) == 0.0
    assert check(Claim("Colonel Viliem Vongthisan led 40 Lao officers", (n,)), sentences) == 0.0  # a number it does not state
    assert check(Claim("The Lao side was led by Colonel Viliem Vongthisan", ()), sentences) == 0.0


def test_the_server_url_may_be_its_base_its_v1_or_the_endpoint():
    for url in ("http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/chat/completions"):
        assert completions_url(url) == "http://h:1/v1/chat/completions"


# Against the fake server


def test_correct_citations_are_kept_and_quoted_verbatim(assistant, fake):
    def two_claims(messages: Messages) -> Reply:
        n, _ = best_sentence(messages)
        m = next(k for k, s in numbered(messages).items() if "minutes" in s)
        return Reply(f"The Lao side was led by Colonel Viliem Vongthisan [{n}]. The two sides signed the minutes [{m}].")

    fake.script = two_claims
    decision = llm_assistant(assistant, fake.url).decide(QUESTION)
    answer = decision.answer
    assert answer.answerer == "llm" and answer.notice is None and not answer.abstained
    assert answer.answer == "The Lao side was led by Colonel Viliem Vongthisan [1]. The two sides signed the minutes [2]."
    assert "Viliem Vongthisan" in answer.sources[0].quote and "minutes" in answer.sources[1].quote
    assert_quotes_exact(answer, assistant)
    request = fake.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "fake" and request["temperature"] == 0
    assert json.loads(answer.to_json())["answerer"] == "llm"


def test_a_citation_to_a_sentence_that_does_not_exist_is_refused(assistant, fake):
    fake.script = lambda messages: Reply("The Lao side was led by Colonel Viliem Vongthisan [99].")
    answer = llm_assistant(assistant, fake.url).ask(QUESTION)
    extractive = assistant.ask(QUESTION)
    assert answer.answerer == "extractive" and answer.notice and "not supported" in answer.notice
    assert dataclasses.replace(answer, notice=None) == extractive
    assert_quotes_exact(answer, assistant)


def test_a_claim_whose_cited_sentence_says_something_else_is_dropped(assistant, fake):
    def one_good_one_bad(messages: Messages) -> Reply:
        n, _ = best_sentence(messages)
        wrong = wrong_sentence(messages, n)
        return Reply(
            f"The Lao side was led by Colonel Viliem Vongthisan [{n}]. "
            f"Colonel Viliem Vongthisan also commanded the Vietnamese navy in Paris [{wrong}]."
        )

    fake.script = one_good_one_bad
    answer = llm_assistant(assistant, fake.url).ask(QUESTION)
    assert answer.answerer == "llm"
    assert answer.answer == "The Lao side was led by Colonel Viliem Vongthisan [1]."
    assert len(answer.sources) == 1 and "Viliem Vongthisan" in answer.sources[0].quote
    assert answer.notice and answer.notice.startswith("1 of the language model's claims were left out")
    assert_quotes_exact(answer, assistant)


def test_every_claim_misattributed_falls_back_to_the_quoted_answer(assistant, fake):
    fake.script = lambda messages: Reply(f"The Lao side was led by Colonel Viliem Vongthisan [{wrong_sentence(messages, 0)}].")
    answer = llm_assistant(assistant, fake.url).ask(QUESTION)
    assert answer.answerer == "extractive" and answer.notice and "not supported" in answer.notice
    assert "Viliem Vongthisan" in answer.answer


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (Reply(raw="<html>this is no JSON</html>"), "not a chat completion"),
        (Reply(raw=json.dumps({"choices": []})), "not a chat completion"),
        (Reply(""), "an empty reply"),
        (Reply("Colonel Viliem Vongthisan led the Lao side."), "not supported"),  # no citations at all
        (Reply("Colonel Viliem Vongthisan led the Lao side (1)."), "not supported"),  # not our marker format
    ],
)
def test_malformed_output_falls_back_with_a_notice(assistant, fake, reply, said):
    fake.script = lambda messages: reply
    answer = llm_assistant(assistant, fake.url).ask(QUESTION)
    assert answer.answerer == "extractive" and not answer.abstained
    assert answer.notice and said in answer.notice
    assert "Viliem Vongthisan" in answer.answer and answer.sources


def test_a_500_is_retried_then_falls_back(assistant, fake):
    fake.script = lambda messages: Reply(raw="boom", status=500)
    answer = llm_assistant(assistant, fake.url, llm_retries=2).ask(QUESTION)
    assert answer.answerer == "extractive" and answer.notice and "HTTP 500" in answer.notice
    assert len(fake.requests) == 3


def test_a_500_then_a_reply_is_answered(assistant, fake):
    calls: list[int] = []

    def flaky(messages: Messages) -> Reply:
        calls.append(1)
        return Reply(raw="busy", status=503) if len(calls) == 1 else parrot(messages)

    fake.script = flaky
    answer = llm_assistant(assistant, fake.url).ask(QUESTION)
    assert answer.answerer == "llm" and answer.notice is None and len(fake.requests) == 2


def test_a_hang_past_the_timeout_falls_back_in_time(assistant, fake):
    fake.script = lambda messages: Reply(hang=True)
    chosen = llm_assistant(assistant, fake.url, llm_timeout=0.5)
    chosen.open()
    began = time.monotonic()
    answer = chosen.ask(QUESTION)
    assert time.monotonic() - began < 3
    assert answer.answerer == "extractive" and answer.notice and "timed out" in answer.notice
    assert len(fake.requests) == 1  # a timeout is not tried again


def test_a_server_that_is_down_falls_back(assistant):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answer = llm_assistant(assistant, f"http://127.0.0.1:{port}", llm_retries=1).ask(QUESTION)
    assert answer.answerer == "extractive" and answer.notice and "cannot reach" in answer.notice


def test_the_model_is_not_asked_when_the_documents_do_not_answer(assistant, fake):
    answer = llm_assistant(assistant, fake.url).ask(OFF_TOPIC)
    assert answer.abstained and answer.sources == [] and answer.notice is None
    assert fake.requests == []


def test_a_follow_up_reaches_the_model_with_its_conversation(assistant, fake):
    chosen = llm_assistant(assistant, fake.url)
    state = ConversationState()
    chosen.ask("Who co-chaired the fifth defence policy dialogue?", state=state)
    answer = chosen.ask("Where was it held?", state=state)
    prompt = fake.requests[-1]["messages"][-1]["content"]
    assert "Question: Where was it held?" in prompt
    assert "fifth defence policy dialogue" in prompt.split("Question:")[1]
    assert not answer.abstained and answer.sources
    assert_quotes_exact(answer, assistant)


def test_the_api_key_is_sent_as_a_bearer_token(assistant, fake):
    llm_assistant(assistant, fake.url, llm_api_key="s3cret").ask(QUESTION)
    headers = {k.lower(): v for k, v in fake.requests[0]["headers"].items()}
    assert headers["authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(SearchSettings(llm_api_key="s3cret"))


def test_the_llm_answerer_needs_a_server():
    from assistant.answerers import open_answerer

    with pytest.raises(ValueError, match="needs a server"):
        open_answerer(SearchSettings(answerer="llm", llm_url=""))


def test_cli_ask_and_chat_with_llm_url(assistant, fake):
    runner = CliRunner()
    index = str(assistant.index_dir)
    result = runner.invoke(main, ["ask", "--index", index, "--json", "--llm-url", fake.url, "--llm-model", "m", QUESTION])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["answerer"] == "llm" and answer["notice"] is None and "Viliem Vongthisan" in answer["answer"]
    assert fake.requests[-1]["model"] == "m"
    result = runner.invoke(main, ["chat", "--index", index, "--json"], input=f"{QUESTION}\n", env={"ASSISTANT_LLM_URL": fake.url})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[0])["answerer"] == "llm"
    fake.script = lambda messages: Reply(raw="nonsense")
    result = runner.invoke(main, ["ask", "--index", index, "--llm-url", fake.url, QUESTION])
    assert result.exit_code == 0 and "Note: The language model did not answer (not a chat completion)" in result.output
    result = runner.invoke(main, ["ask", "--index", index, "--json", QUESTION], env={"ASSISTANT_LLM_URL": ""})
    assert json.loads(result.output)["answerer"] == "extractive"


@pytest.mark.skipif(
    not os.environ.get("ASSISTANT_LLM_URL"), reason="set ASSISTANT_LLM_URL (and ASSISTANT_LLM_MODEL) to ask a real server"
)
def test_a_real_server_answers_with_verified_citations(assistant):
    settings = SearchSettings(answerer="llm", llm_url=os.environ["ASSISTANT_LLM_URL"], llm_timeout=120)
    answer = Assistant(assistant.index_dir, assistant.corpus_dir, settings).ask(QUESTION)
    assert not answer.abstained and answer.sources
    assert_quotes_exact(answer, assistant)
    assert answer.answerer == "llm" or answer.notice, answer
