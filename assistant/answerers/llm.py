"""The `llm` answerer: a local model's fluent answer, kept only where its citations check out.

Opt-in (`--llm-url`, `ASSISTANT_LLM_URL`); the extractive answerer stays the default and is this one's
fallback. Steps, for a question and its retrieved passages:

1. The extractive answerer decides first. If it abstains, that abstention is the answer: the model is
   never asked a question the documents do not answer.
2. The prompt numbers the top passages' sentences, one per line, passages in rank order and sentences in
   document order within a passage, each sentence once (at most `MAX_SENTENCES`)::

       [1] The Son La Border Guard Command met the Luang Prabang Military Command.
       [2] The Lao side was led by Colonel Viliem Vongthisan.

   then the question (a follow-up with the earlier questions it leans on) and the instruction to answer
   in the question's language, only from those sentences, every claim ending with `[n]` citations.
   Whitespace inside a sentence is flattened to one space for its line; the quote stays verbatim.
3. It is sent to an OpenAI-compatible `POST {url}/v1/chat/completions` (temperature 0, not streamed),
   with a bounded timeout; no connection or a 5xx is tried again `llm_retries` times, a timeout is not.
4. The reply is cut into claims: the text before each run of markers (`[2]`, `[1][3]`, `[1, 3]`), one
   sentence or clause each. A claim is kept only if every number it cites was in the prompt and its cited
   sentences support it (`check`): at least `MIN_SUPPORT` of its content words (`textnorm.analyze`: stemmed,
   stop words out) are words of the cited sentences or of the question, and at least `MIN_CITED_SHARE` of
   the cited sentences themselves; every name it writes (a capitalised word after its
   first) is in them or in the question, every number it states is in them, and it is not negated where
   they are not. Text that cites nothing is not kept.
5. The answer is the kept claims, their markers renumbered 1, 2 … in order of first citation; its sources
   are the cited sentences, quoted verbatim with their offsets. If nothing is kept, or the server is down,
   slow or answers garbage, the extractive answer is returned with a short `notice` saying so.

The check is lexical only: a claim written in another language than its sentences (a Vietnamese answer
from English articles) is not supported by it and falls back to the quoted answer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Any

import httpx

from assistant.answerers import Decision, TermStats
from assistant.answerers.extractive import ExtractiveAnswerer
from assistant.languages import language_for
from assistant.question import Question
from assistant.records import Answer, Passage, Source
from assistant.settings import LLM_URL_ENV, SearchSettings
from assistant.textnorm import analyze

MAX_SENTENCES = 40  # the most numbered sentences a prompt holds
MAX_TOKENS = 512  # the longest reply asked for
# Chosen on benchmarks/llm_verification.py (scripted good and bad replies over the seed corpus).
MIN_SUPPORT = 0.6  # the least share of a claim's content words found in its cited sentences
MIN_CITED_SHARE = 0.4  # ... and the least share found in the cited sentences themselves, not the question
RETRY_PAUSE = 0.25  # seconds before the first retry, doubled for each next one

SYSTEM = (
    "You answer questions about a set of documents using only the numbered sentences you are given. "
    "Every claim you make must end with the numbers of the sentences that state it, in square brackets, "
    "like [2] or [1][3]. Do not use any other knowledge. Keep the answer short: one to three sentences."
)
MARKS = re.compile(r"(?:\s*\[\s*\d+(?:\s*,\s*\d+)*\s*\])+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|không|chưa|chẳng)\b|n't", re.IGNORECASE)
THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|\s*\n\s*")

NOTICES = {
    "en": {
        "unsupported": (
            "The language model's answer was not supported by the sentences it cited; the quoted answer is shown instead."
        ),
        "partial": "{count} of the language model's claims were left out: the sentences they cited do not say so.",
        "unavailable": "The language model did not answer ({reason}); the quoted answer is shown instead.",
    },
    "vi": {
        "unsupported": (
            "Câu trả lời của mô hình ngôn ngữ không được các câu nó trích dẫn xác nhận; "
            "câu trả lời trích dẫn được hiển thị thay thế."
        ),
        "partial": "{count} nhận định của mô hình ngôn ngữ đã bị bỏ: các câu được trích dẫn không nói như vậy.",
        "unavailable": "Mô hình ngôn ngữ không trả lời ({reason}); câu trả lời trích dẫn được hiển thị thay thế.",
    },
}


def notice(language: str, kind: str, **values: object) -> str:
    return NOTICES.get(language, NOTICES["en"])[kind].format(**values)


class ModelUnavailable(Exception):
    """The server could not be reached, timed out, failed, or sent something that is not a chat completion."""


@dataclass(frozen=True)
class Numbered:
    """A sentence as the prompt numbers it: its passage and its offsets in the passage's document."""

    n: int
    passage: Passage
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.passage.document.text[self.start : self.end]


