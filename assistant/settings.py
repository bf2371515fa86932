"""Settings as plain dataclasses, validated when made, and the defaults every face shares.

`IndexSettings` shape what is stored, so the manifest records them and a
query uses the ones the index was built with. `SearchSettings` only shape
how an index is queried and answered from.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Only variants that rank_bm25 computes identically (its BM25L multiplies by the raw
# term frequency, unlike the paper's, so BM25L is not offered).
BM25_METHODS = ("okapi", "bm25+")
FUSION_METHODS = ("weighted", "rrf")
# The longest question any face accepts, in characters: a question is a sentence or two, and a
# megabyte of "question" would only tie up the analyser and the model.
MAX_QUESTION_CHARS = 2_000

# Where the corpus and the index live unless told otherwise: the CLI, the web app and the
# library all read these, so the folders are named once.
CORPUS_ENV, INDEX_ENV = "ASSISTANT_CORPUS", "ASSISTANT_INDEX"
DEFAULT_CORPUS, DEFAULT_INDEX = "corpus", "index"
BACKEND_ENV = "ASSISTANT_BACKEND"
DEFAULT_BACKEND = "local"
DEFAULT_ANSWERER = "extractive"
SHORT_ANSWERS_ENV = "ASSISTANT_SHORT_ANSWERS"
DEFAULT_SHORT_ANSWERS = "model"


# The `llm` answerer's server: any OpenAI-compatible chat-completions endpoint (Ollama, llama.cpp's server, vLLM).
LLM_URL_ENV, LLM_MODEL_ENV, LLM_API_KEY_ENV = "ASSISTANT_LLM_URL", "ASSISTANT_LLM_MODEL", "ASSISTANT_LLM_API_KEY"


def _env(name: str) -> str:
    return os.environ.get(name, "")


def default_short_answers() -> str:
    """The short-answer finder: the trained span model unless ASSISTANT_SHORT_ANSWERS names another ("rules")."""
    return os.environ.get(SHORT_ANSWERS_ENV, DEFAULT_SHORT_ANSWERS)


def default_corpus_dir() -> Path:
    return Path(os.environ.get(CORPUS_ENV, DEFAULT_CORPUS))


def default_index_dir() -> Path:
    return Path(os.environ.get(INDEX_ENV, DEFAULT_INDEX))


def default_backend() -> str:
    return os.environ.get(BACKEND_ENV, DEFAULT_BACKEND)


# The `milvus` backend's server: where it is, the token it wants (user:password, or an API key), the
# database, and the prefix of every collection the assistant makes there (several indexes can share one server).
MILVUS_URI_ENV, MILVUS_TOKEN_ENV = "ASSISTANT_MILVUS_URI", "ASSISTANT_MILVUS_TOKEN"
MILVUS_DB_ENV, MILVUS_PREFIX_ENV = "ASSISTANT_MILVUS_DB", "ASSISTANT_MILVUS_PREFIX"
DEFAULT_MILVUS_URI, DEFAULT_MILVUS_PREFIX = "http://127.0.0.1:19530", "assistant"


@dataclass(frozen=True)
class MilvusSettings:
    uri: str = DEFAULT_MILVUS_URI
    token: str = field(default="", repr=False)  # never printed: it is a password
    database: str = ""  # the server's default database
    prefix: str = DEFAULT_MILVUS_PREFIX

    def __post_init__(self) -> None:
        # Collection names allow letters, digits and underscores; ours append "_" and up to 24 more.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,199}", self.prefix):
            raise ValueError(f"invalid Milvus collection prefix {self.prefix!r}: use letters, digits and underscores")
        if not self.uri:
            raise ValueError("the Milvus URI is empty; set ASSISTANT_MILVUS_URI, e.g. http://127.0.0.1:19530")

    @classmethod
    def from_env(cls) -> MilvusSettings:
        return cls(
            uri=os.environ.get(MILVUS_URI_ENV, DEFAULT_MILVUS_URI),
            token=os.environ.get(MILVUS_TOKEN_ENV, ""),
            database=os.environ.get(MILVUS_DB_ENV, ""),
            prefix=os.environ.get(MILVUS_PREFIX_ENV, DEFAULT_MILVUS_PREFIX),
        )


def _choice(kind: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {kind} {value!r}; choose from {', '.join(valid)}")


@dataclass(frozen=True)
class BM25Params:
    method: str = "bm25+"
    k1: float = 1.2
    b: float = 0.75
    delta: float = 1.0

    def __post_init__(self) -> None:
        _choice("BM25 method", self.method, BM25_METHODS)
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError("BM25 needs k1 >= 0 and 0 <= b <= 1")


@dataclass(frozen=True)
class IndexSettings:
    model: str = DEFAULT_MODEL
    chunk_words: int = 120
    overlap_sentences: int = 1
    bm25: BM25Params = field(default_factory=BM25Params)
    batch_size: int = 32
    embedder: str = "onnx"  # same vectors as "torch", 3x faster per question, no torch import (README, "A faster embedder")

    def __post_init__(self) -> None:
        from assistant.embedders import embedder_names

        _choice("embedder", self.embedder, embedder_names())
        if self.chunk_words < 10:
            raise ValueError("chunk_words must be at least 10")
        if self.overlap_sentences < 0:
            raise ValueError("overlap_sentences must be 0 or more")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexSettings:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["bm25"] = BM25Params(**values.get("bm25", {}))
        # Manifests before the embedder seam called it "backend"; before that setting, PyTorch embedded everything.
        values.setdefault("embedder", data.get("backend", "torch"))
        return cls(**values)


@dataclass(frozen=True)
class EvidenceWeights:
    """How the extractive answerer weighs the evidence for answering (see answerers.extractive.Evidence)."""

    dense: float = 1.0  # times the best sentence's cosine similarity
    wrong_kind: float = 0.25  # a "when" question whose best sentence holds no time
    missing_name: float = 0.25  # per name of the question not written in the passage
    unknown_name: float = 0.5  # more per such name that no indexed article holds
    # Measured, not shipped (README, "Near-misses"). unstated_kind 0.25 costs 1.8 % more of SQuAD's answerable
    # questions for no gain on removed articles'. unknown_word 0.25 refuses 15 of the 30 tuning near-misses
    # instead of 4, but on the held-back checks it lost one seed answer ("… want to build?": no article says
    # "want") and 1.5 % more SQuAD answers; it waits for a general list of words that only frame a question.
    unstated_kind: float = 0.0  # a "when" question whose best sentence has no date but the question's own
    unknown_word: float = 0.0  # per topic word of the question that no indexed article uses ("population")
    # A follow-up's coverage is lifted by the earlier turns' words, so "How old is he?" after a question about
    # a man finds his sentence; unless that sentence states an age, the documents do not say.
    unstated_kind_follow_up: float = 1.0
    # The span model's doubt that the best sentence holds the answer at all (it learnt "not here" from windows
    # without the answer). On the SQuAD tuning half: 94.2 % of removed-article questions refused at ≤ 5 % loss
    # (threshold 0.834) against 91.5 %; seed near-misses (tuning third) refused 14 / 30 against 4 / 30.
    unsure_span: float = 0.5  # times (1 − the finder's confidence in the best sentence's span)


@dataclass(frozen=True)
class ChoiceWeights:
    """How the extractive answerer ranks the sentences of the retrieved passages (answerers.extractive.candidates),
    beside the idf-weighted share of the question's words a sentence holds."""

    # Chosen on the SQuAD tuning half (benchmarks/levers.py, "choice"): the first source is the gold paragraph
    # for 0.826 of questions (retrieval R@1 0.828) against 0.80 with words, kind and a 0.15 passage weight alone.
    similarity: float = 1.0  # times the question's similarity to the sentence (the index's sentence vectors)
    passage: float = 1.5  # times the passage's fused score, relative to the best passage's
    kind: float = 0.2  # when the sentence holds the kind of fact asked for (a date for "when", …)
    # Chosen on the span model's four validation articles (benchmarks/span_levers.py, 715 questions): short-answer
    # F1 0.575 and first source gold 0.873 against 0.555 / 0.867 reading the best sentence alone, and 0.584 /
    # 0.869 reading three (a third more model time for under a point); a confidence floor of 0.2 instead of
    # one half gives 1 % more short answers, most of them wrong.
    span_sentences: int = 2  # the best sentences the short-answer finder reads
    span_lead: float = 0.35  # how much surer of its span a lower sentence must be to be quoted first (1: never)
    span_confidence: float = 0.5  # the least confidence for a short answer


