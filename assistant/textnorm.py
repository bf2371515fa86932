"""The one text normaliser shared by indexing and querying.

Both sides of every lexical comparison go through :func:`analyze`, so a
spelling that matches at index time matches at query time: NFKC, case
folding, Vietnamese diacritics folded (đ → d) and kept beside (a word written with marks is also a term
as written), English stemming, English and Vietnamese function words left out, and joined
compounds so that "Việt Nam", "Viet Nam" and "Vietnam" meet on one term.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import Stemmer

# Letters with no Unicode decomposition that still need folding to ASCII.
_UNDECOMPOSABLE = str.maketrans({"đ": "d", "ð": "d", "ø": "o", "ł": "l", "ħ": "h", "ı": "i"})

_WORD = re.compile(r"([^\W_]+)")  # captured: splitting by it gives gap, word, gap, word, ..., gap

# Function words that carry no topic. Written for questions as much as for
# articles: question words and auxiliaries would otherwise dominate BM25 scores.
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom whose why will
    with would you your yours yourself yourselves s t d ll m o re ve y
    """.split()
)

# Vietnamese function words, as written (lower case, with their marks): folded, several would meet names
# ("đã" and the "Đà" of Đà Nẵng both fold to "da"), so they are recognised before folding.
VIETNAMESE_STOP_WORDS = frozenset(
    """
    của và các những được là có trong với cho đã sẽ này đó ấy kia một khi thì mà để tại về từ theo như hay
    hoặc cũng rằng nhằm đến bị vào ra lên nên nhưng đang vẫn rất cùng gì nào ai đâu sao bao nhiêu mấy không
    chưa hãy vậy thế ạ ở đây đấy nữa lại chỉ đều mỗi việc
    """.split()
)

Compounding = Literal["capitalized", "all"]


def fold(text: str) -> str:
    """Case- and accent-insensitive form of `text`: 'Điện Biên' -> 'dien bien'."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_UNDECOMPOSABLE)
    stripped = "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1 << 16)
def _stem_word(word: str) -> str:
    return str(_stemmer().stemWord(word))


# Function words spelt in ASCII that are also names elsewhere: function words only in lower case.
_ALSO_NAMES = frozenset("theo cho bao sao ra trong".split())


def _vietnamese_function_word(raw: str) -> bool:
    """A Vietnamese function word. One spelt in ASCII is one in lower case, or capitalised where it is no
    name ("Ai …?" opening a question; not "Theo" or "Cho"), never in capitals ("AI")."""
    word = unicodedata.normalize("NFC", raw.casefold())
    if word not in VIETNAMESE_STOP_WORDS:
        return False
    return not raw.isascii() or raw.islower() or (raw.istitle() and word not in _ALSO_NAMES)


@lru_cache(maxsize=1 << 16)
def _word_forms(raw: str) -> tuple[str, str | None]:
    """A word as written -> (folded, stemmed), stemmed None for a stop word.

    Every word gets its English stem, marks or not: "Phongsaly" and "Phôngsalỳ" must meet, and the stemmer
    leaves Vietnamese syllables as they are. Words recur, so analysing a text is mostly cache hits.
    """
    folded = fold(raw)
    if (raw.isascii() and folded in STOP_WORDS) or _vietnamese_function_word(raw):  # "đô", "số" are no "do", "so"
        return folded, None
    return folded, _stem_word(folded)


@dataclass(frozen=True)
class Analyzed:
    """Terms of a text: `words` (stemmed, stop words removed) and joined `compounds`.

    `pairs[i]` holds the indices in `words` of the two words `compounds[i]` joins;
    `capitalized[i]` says whether `words[i]` was written with a capital, and
    `starts[i]` where it begins in the NFKC form of the text.
    """

    words: list[str]
    compounds: list[str]
    pairs: list[tuple[int, int]]
    capitalized: list[bool]
    starts: list[int]
    marked: list[str] = field(default_factory=list)  # words written with marks, as written (lower case): tones kept

    @property
    def terms(self) -> list[str]:
        """What BM25 indexes and searches: a word written with marks counts twice, folded and as written, so
        "Pháp" (France) meets "pháp" and "Phap" but ranks a text writing "Pháp" above one writing "phạt"."""
        return self.words + self.compounds + self.marked

    @property
    def names(self) -> set[str]:
        """Terms written as names: capitalised words, and capitalised pairs joined."""
        return {w for w, cap in zip(self.words, self.capitalized, strict=True) if cap} | set(self.compounds)


def analyze(text: str, compounding: Compounding = "capitalized") -> Analyzed:
    """Normalise `text` into search terms.

    Compounds join two adjacent words separated only by spaces. Documents join
    capitalised pairs ("Việt Nam" -> "vietnam", "Sơn La" -> "sonla"); queries,
    typed in any case, join every pair ("viet nam" -> "vietnam"). A compound
    only ever matches the same pair written together or apart elsewhere.
    """
    normalized = unicodedata.normalize("NFKC", text)
    pieces = _WORD.split(normalized)
    words: list[str] = []
    compounds: list[str] = []
    pairs: list[tuple[int, int]] = []
    capitalized: list[bool] = []
    starts: list[int] = []
    marked: list[str] = []
    position = 0
    previous: tuple[str, bool] | None = None  # folded word, capitalised
    for gap, raw in zip(pieces[0::2], pieces[1::2], strict=False):  # the last gap has no word after it
        start = position + len(gap)
        position = start + len(raw)
        folded, stemmed = _word_forms(raw)
        if stemmed is None:
            previous = None
            continue
        capital = raw[0].isupper()
        if previous is not None and (compounding == "all" or (capital and previous[1])) and gap.strip(" ") == "":
            compounds.append(_stem_word(previous[0] + folded))
            pairs.append((len(words) - 1, len(words)))
        words.append(stemmed)
        capitalized.append(capital)
        starts.append(start)
        if not raw.isascii() and (written := marked_form(raw)) != folded:
            marked.append(written)
        previous = (folded, capital)
    return Analyzed(words=words, compounds=compounds, pairs=pairs, capitalized=capitalized, starts=starts, marked=marked)


@lru_cache(maxsize=1 << 16)
def marked_form(raw: str) -> str:
    """A word as written, in lower case with its marks (NFC): "Pháp" -> "pháp"."""
    return unicodedata.normalize("NFC", raw.casefold())


@lru_cache(maxsize=1 << 16)
def unmarked(term: str) -> str:
    """The folded form of a marked term, to tell which folded words a text writes with marks."""
    return fold(term)


def document_terms(text: str) -> list[str]:
    return analyze(text, "capitalized").terms


def query_terms(text: str) -> list[str]:
    return analyze(text, "all").terms
