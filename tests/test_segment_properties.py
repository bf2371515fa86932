"""Properties of the pure text stages on arbitrary Unicode (hypothesis), and splitting in linear time.

Normalising, paragraph and sentence splitting and chunking never lose or reorder characters (white space
trimmed at the edges of a span aside), and every offset slices the text it was computed on, also once the
index has recorded it. Example counts stay modest: these run in the fast tier.
"""

from __future__ import annotations

import itertools
import re
import resource
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.backends.local.tables import ChunkTable
from assistant.records import Chunk
from assistant.segment import Span, chunk_text, split_paragraphs, split_sentences
from assistant.textnorm import analyze, fold

ROOT = Path(__file__).resolve().parent.parent
FEW = settings(max_examples=30, deadline=None)

# Pieces that make the splitter decide something (sentence ends, abbreviations, initials, list items,
# headings, blank lines, Unicode white space), mixed with arbitrary text.
PIECES = st.sampled_from(
    [
        "Lao", "Việt Nam", "Gen.", "Lt.", "U.S.", "e.g.", "a.m.", "V.", "3.5", "đ", "(x)", "“quote.”", "He left!",
        "Why?", "…", "...", ". ", "! ", "? ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\n \n", "\n- ", "\n1. ",
        "\n# ", "# ", "\n> ", "\u00a0", "\u2028", "\u2029", "\u3000", "\x0b", "\x1c", "e\u0301", "ﬁ", "Ｌａｏ", "ß",
    ]
)  # fmt: skip
TEXTS = st.lists(PIECES | st.text(max_size=8), max_size=40).map("".join) | st.text(max_size=120)


def non_space(text: str) -> str:
    return "".join(text.split())


def assert_trimmed_in_order(text: str, spans: list[Span], start: int, end: int) -> None:
    """Spans are non-empty, trimmed, in order and inside [start, end); what lies between them is white space."""
    cursor = start
    for begin, stop in spans:
        assert cursor <= begin < stop <= end
        piece = text[begin:stop]
        assert piece == piece.strip()
        assert not text[cursor:begin].strip()  # nothing but white space is left out
        cursor = stop
    assert not text[cursor:end].strip()


@FEW
@given(TEXTS, st.integers(0, 5))
def test_paragraphs_keep_every_character_but_the_white_space_between(text, skip):
    start = min(skip, len(text))
    paragraphs = split_paragraphs(text, start)
    assert_trimmed_in_order(text, paragraphs, start, len(text))
    assert non_space("".join(text[s:e] for s, e in paragraphs)) == non_space(text[start:])


@FEW
@given(TEXTS)
def test_sentences_keep_every_character_of_their_paragraph_in_order(text):
    for paragraph in split_paragraphs(text):
        sentences = split_sentences(text, *paragraph)
        assert_trimmed_in_order(text, sentences, *paragraph)
        assert non_space("".join(text[s:e] for s, e in sentences)) == non_space(text[slice(*paragraph)])


@FEW
@given(TEXTS, TEXTS, TEXTS)
def test_sentences_depend_on_their_paragraph_alone(before, paragraph, after):
    text = before + paragraph + after
    shift = len(before)
    alone = split_sentences(paragraph, 0, len(paragraph))
    assert split_sentences(text, shift, shift + len(paragraph)) == [(s + shift, e + shift) for s, e in alone]


@FEW
@given(TEXTS, st.integers(1, 30), st.integers(0, 3), st.integers(0, 5))
def test_chunks_are_the_sentences_in_order_and_the_index_records_them_as_they_are(text, max_words, overlap, skip):
    start = min(skip, len(text))
    chunks = chunk_text(text, max_words, overlap, start)
    sentences = [s for p in split_paragraphs(text, start) for s in split_sentences(text, *p)]
    assert list(dict.fromkeys(s for c in chunks for s in c.sentences)) == sentences  # none lost, none reordered
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start and before.end < after.end
        shared = set(before.sentences) & set(after.sentences)
        assert len(shared) <= overlap and all(s in after.sentences[: len(shared)] for s in shared)
    records = [Chunk(i, "doc", c.start, c.end, c.sentences) for i, c in enumerate(chunks)]
    table = ChunkTable.from_chunks(records, ["doc"])
    assert list(table) == records  # what the index stores slices the same text
    for chunk in table:
        assert start <= chunk.start and text[chunk.start : chunk.end].strip() == text[chunk.start : chunk.end]


@FEW
@given(st.lists(st.text().filter(lambda w: not any(c.isspace() for c in w)), max_size=6))
def test_folding_keeps_words_apart_and_in_order(words):
    assert fold(" ".join(words)) == " ".join(fold(w) for w in words)


@FEW
@given(TEXTS, TEXTS)
def test_analysed_words_keep_their_order_and_point_into_the_text(first, second):
    analysed = analyze(first + " " + second)
    assert analysed.words == analyze(first).words + analyze(second).words  # nothing lost or moved across a space
    normalized = unicodedata.normalize("NFKC", first + " " + second)
    assert analysed.starts == sorted(set(analysed.starts))
    for start in analysed.starts:
        assert re.match(r"[^\W_]", normalized[start]) and not (start and re.match(r"[^\W_]", normalized[start - 1]))


def _cpu_limit() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))


@pytest.mark.slow
def test_a_long_single_paragraph_is_split_in_linear_time():
    """2 MB of one paragraph: seconds when linear; about half an hour with the old quadratic splitter,
    which the CPU limit stops. A bound to catch a regression to quadratic, never a measured timing."""
    script = (
        "from pathlib import Path; from assistant.segment import chunk_text\n"
        "text = ' '.join(' '.join(p.read_text(encoding='utf-8').split()) for p in sorted(Path('corpus').glob('*.txt')))\n"
        "text = (text + ' ') * (2_000_000 // len(text) + 1)\n"
        "print(len(chunk_text(text, 120, 1)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600, preexec_fn=_cpu_limit
    )
    assert done.returncode == 0, f"killed or failed ({done.returncode}): {done.stderr[-500:]}"
    assert int(done.stdout) > 3000
