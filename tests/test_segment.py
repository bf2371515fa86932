import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.segment import chunk_text, count_words, split_paragraphs, split_sentences


def sentences_of(text: str) -> list[str]:
    return [text[s:e] for p in split_paragraphs(text) for s, e in split_sentences(text, *p)]


def test_titles_and_abbreviations_do_not_end_sentences():
    text = "Lt. Gen. Vongkham met Mr. A. B. Smith of the U.S. on Mar. 3. It was 3.5 km away. He left!"
    assert sentences_of(text) == [
        "Lt. Gen. Vongkham met Mr. A. B. Smith of the U.S. on Mar. 3.",
        "It was 3.5 km away.",
        "He left!",
    ]


def test_quotes_and_brackets_stay_with_their_sentence():
    text = 'He said "We agree." Then (they left.) Done'
    assert sentences_of(text) == ['He said "We agree."', "Then (they left.)", "Done"]


def test_lower_case_continuation_is_not_a_new_sentence():
    assert sentences_of("They met at 10 a.m. and talked. Next.") == ["They met at 10 a.m. and talked.", "Next."]


def test_paragraphs_headings_and_list_items_are_separate():
    text = "# The meeting\n\nLine one of a paragraph\ncontinues here. Second.\n\n- first item\n- second item\n"
    assert sentences_of(text) == [
        "# The meeting",
        "Line one of a paragraph\ncontinues here.",
        "Second.",
        "- first item",
        "- second item",
    ]


def test_a_line_without_full_stop_is_its_own_sentence_between_blank_lines():
    text = "First sentence.\n\nAn overview of the event\n\nAt the event, they met."
    assert sentences_of(text) == ["First sentence.", "An overview of the event", "At the event, they met."]


def test_chunks_respect_size_and_overlap():
    text = " ".join(f"Sentence number {i} has five words." for i in range(20))
    chunks = chunk_text(text, max_words=20, overlap_sentences=1)
    assert all(count_words(text[c.start : c.end]) <= 20 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.sentences[0] == before.sentences[-1]  # one sentence of overlap
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_a_sentence_longer_than_the_chunk_size_is_kept_whole():
    long = "Word " + "word " * 50 + "end."
    text = f"Short one. {long} Short two."
    chunks = chunk_text(text, max_words=10, overlap_sentences=1)
    assert any(text[c.start : c.end].strip() == long.strip() for c in chunks)


def test_chunk_prefers_to_end_at_a_paragraph():
    first = "Alpha beta gamma delta epsilon. Zeta eta theta iota kappa."
    second = "Lambda mu nu xi omicron. Pi rho sigma tau upsilon."
    text = f"{first}\n\n{second}"
    chunks = chunk_text(text, max_words=16, overlap_sentences=0)
    assert [text[c.start : c.end] for c in chunks] == [first, second]


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match="max_words"):
        chunk_text("A sentence.", max_words=0, overlap_sentences=0)
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("A sentence.", max_words=10, overlap_sentences=-1)


WORDS = st.sampled_from(["Lao", "Việt", "Nam", "border", "Gen.", "U.S.", "3.5", "đ", "meeting", "a.m.", "(x)", "“quote”"])
SEPARATORS = st.sampled_from([" ", " ", " ", ". ", "! ", "? ", "\n", "\n\n", ".\n\n", "\r\n", " \t"])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), max_size=80).map(lambda pairs: "".join(w + s for w, s in pairs))


@settings(max_examples=300, deadline=None)
@given(TEXTS | st.text(max_size=300), st.integers(1, 40), st.integers(0, 3))
def test_spans_index_the_original_text(text, max_words, overlap):
    chunks = chunk_text(text, max_words, overlap)
    sentences = sorted({s for c in chunks for s in c.sentences})
    for start, end in sentences:
        piece = text[start:end]
        assert piece and piece == piece.strip()
    # sentences are disjoint, in order, and together hold every non-space character
    for (_, end), (start, _) in itertools.pairwise(sentences):
        assert end <= start
    covered = "".join(text[s:e] for s, e in sentences)
    assert "".join(covered.split()) == "".join(text.split())
    for chunk in chunks:
        assert (chunk.start, chunk.end) == (chunk.sentences[0][0], chunk.sentences[-1][1])
        assert len(chunk.sentences) == 1 or count_words(text[chunk.start : chunk.end]) <= max_words
