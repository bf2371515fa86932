"""Vietnamese questions over Vietnamese and English articles, end to end through the facade (hashing stand-in:
no model; the multilingual model's runs are in tests/test_multilingual_embedder.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.conversation import ConversationState
from assistant.core import Assistant
from assistant.evaluation import contains_fact, quotes_verified
from tests.fakes import HASHING_EMBEDDER

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bilingual(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The three Vietnamese articles of tests/qa/vi_corpus/ beside the two English seed articles."""
    folder = tmp_path_factory.mktemp("bilingual")
    corpus = folder / "corpus"
    corpus.mkdir()
    for path in [*(ROOT / "tests" / "qa" / "vi_corpus").glob("*.txt"), *(ROOT / "corpus").glob("*.txt")]:
        shutil.copy(path, corpus / path.name)
    assistant = Assistant(folder / "index", corpus)
    assistant.update(embedder=HASHING_EMBEDDER)
    return assistant


def test_each_article_knows_its_language(bilingual):
    languages = {doc_id: record.metadata.get("language") for doc_id, record in bilingual.documents().items()}
    assert languages["hoi-dam-bien-phong-dien-bien-phongsaly.txt"] == "vi"
    assert languages["son-la-luang-prabang-border-meeting.txt"] == "en"


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("Ai là Đồn trưởng Đồn Biên phòng Lao Bảo?", "Lê Văn Thành"),
        ("Lực lượng tuần tra chung đã kiểm tra bao nhiêu cột mốc?", "15"),
        ("Đợt tuần tra chung kéo dài mấy ngày?", "ba"),
    ],
)
def test_vietnamese_questions_get_vietnamese_short_answers_in_verified_quotes(bilingual, question, short):
    decision = bilingual.decide(question)
    answer = decision.answer
    assert answer.short_answer is not None and contains_fact(answer.short_answer.text, short), answer.answer
    assert quotes_verified(answer, decision.documents)


def test_a_question_in_one_language_answered_from_the_other_says_so(bilingual):
    answer = bilingual.ask("Who is Bounmy Sisavath?")
    assert answer.answer.startswith("From an article in Vietnamese: ") and "Bounmy Sisavath" in answer.sources[0].quote
    vietnamese = bilingual.ask("Ai là Viliem Vongthisan?")
    assert vietnamese.answer.startswith("Theo một bài viết bằng tiếng Anh: "), vietnamese.answer


def test_vietnamese_abstentions_and_follow_ups(bilingual):
    refused = bilingual.ask("Thủ đô của Pháp là gì?")  # "Pháp" (France) is not the "pháp" of "pháp luật"
    assert refused.abstained and refused.answer.startswith("Các tài liệu không nói điều này")
    state = ConversationState()
    first = bilingual.ask("Ai là Giám đốc Học viện Biên phòng?", state=state)
    assert contains_fact(first.answer, "Trần Quang Minh")
    follow = bilingual.ask("Khóa học kéo dài bao lâu?", state=state)
    assert contains_fact(follow.answer, "10 tháng"), follow.answer


def test_indexing_vietnamese_articles_with_an_english_model_suggests_the_multilingual_one(tmp_path):
    from click.testing import CliRunner

    from assistant.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "tests" / "qa" / "vi_corpus" / "dao-tao-sinh-vien-quan-su-lao.txt", corpus)
    result = CliRunner().invoke(
        main, ["index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--embedder", HASHING_EMBEDDER]
    )
    assert result.exit_code == 0 and "index with: assistant index --full --model multilingual-e5-small" in result.output
