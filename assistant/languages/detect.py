"""Which of the languages we serve a question or a document is written in: "vi", "en", or None (cannot tell).

Lingua (`lingua-language-detector`, Apache-2.0) with only its English and
Vietnamese models, which it loads on first use (a few MB; 55 MB and 0.24 s
with every n-gram size loaded), reads the text's words that start with a
lower-case letter. Capitalised words are left out because they are mostly
names, and English writes Vietnamese names with their marks: "What about
Điện Biên?" is English, though Lingua alone calls it Vietnamese. A text with
no such word ("Sơn La", "2023", "COVID-19") is None: nothing in it tells; a
sentence written all in capitals is read in lower case.

Measured on XQuAD's 1,190 questions per language (benchmarks/xquad.py,
"language_detection"): English 100 %, Vietnamese 100 % (Lingua on the whole
question: 99.75 %; the letter heuristic in question.py: 99.58 %), and 82 %
of the Vietnamese questions typed without their marks, which the heuristic
calls English every time; all of the project's own English and Vietnamese
questions, the English ones with Vietnamese names included. Every XQuAD
paragraph, in both languages, is detected right.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

SERVED = ("en", "vi")
SAMPLE_CHARS = 5_000  # of a document: its language is settled long before, and Lingua's time grows with the text
_WORD = re.compile(r"\w[\w’'-]*")


@cache
def _detector() -> LanguageDetector:
    """English and Vietnamese only; Lingua loads their models when first asked."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_iso_codes_639_1(*(IsoCode639_1.from_str(code) for code in SERVED)).build()


def telling_words(text: str) -> str:
    """The words of `text` that start with a lower-case letter (names and sentence openings left out), NFC."""
    return " ".join(w for w in _WORD.findall(unicodedata.normalize("NFC", text)) if w[0].islower())


def detect_language(text: str) -> str | None:
    """ "vi" or "en" for a question or a document's text (its first SAMPLE_CHARS characters), None if it cannot tell."""
    sample = text[:SAMPLE_CHARS]
    if sample.isupper() and len(sample.split()) > 2:  # "AI DẪN ĐẦU ĐOÀN?" is shouted, "COVID-19" an acronym
        sample = sample.lower()
    words = telling_words(sample)
    if not words:
        return None
    found = _detector().detect_language_of(words)
    return None if found is None else found.iso_code_639_1.name.lower()


_TAG_NAMES = {"english": "en", "vietnamese": "vi", "tiếng việt": "vi", "tieng viet": "vi"}


def language_code(tag: str) -> str | None:
    """A served language's code for a language tag as readers find it ("vi-VN", "en_US", "Vietnamese"), else None."""
    tag = " ".join(unicodedata.normalize("NFC", tag).lower().split())
    code = _TAG_NAMES.get(tag, re.split(r"[-_]", tag, maxsplit=1)[0])
    return code if code in SERVED else None