@dataclass(frozen=True)
class Claim:
    """A piece of the model's reply and the sentence numbers it cites (none: an uncited claim)."""

    text: str
    cites: tuple[int, ...]
    punctuation: str = ""  # what followed its markers: "." or ","


def numbered_sentences(passages: list[Passage], limit: int = MAX_SENTENCES) -> list[Numbered]:
    """The passages' sentences numbered from 1: passages in rank order, each sentence once."""
    seen: set[tuple[str, int, int]] = set()
    numbered: list[Numbered] = []
    for passage in passages:
        for start, end in passage.chunk.sentences:
            key = (passage.document.doc_id, start, end)
            if key in seen:
                continue
            seen.add(key)
            numbered.append(Numbered(len(numbered) + 1, passage, start, end))
            if len(numbered) == limit:
                return numbered
    return numbered


def prompt_messages(question: Question, sentences: list[Numbered]) -> list[dict[str, str]]:
    """The chat messages: the system's rules, then the numbered sentences, the question and the instruction."""
    lines = "\n".join(f"[{s.n}] {' '.join(s.text.split())}" for s in sentences)
    language = language_for("en").language_names.get(question.language, question.language)
    asked = f"Question: {question.text.strip()}"
    if question.follow_up and question.context:
        asked += f"\n(A follow-up; the conversation so far asked: {question.context})"
    user = (
        f"Sentences:\n{lines}\n\n{asked}\n\n"
        f"Answer in {language}, using only the sentences above. End every claim with the numbers of the "
        "sentences that support it, like [1] or [2][3]."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_claims(reply: str) -> list[Claim]:
    """The claims of a reply, in order: the text before each run of citation markers, one sentence or
    clause each; a sentence before it in the same stretch, and text after the last markers, cite nothing."""
    reply = THINKING.sub(" ", reply)
    claims: list[Claim] = []
    position = 0
    for marks in MARKS.finditer(reply):
        stretch = reply[position : marks.start()]
        after = reply[marks.end() : marks.end() + 1]
        punctuation = after if after in {".", ",", ";", "!", "?"} else ""
        position = marks.end() + len(punctuation)
        pieces = [p for p in (_clean(s) for s in SENTENCE_END.split(stretch)) if p]
        if not pieces:
            continue
        claims += [Claim(p, ()) for p in pieces[:-1]]
        cites = tuple(int(n) for n in re.findall(r"\d+", marks.group()))
        claims.append(Claim(pieces[-1], tuple(dict.fromkeys(cites)), punctuation))
    claims += [Claim(p, ()) for p in (_clean(s) for s in SENTENCE_END.split(reply[position:])) if p]
    return [c for c in claims if c.cites or (analyze(c.text).words and not c.text.endswith(":"))]


def _clean(text: str) -> str:
    """A piece of reply without the punctuation, bullets or list numbers around it."""
    return re.sub(r"^(?:[\s.,;:!?)\-*•]+|\d+[.)]\s+)+", "", text).strip()


def check(claim: Claim, sentences: dict[int, Numbered], question: Question | None = None) -> float:
    """How well the cited sentences support the claim: the share of its content words they (or the question,
    which the claim may restate) hold, or 0
    when it cites nothing or a number not in the prompt, names someone or something (a capitalised word
    after its first) that neither they nor the question name, states a number they do not, or is negated
    where they are not."""
    if not claim.cites or any(n not in sentences for n in claim.cites):
        return 0.0
    cited_text = " ".join(sentences[n].text for n in claim.cites)
    analyzed, cited = analyze(claim.text), analyze(cited_text)
    words = set(analyzed.words)
    if not words:
        return 0.0
    known = set(cited.words) | set(cited.compounds) | set(question.terms if question else ())
    names = {w for w, capital, at in zip(analyzed.words, analyzed.capitalized, analyzed.starts, strict=True) if capital and at}
    if not names <= known:
        return 0.0
    if not {_number(n) for n in NUMBER.findall(claim.text)} <= {_number(n) for n in NUMBER.findall(cited_text)}:
        return 0.0
    if NEGATION.search(claim.text) and not NEGATION.search(cited_text):
        return 0.0
    own = len(words & set(cited.words)) / len(words)
    if own < MIN_CITED_SHARE:  # the question's words alone vouch for nothing
        return 0.0
    return len(words & (set(cited.words) | set(question.words if question else ()))) / len(words)


def _number(text: str) -> str:
    return text.replace(",", "").rstrip(".")


def completions_url(url: str) -> str:
    """The chat-completions endpoint of a server given by its base (`http://host:11434`), its `/v1`, or itself."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return f"{url}/chat/completions" if url.endswith("/v1") else f"{url}/v1/chat/completions"


class ChatClient:
    """One OpenAI-compatible chat-completions server, called with a bounded timeout and bounded retries."""

    def __init__(self, url: str, model: str, api_key: str = "", timeout: float = 60.0, retries: int = 1) -> None:
        self.url = completions_url(url)
        self.model = model
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), headers=headers)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The reply's text; ModelUnavailable (with a short reason) when there is none to be had."""
        body = {"model": self.model or "default", "messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS}
        reason = "no reply"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(RETRY_PAUSE * 2 ** (attempt - 1))
            try:
                response = self.http.post(self.url, json=body)
            except httpx.TimeoutException:
                raise ModelUnavailable("timed out") from None
            except httpx.HTTPError as error:
                reason = f"cannot reach {self.url}: {type(error).__name__}"
                continue
            if response.status_code >= 500:
                reason = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise ModelUnavailable(f"HTTP {response.status_code}")
            return _reply_text(response)
        raise ModelUnavailable(reason)

    def close(self) -> None:
        self.http.close()


def _reply_text(response: httpx.Response) -> str:
    try:
        data: Any = response.json()
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ModelUnavailable("not a chat completion") from None
    if not isinstance(text, str) or not text.strip():
        raise ModelUnavailable("an empty reply")
    return text


class LLMAnswerer:
    """The extractive answer's evidence, a model's words: each claim kept only where its citations say so."""

    name = "llm"

    def __init__(self, settings: SearchSettings) -> None:
        if not settings.llm_url:
            raise ValueError(
                f"the llm answerer needs a server: give --llm-url or set {LLM_URL_ENV} (e.g. http://127.0.0.1:11434/v1)"
            )
        self.settings = settings
        self.extractive = ExtractiveAnswerer(settings)
        self.client = ChatClient(
            settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout, settings.llm_retries
        )

    def decide(self, question: Question, passages: list[Passage], stats: TermStats) -> Decision:
        fallback = self.extractive.decide(question, passages, stats)
        if fallback.answer.abstained:
            return fallback  # abstention is ours: the model is not asked
        sentences = numbered_sentences(passages)
        try:
            reply = self.client.complete(prompt_messages(question, sentences))
        except ModelUnavailable as error:
            return _with_notice(fallback, notice(question.language, "unavailable", reason=str(error)))
        answer = verified_answer(question, fallback.answer, reply, sentences)
        return replace(fallback, answer=answer)


def _with_notice(decision: Decision, said: str) -> Decision:
    return replace(decision, answer=replace(decision.answer, notice=said))


def verified_answer(question: Question, extractive: Answer, reply: str, sentences: list[Numbered]) -> Answer:
    """The answer of the reply's supported claims, with their cited sentences as sources; the extractive
    answer with a notice when none is supported."""
    by_number = {s.n: s for s in sentences}
    claims = parse_claims(reply)
    kept = [c for c in claims if check(c, by_number, question) >= MIN_SUPPORT]
    if not kept:
        return replace(extractive, notice=notice(question.language, "unsupported"))
    renumbered = {n: i for i, n in enumerate(dict.fromkeys(n for c in kept for n in c.cites), start=1)}
    parts = []
    for at, claim in enumerate(kept):
        body, end = re.fullmatch(r"(.*?)([.!?]*)", claim.text, re.DOTALL).groups()  # type: ignore[union-attr]
        punctuation = claim.punctuation or end
        if at == len(kept) - 1 and punctuation not in {".", "!", "?"}:
            punctuation = "."
        marks = "".join(f"[{renumbered[n]}]" for n in claim.cites)
        parts.append(f"{body.rstrip(' ,;:')} {marks}{punctuation}")
    sources = [_source(by_number[n], i) for n, i in renumbered.items()]
    short = extractive.short_answer
    if short is not None and not any(s.doc_id == short.doc_id and s.start <= short.start < short.end <= s.end for s in sources):
        short = None
    dropped = len(claims) - len(kept)
    return Answer(
        question=question.text,
        answer=" ".join(parts),
        abstained=False,
        sources=sources,
        short_answer=short,
        answerer="llm",
        notice=notice(question.language, "partial", count=dropped) if dropped else None,
    )


def _source(sentence: Numbered, n: int) -> Source:
    return Source.of(n, sentence.passage.document, sentence.start, sentence.end, sentence.passage.score)
