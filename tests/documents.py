"""Real PDF, Word and HTML files made at test time with the libraries that write those formats.

reportlab draws PDFs line by line, as a typesetter would: a title, paragraphs
whose lines wrap (one of them hyphenated at its end), the ligature "ﬁ" (in
Bitstream Vera, which reportlab ships, so no system font is needed) and, on
request, a page of two columns. python-docx writes Word files with
headings, paragraphs and a table. The HTML is a saved news page, with what
such a page carries around its article: navigation, ads, a byline,
<time datetime>, JSON-LD, scripts, styles and comments.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path

import docx
import pypdf
import reportlab
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT = "Vera"
pdfmetrics.registerFont(TTFont(FONT, str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf")))

TITLE = "Son La and Luang Prabang review border cooperation"
# Page 1 of the PDF, as it is drawn (a paragraph per list, its lines as they wrap), and as it must read.
PAGE_ONE = [
    [
        "The Son La provincial Border Guard Command and the Luang Prabang",
        "provincial Military Command met on 28 March 2023 to review their coopera-",
        "tion in border management.",
    ],
    [
        "The Vietnamese delegation was led by Senior Colonel Ca Van Lap, while the",
        "Lao side was led by Colonel Viliem Vongthisan.",
    ],
    ["The ﬁrst joint patrol will set out in April from the Pa Hang border gate."],
]
PAGE_ONE_SENTENCES = [
    "The Son La provincial Border Guard Command and the Luang Prabang provincial Military Command met on 28 March 2023 "
    "to review their cooperation in border management.",
    "The Vietnamese delegation was led by Senior Colonel Ca Van Lap, while the Lao side was led by Colonel Viliem Vongthisan.",
    "The first joint patrol will set out in April from the Pa Hang border gate.",
]
# Page 2: two columns, each a paragraph.
COLUMNS = [
    ["Both sides agreed to hold joint", "patrols every quarter and to share", "information on cross-border crime."],
    ["They signed a memorandum on the", "management of the border gates", "for the years 2023 to 2025."],
]
PAGE_TWO_SENTENCES = [
    "Both sides agreed to hold joint patrols every quarter and to share information on cross-border crime.",
    "They signed a memorandum on the management of the border gates for the years 2023 to 2025.",
]


def _draw_lines(pdf: canvas.Canvas, x: float, y: float, lines: list[str], size: float = 11) -> float:
    """Draw `lines` from (x, y) down, one leading apart; returns where the next line would go."""
    text = pdf.beginText(x, y)
    text.setFont(FONT, size)
    text.setLeading(size * 1.3)
    for line in lines:
        text.textLine(line)
    pdf.drawText(text)
    return y - len(lines) * size * 1.3


def pdf_file(
    title: str | None = TITLE,
    created: str | None = "20230329081500+07'00'",
    author: str = "Border News",
    heading: str | None = TITLE,
    pages: list[list[list[str]]] | None = None,
    columns: list[list[str]] | None = COLUMNS,
) -> bytes:
    """A PDF: an optional heading, then each page's paragraphs, then (optionally) a page of two columns.

    `title` and `created` (PDF date, without its "D:") go into the document information; None leaves the
    title out and gives reportlab's fixed date, 2000-01-01.
    """
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    pdf.setAuthor(author)
    if title is not None:
        pdf.setTitle(title)
    if created is not None:
        pdf.setDateFormatter(lambda *_: f"D:{created}")
    _, height = A4
    for number, paragraphs in enumerate(pages if pages is not None else [PAGE_ONE]):
        y = height - 72
        if heading and number == 0:
            y = _draw_lines(pdf, 72, y, [heading], size=16) - 12
        for paragraph in paragraphs:
            y = _draw_lines(pdf, 72, y, paragraph) - 11  # a paragraph's gap: most of a line
        pdf.showPage()
    if columns:
        for column, lines in enumerate(columns):
            _draw_lines(pdf, 72 + column * 240, height - 72, lines)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def scanned_pdf() -> bytes:
    """A PDF whose page is only a picture, as a scanner makes: no text layer."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    for row in range(40):
        pdf.rect(72, 700 - row * 14, 300 + (row * 37) % 150, 9, fill=1)  # lines of "text", drawn
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def encrypted_pdf(data: bytes, password: str = "secret") -> bytes:
    """`data` encrypted (RC4-128, which pypdf writes without further libraries) with `password` needed to open
    it; with "", it opens without one and only the owner's password allows editing."""
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(password, owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


DOCX_SENTENCES = [
    "The fifth Việt Nam–Laos defence policy dialogue was held in Luang Prabang.",
    "The two sides reviewed their cooperation in 2022 and agreed on the plan for 2023.",
    "Officers will be trained at the academies of both countries.",
]
DOCX_TABLE = [["Field", "Plan for 2023"], ["Training", "200 Lao officers"], ["Border", "Joint patrols each quarter"]]


def docx_file(title: str | None = "Defence policy dialogue", created: datetime | None = datetime(2023, 6, 12, 9, 30)) -> bytes:
    """A Word file: a heading, two paragraphs, a table, a subheading and a last paragraph."""
    document = docx.Document()
    document.add_heading("Việt Nam–Laos defence policy dialogue", level=1)
    document.add_paragraph(DOCX_SENTENCES[0])
    document.add_paragraph(DOCX_SENTENCES[1])
    table = document.add_table(rows=len(DOCX_TABLE), cols=2)
    for row, cells in zip(table.rows, DOCX_TABLE, strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_heading("Training", level=2)
    document.add_paragraph(DOCX_SENTENCES[2])
    properties = document.core_properties
    properties.title = title or ""
    properties.author = "Ministry of National Defence"
    if created is not None:
        properties.created = created
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


HTML_SENTENCES = [
    "The Son La provincial Border Guard Command and the Luang Prabang provincial Military Command met on 28 March 2023.",
    "The Vietnamese delegation was led by Senior Colonel Ca Van Lap.",
    "Both sides agreed to hold joint patrols every quarter.",
]
HTML_BOILERPLATE = [
    "Home",
    "Subscribe",
    "Most read",
    "Buy cheap flights",
    "alert(",
    "dataLayer",
    "color:",
    "editors' note",
    "Copyright",
]


def html_page(published: str = "2023-03-29", canonical: str = "https://news.example.vn/son-la-luang-prabang.html") -> bytes:
    """A news page as a browser saves it, around an article of HTML_SENTENCES under the heading TITLE."""
    paragraphs = "\n".join(f"<p>{sentence}</p>" for sentence in HTML_SENTENCES)
    shown = f"{date.fromisoformat(published):%d %B %Y}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{TITLE} | Border News</title>
<meta property="og:title" content="{TITLE}">
<meta property="article:published_time" content="{published}T08:15:00+07:00">
<link rel="canonical" href="{canonical}">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "{TITLE}",
 "datePublished": "{published}T08:15:00+07:00", "author": {{"@type": "Person", "name": "Nguyen Van An"}}}}</script>
