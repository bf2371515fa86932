"""Evaluation metrics by hand, and `assistant eval` on the seed QA set."""

import json
import math

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.evaluation import (
    Outcome,
    QAItem,
    load_qa,
    ndcg_at,
    recall_at,
    reciprocal_rank,
    retrieval_metrics,
    span_f1,
    squad_normalise,
)
from assistant.records import Answer, ShortAnswer
from tests.conftest import QA_DIR


def test_recall_and_reciprocal_rank():
    ranking = ["x", "gold", "y"]
    assert [recall_at(ranking, {"gold"}, k) for k in (1, 2, 3)] == [0.0, 1.0, 1.0]
    assert reciprocal_rank(ranking, {"gold"}) == 0.5
    assert reciprocal_rank(ranking, {"absent"}) == 0.0
    assert reciprocal_rank(ranking, {"y"}, k=2) == 0.0  # past the cut-off


def test_ndcg_by_hand():
    # gold at ranks 2 and 3 of two relevant: (1/log2(3) + 1/log2(4)) / (1/log2(2) + 1/log2(3))
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at(["x", "a", "b"], {"a", "b"}) == pytest.approx(expected)
    assert ndcg_at(["a", "x"], {"a"}) == 1.0
    assert ndcg_at(["x"], {"a"}) == 0.0


def test_means_over_questions():
    metrics = retrieval_metrics([(["a"], {"a"}), (["x", "b"], {"b"})])
    assert metrics["recall_at_1"] == 0.5 and metrics["mrr_at_10"] == 0.75 and metrics["recall_at_5"] == 1.0


def test_question_files_are_validated(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"question": "q", "doc_id": ["a.txt", "b.txt"]}\n\n{"question": "r", "unanswerable": true}\n')
    items = load_qa(good)
    assert items[0].doc_ids == ("a.txt", "b.txt") and items[1].unanswerable
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "a"}\nnot json\n')
    result = CliRunner().invoke(main, ["eval", "--qa", str(bad)])
    assert result.exit_code == 1 and "bad.jsonl:2: not a question object" in result.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"question": "q"}\n')
    assert "needs an answer, a doc_id, or unanswerable" in CliRunner().invoke(main, ["eval", "--qa", str(empty)]).output


@pytest.mark.slow
def test_eval_command_on_the_seed_set(seed_index):
    result = CliRunner().invoke(main, ["eval", "--index", str(seed_index), "--json", "--qa", str(QA_DIR / "seed_qa.jsonl")])
    report = json.loads(result.output)
    assert report["questions"] == 54 and report["retrieval"]["questions"] == 40
    assert set(report["retrieval"]) == {"questions", "bm25", "dense", "hybrid"}
    assert report["retrieval"]["hybrid"]["recall_at_5"] == 1.0
    assert report["answers"]["verified_quote_share"] == 1.0
    assert report["answers"]["abstention_recall"] >= 0.9
    text = CliRunner().invoke(main, ["eval", "--index", str(seed_index), "--qa", str(QA_DIR / "seed_qa.jsonl")]).output
    assert "answer accuracy" in text and "hybrid" in text and "short answers" in text and "first source gold" in text


def test_squad_normalisation_and_token_f1():
    assert squad_normalise("The  Denver Broncos!") == ["denver", "broncos"]
    assert span_f1("Denver Broncos", "the Denver Broncos") == 1.0
    assert span_f1("Broncos", "Denver Broncos") == pytest.approx(2 / 3)
    assert span_f1("Carolina", "Denver Broncos") == 0.0


def test_short_answers_are_scored_against_every_gold_answer():
    item = QAItem("Who won?", "Denver Broncos", ("d.txt",), alternatives=("Broncos",))
    short = ShortAnswer("Broncos", "d.txt", 0, 7)
    outcome = Outcome(item, Answer("Who won?", "Broncos — …", False, [], short))
    assert outcome.short_exact and outcome.short_f1 == 1.0
    assert Outcome(item, Answer("Who won?", "…", False, [])).short_f1 == 0.0