@dataclass(frozen=True)
class SearchSettings:
    fusion: str = "weighted"
    dense_weight: float = 0.6
    rrf_k: int = 60
    candidates: int = 50  # taken from each retriever before fusion
    answer_passages: int = 4  # top passages whose sentences may be quoted
    answer_max_words: int = 60
    min_evidence: float = 0.834  # abstain below this evidence score (calibrated on the SQuAD tuning half)
    evidence: EvidenceWeights = field(default_factory=EvidenceWeights)
    choice: ChoiceWeights = field(default_factory=ChoiceWeights)
    answerer: str = DEFAULT_ANSWERER
    short_answers: str = field(default_factory=default_short_answers)  # "model" or "rules" (answerers/spans.py)
    # The `llm` answerer (answerers/llm.py): where its server is, which model, its key; how long one call may take,
    # and how many times a failed call (no connection, a 5xx) is tried again. A timeout is not tried again.
    llm_url: str = field(default_factory=lambda: _env(LLM_URL_ENV))
    llm_model: str = field(default_factory=lambda: _env(LLM_MODEL_ENV))
    llm_api_key: str = field(default_factory=lambda: _env(LLM_API_KEY_ENV), repr=False)  # never printed
    llm_timeout: float = 60.0
    llm_retries: int = 1

    def __post_init__(self) -> None:
        from assistant.answerers import answerer_names
        from assistant.answerers.spans import SPAN_FINDERS

        _choice("fusion", self.fusion, FUSION_METHODS)
        _choice("answerer", self.answerer, answerer_names())
        _choice("short-answer finder", self.short_answers, SPAN_FINDERS.names())
        if not 0 <= self.dense_weight <= 1:
            raise ValueError("dense_weight must be between 0 and 1")
        if self.candidates < 1 or self.answer_passages < 1:
            raise ValueError("candidates and answer_passages must be at least 1")
        if self.llm_timeout <= 0 or self.llm_retries < 0:
            raise ValueError("llm_timeout must be positive and llm_retries 0 or more")