<style>.banner {{ color: red }}</style>
<script>window.dataLayer = []; alert("never run");</script></head>
<body><header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/world">World</a></nav></header>
<div class="banner ad">Buy cheap flights to Vientiane now, the best prices of the year guaranteed.</div>
<main><article><h1>{TITLE}</h1>
<p class="byline">By <span class="author">Nguyen Van An</span>, <time datetime="{published}">{shown}</time></p>
<!-- editors' note: check the names before publishing -->
{paragraphs}
</article>
<aside><h3>Most read</h3><ul><li><a href="/a">Defence ministers of both countries meet in Vientiane to discuss training.</a></li>
<li><a href="/b">Navy ships visit Cam Ranh port for a joint search and rescue exercise.</a></li></ul></aside></main>
<div class="newsletter">Subscribe to our newsletter for the most important news of the day.</div>
<footer>Copyright © 2023 Border News. All rights reserved.</footer>
<script>alert("footer")</script></body></html>""".encode()


SOUP_SENTENCES = [
    "Border guards of both provinces will patrol the Pa Hang gate together from April.",
    "The hotline between the two commands will be open day and night.",
]
SOUP_BOILERPLATE = ["We use cookies", "Most read", "Share on Facebook", "Defence ministers", "Advertisement", "Licence number"]


def soup_page() -> bytes:
    """A page without <article> or <main>, only classed <div>s, whose sidebar lists headlines that are sentences,
    with a list and a table in the article."""
    article = "".join(f"<p>{sentence}</p>" for sentence in SOUP_SENTENCES)
    return f"""<html lang="vi"><head><meta charset="utf-8"><title>Joint patrols - Border News</title>
<meta property="og:title" content="Joint patrols at Pa Hang"><meta itemprop="datePublished" content="2023-04-02T07:00:00+07:00">
<meta property="og:url" content="https://news.example.vn/joint-patrols-4587.html"></head><body>
<div id="cookie-consent">We use cookies to improve your experience on our site. Accept all cookies to continue.</div>
<div class="header"><div class="menu"><a href="/">Home</a> <a href="/news">News</a> <a href="/world">World</a></div></div>
<div class="container"><div class="main-col"><h1 class="title-detail">Joint patrols at Pa Hang</h1>
<div class="fck_detail">{article}
<ul><li>Patrols start on 1 April.</li><li>Each patrol has ten officers.</li></ul>
<table><tr><th>Gate</th><th>Province</th></tr><tr><td>Pa Hang</td><td>Son La</td></tr></table></div>
<div class="social-share"><a>Share on Facebook</a> <a>Share on Twitter</a></div></div>
<div class="sidebar"><div class="most-read"><h3>Most read</h3><ul>
<li><a href="/r1">Defence ministers of Viet Nam and Laos discuss training cooperation in Vientiane this week.</a></li>
<li><a href="/r2">Navy ships from three countries visit Cam Ranh port for a joint search and rescue exercise.</a></li></ul></div>
<div class="banner-ads"><p>Advertisement</p></div></div></div>
<div class="footer"><p>Licence number 123/GP-BTTTT issued by the Ministry of Information.</p></div></body></html>""".encode()


def zip_bomb_docx(unzipped: int = 51 * 2**20) -> bytes:
    """A real Word file with a part of `unzipped` zero bytes added, deflated to a few dozen kilobytes."""
    source = zipfile.ZipFile(io.BytesIO(docx_file()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            archive.writestr(name, source.read(name))
        with archive.open("word/media/image1.bin", "w") as part:
            block = bytes(2**20)
            for _ in range(unzipped // len(block)):
                part.write(block)
    return buffer.getvalue()


def encrypted_docx() -> bytes:
    """What Word writes for a password-protected document: an OLE compound file (its 512-byte header, then
    a directory naming the EncryptedPackage stream), not a zip."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    return header + "EncryptedPackage".encode("utf-16-le") + bytes(512 - 32) + bytes(1024)
