"""Web pages (`.html`, `.htm`), as saved from a browser: the article's text and what the page says about it.

The article is found by trafilatura, which drops navigation, headers,
footers, sidebars, "most read" lists, share buttons, ads, comment sections,
scripts, styles and HTML comments. It was chosen by measurement on
saved-news-like pages (with and without <article>/<main>, a byline,
`<time datetime>`, `article:published_time`, JSON-LD, an "updated" date
later than the published one, related-article lists whose headlines are
whole sentences): every article sentence kept and no boilerplate in the
text, where keeping <article> or <main> minus nav/header/footer keeps the
sidebar and the ads of a page without them. Nothing on the page is ever
executed: scripts are parsed as text and thrown away.

The text is built from trafilatura's structure, one block per paragraph,
heading, quotation or table row, separated by blank lines so the sentence
splitter sees paragraphs; a list is one block, an item per line starting
"- ", and a table row's cells are joined by " | ". Title, author, publication
date (htmldate, through trafilatura: the original date, not the last
update) and canonical URL come from the page's metadata; the language from
`<html lang>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import trafilatura
from trafilatura.settings import Document, use_config

from assistant.readers import Extracted, UnreadableDocument, sniff, tidy

# Below this many characters trafilatura distrusts what it found and compares other extractors' results,
# which on a short article brought back an ad (250 by default; 100 kept every sentence and no ad).
_CONFIG = use_config()
_CONFIG.set("DEFAULT", "MIN_EXTRACTED_SIZE", "100")
_DOCUMENT = re.compile(rb"<(?:html|body)\b", re.IGNORECASE)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.IGNORECASE)
_BLOCKS = {"p", "head", "quote", "code", "list", "table"}


def _inline(element: Any) -> str:
    """An element's text, its line breaks kept and every other run of white space made one space."""
    for line_break in element.iter("lb"):
        line_break.tail = "\n" + (line_break.tail or "")
    return tidy("".join(element.itertext()))


def _blocks(element: Any) -> Iterator[str]:
    """The text of each block under trafilatura's body, in document order."""
    for child in element:
        if child.tag == "list":
            yield "\n".join(f"- {text}" for item in child if item.tag == "item" and (text := " ".join(_inline(item).split())))
        elif child.tag == "table":
            for row in child.iter("row"):
                cells = [" ".join(_inline(cell).split()) for cell in row if cell.tag == "cell"]
                if any(cells):
                    yield " | ".join(cells)
        elif any(grandchild.tag in _BLOCKS for grandchild in child):
            yield from _blocks(child)
        else:
            yield _inline(child)


class HtmlReader:
    suffixes = (".html", ".htm")

    def read(self, data: bytes, name: str) -> Extracted:
        if sniff.is_binary(data):
            raise UnreadableDocument(f"not an HTML page (its content is {sniff.describe(data)})")
        if not data.startswith(_UTF16_BOMS) and _DOCUMENT.search(data) is None:
            data = b"<html><body>" + data + b"</body></html>"  # a fragment, which trafilatura takes for no page at all
        page = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            deduplicate=False,
            config=_CONFIG,
        )
        text = "\n\n".join(filter(None, _blocks(page.body))) if isinstance(page, Document) and page.body is not None else ""
        if not isinstance(page, Document) or not text:
            raise UnreadableDocument("no article text")
        language = _LANG.search(data[:4096])
        metadata = {
            "date": page.date or "",
            "author": " ".join((page.author or "").split()),
            "source": page.url or "",
            "language": language.group(1).decode("ascii").lower() if language else "",
        }
        return Extracted(
            text=text,
            title=" ".join((page.title or "").split()),
            format="html",
            metadata={key: value for key, value in metadata.items() if value},
        )


HTML = HtmlReader()
