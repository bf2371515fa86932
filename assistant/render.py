"""Answers and sources as chat Markdown and HTML, with every document-derived string escaped.

Document text, titles and file names are data, never markup: `<script>` in an
article shows as the characters `<script>`. Everything here is pure, so the
escaping is tested without a browser (and again, in one, by the UI tests).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from assistant.records import Answer, Document, Source

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def escape_markdown(text: str) -> str:
    """Text that a Markdown renderer shows literally: HTML escaped, Markdown punctuation backslashed."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


_MARKER = re.compile(r"\\\[(\d+)\\\]")  # an escaped [n] marker


def answer_markdown(answer: Answer) -> str:
    """The chat message of an answer: the short answer in bold, then escaped quotes, each followed by its bold
    [n] marker; a model's answer (`answerer` "llm") as it wrote it, its verified [n] markers in bold; and a
    notice (a claim dropped, the model not reached) in italics after it."""
    notice = f"\n\n_{escape_markdown(answer.notice)}_" if answer.notice else ""
    if answer.abstained:
        return f"_{escape_markdown(answer.answer)}_{notice}"
    if answer.answerer == "llm":
        return _MARKER.sub(r"**\\[\1\\]**", escape_markdown(answer.answer)) + notice
    quotes = " ".join(f"{escape_markdown(s.quote)} **\\[{s.n}\\]**" for s in answer.sources)
    if answer.short_answer is None:
        return quotes + notice
    return f"**{escape_markdown(answer.short_answer.text)}**\n\n{quotes}{notice}"


def context_window(text: str, start: int, end: int, width: int = 240) -> tuple[str, str]:
    """Up to `width` characters of `text` before and after [start, end), cut at white space."""
    before = text[max(0, start - width) : start]
    after = text[end : end + width]
    if start - width > 0 and " " in before:
        before = "…" + before[before.index(" ") + 1 :]
    if end + width < len(text) and " " in after:
        after = after[: after.rindex(" ")] + "…"
    return before, after


def _dated(source: Source) -> str:
    """The source's date and page for its meta line, escaped ('' for each it lacks)."""
    published = f" · published {html.escape(source.published)}" if source.published else ""
    return published + (f" · page {source.page}" if source.page else "")


def sources_html(answer: Answer, documents: Mapping[str, Document]) -> str:
    """The sources panel: per source its title, file, score and the passage with the quote highlighted."""
    if answer.abstained or not answer.sources:
        return '<div class="sources-empty">No sources: the documents do not answer this.</div>'
    cards = []
    short = answer.short_answer
    for source in answer.sources:
        before, after = context_window(documents[source.doc_id].text, source.start, source.end)
        quote = html.escape(source.quote)
        if short is not None and short.doc_id == source.doc_id and source.start <= short.start < short.end <= source.end:
            at, to = short.start - source.start, short.end - source.start
            quote = (
                f'{html.escape(source.quote[:at])}<strong class="short-answer">{html.escape(short.text)}</strong>'
                f"{html.escape(source.quote[to:])}"
            )
        cards.append(
            '<div class="source">'
            f'<div class="source-head"><b>[{source.n}] {html.escape(source.title)}</b></div>'
            f'<div class="source-meta">{html.escape(source.path)}{_dated(source)} · characters {source.start}–{source.end}'
            f" · score {source.score:.2f}</div>"
            f'<p class="source-passage">{html.escape(before)}<mark>{quote}</mark>{html.escape(after)}</p>'
            "</div>"
        )
    return "".join(cards)
