"""Paragraphs, sentences and chunks as character spans of a document's text.

Everything here returns offsets into the original string and never rewrites
text, so any quote built from these spans is `text[start:end]`. Every step
looks at each character a bounded number of times, so the time grows linearly
with the text however long its paragraphs are: splitting runs while the
writer's lock is held, and one large file must not hold it for hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Span = tuple[int, int]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# Only from the start of a run of terminal punctuation, and never giving back what it took: otherwise a
# long run not followed by white space is tried again from each of its characters (quadratic).
_SENTENCE_END = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s|$)")
_LINE_START_BLOCK = re.compile(r"\n[ \t]*(?:[-*+•]\s|\d{1,3}[.)]\s|#{1,6}\s|>\s)")
_HEADING_LINE = re.compile(r"^[ \t]*#{1,6}\s[^\n]*$", re.MULTILINE)
_NEXT_CHAR = re.compile(r"\s*(\S)")
_WORDS = re.compile(r"\S+")

# Abbreviations after which a full stop does not end a sentence: ranks and
# titles are everywhere in defence news ("Lt. Gen. Vongkham").
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft gen lt col maj capt cpt cmdr adm brig sgt cpl pvt
    gov sen rep pres vs etc e.g i.e eg ie no nos vol fig figs inc ltd co corp dept univ
    jan feb mar apr jun jul aug sep sept oct nov dec approx est al
    """.split()
)


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk's extent and the sentences it is made of, all as document offsets."""

    start: int
    end: int
    sentences: tuple[Span, ...]


def count_words(text: str) -> int:
    return len(_WORDS.findall(text))


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def split_paragraphs(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Blocks of text separated by blank lines, trimmed of surrounding white space."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        if (span := _trim(text, cursor, match.start())) is not None:
            spans.append(span)
        cursor = match.end()
    if (span := _trim(text, cursor, end)) is not None:
        spans.append(span)
    return spans


def _last_word(paragraph: str, stop: int) -> str:
    """The run of non-space characters that ends at `stop`, found by scanning back over it alone.

    A regular expression anchored at `stop` would be tried from every character before it, which made
    splitting a long paragraph quadratic (a 400 KB one took 71 s).
    """
    begin = stop
    while begin > 0 and not paragraph[begin - 1].isspace():
        begin -= 1
    return paragraph[begin:stop]


def _is_abbreviation(paragraph: str, stop: int) -> bool:
    """True if the full stop at `stop` closes an abbreviation or an initial, not a sentence."""
    if paragraph[stop] != ".":
        return False
    word = _last_word(paragraph, stop).lstrip("(\"'“‘[").lower()
    if not word:
        return False
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "Ca V. Lap"
    return word in ABBREVIATIONS or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def split_sentences(text: str, start: int, end: int) -> list[Span]:
    """Sentences of the paragraph `text[start:end]`.

    A sentence ends at terminal punctuation followed by white space, unless the
    full stop closes an abbreviation or the next word starts in lower case; a
    list item or heading on its own line is a sentence of its own.
    """
    paragraph = text[start:end]  # what decides the cuts is the paragraph alone, never the text around it
    cuts: set[int] = set()
    for match in _SENTENCE_END.finditer(paragraph):
        if _is_abbreviation(paragraph, match.start()):
            continue
        following = _NEXT_CHAR.match(paragraph, match.end())
        if following and following.group(1).islower():
            continue
        cuts.add(match.end())
    for match in _LINE_START_BLOCK.finditer(paragraph):
        cuts.add(match.start())
    for line in _HEADING_LINE.finditer(paragraph):
        cuts.add(line.end())
    spans: list[Span] = []
    cursor = 0
    for cut in [*sorted(cuts), len(paragraph)]:
        if (span := _trim(paragraph, cursor, cut)) is not None:
            spans.append((start + span[0], start + span[1]))
        cursor = cut
    return spans


def chunk_sentences(
    text: str,
    paragraphs: list[list[Span]],
    max_words: int,
    overlap_sentences: int,
) -> list[ChunkSpan]:
    """Pack whole sentences into chunks of at most `max_words` words.

    A chunk prefers to end where a paragraph ends once it is at least half
    full, and starts with the last `overlap_sentences` sentences of the chunk
    before it. A single sentence longer than `max_words` is a chunk of its own:
    nothing is ever cut inside a sentence.
    """
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    if overlap_sentences < 0:
        raise ValueError("overlap_sentences must be 0 or more")
    chunks: list[ChunkSpan] = []
    current: list[Span] = []
    words = 0
    fresh = 0  # sentences in `current` that no earlier chunk holds

    def emit() -> None:
        nonlocal current, words, fresh
        chunks.append(ChunkSpan(current[0][0], current[-1][1], tuple(current)))
        keep = current[len(current) - min(overlap_sentences, len(current) - 1) :] if overlap_sentences else []
        current = list(keep)
        words = sum(count_words(text[s:e]) for s, e in current)
        fresh = 0

    for paragraph in paragraphs:
        if fresh and words >= max_words / 2:
            emit()
        for sentence in paragraph:
            size = count_words(text[sentence[0] : sentence[1]])
            while current and words + size > max_words:
                if fresh:
                    emit()
                else:
                    current.pop(0)  # overlap alone does not fit beside this sentence
                    words = sum(count_words(text[s:e]) for s, e in current)
            current.append(sentence)
            words += size
            fresh += 1
    if fresh:
        emit()
    return chunks


def chunk_text(text: str, max_words: int, overlap_sentences: int, start: int = 0) -> list[ChunkSpan]:
    """Sentence- and paragraph-aware chunks of `text[start:]`."""
    paragraphs = [split_sentences(text, s, e) for s, e in split_paragraphs(text, start)]
    return chunk_sentences(text, paragraphs, max_words, overlap_sentences)
