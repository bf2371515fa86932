"""Languages: the cues that differ from one language to the next, behind one interface.

The core (question analysis, sentence choice, short answers, follow-ups)
asks a `Language` what kind of fact a question wants, which spans of a
sentence could be that fact, and which words lean on an earlier turn; it
holds no word list of its own. English (`english.py`) and Vietnamese
(`vietnamese.py`) are the plug-ins, each mostly patterns (`cues.py` reads
them) plus its spans and lists (`lists.py`); another language is a module and
a line in `LANGUAGES`. A language that has no plug-in yet is served by English's,
whose patterns for dates, numbers and capitalised names carry over to
Latin-script text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from assistant.registry import Registry

Kind = Literal["time", "quantity", "person", "place"]
Span = tuple[int, int]


class Language(Protocol):
    code: str
    abstention: str  # what an abstention says, with {question}: "The documents do not say: …"
    latest: str  # what leads the answer to a question for the most recent, with {date}: "Latest (…): "
    quoted_from: str  # what leads an answer quoted from an article in another language, with {language}
    language_names: Mapping[str, str]  # the languages we serve, named in this one: {"vi": "Vietnamese"}

    def answer_kind(self, question: str) -> Kind | None:
        """The kind of fact `question` asks for, or None when it wants something else (an explanation, a thing)."""
        ...

    def wants_explanation(self, question: str) -> bool:
        """Whether the question asks for a reason or an account ("why …?"), which no short answer gives."""
        ...

    def excluded_phrases(self, question: str) -> list[str]:
        """Phrases the answer is not about ("besides the memorandum")."""
        ...

    def leans_on_earlier_turn(self, question: str) -> bool:
        """Whether the question has a pronoun or opens as a continuation ("and the Lao side?")."""
        ...

    def referred_kinds(self, question: str) -> set[Kind]:
        """The kinds of entity the question's pronouns point to: "his" a person, "there" a place, "then" a time."""
        ...

    def opens_with_anaphor(self, sentence: str) -> bool:
        """Whether a sentence opens by pointing back ("Accordingly, they …"), so its topic is the sentence before."""
        ...

    def holds_kind(self, sentence: str, kind: Kind) -> bool:
        """Whether a sentence states a fact of that kind at all (a cheap test for ranking sentences)."""
        ...

    def is_generic(self, word: str) -> bool:
        """Whether a (normalised) question word only frames the question ("aim", "happen", "kind", "many")."""
        ...

    def clause_breaks(self, sentence: str) -> list[int]:
        """Where one clause of a sentence ends and another begins (", while …", "; …"), as offsets."""
        ...

    def answer_spans(self, sentence: str, kind: Kind) -> list[Span]:
        """Spans of `sentence` that could be the fact asked for, as offsets into it, left to right."""
        ...

    def wants_list(self, question: str) -> bool:
        """Whether the question asks for several things ("Which provinces …?", "What are …?")."""
        ...

    def list_around(self, sentence: str, span: Span) -> Span:
        """The whole list that `span` of `sentence` is an item of ("Sơn La and [Điện Biên] provinces" →
        "Sơn La and Điện Biên provinces"), or `span` itself when it is no item of a list."""
        ...


LANGUAGES: Registry[Language] = Registry(
    "language", {"en": "assistant.languages.english:ENGLISH", "vi": "assistant.languages.vietnamese:VIETNAMESE"}
)
FALLBACK = "en"


def language_for(code: str) -> Language:
    """The plug-in for `code`, or the fallback's while that language has none."""
    return LANGUAGES.get(code if code in LANGUAGES.names() else FALLBACK)
