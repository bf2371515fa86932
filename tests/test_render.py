"""The answer as the web page shows it: the short answer first and highlighted in its quote, everything escaped."""

from assistant.records import Answer, Document, ShortAnswer, Source, text_hash
from assistant.render import answer_markdown, sources_html

TEXT = "Intro. The <b>Lao</b> side was led by Colonel <Viliem> Vongthisan. Outro."
QUOTE_START = TEXT.index("The <b>")
QUOTE_END = TEXT.index(" Outro")
SHORT_START = TEXT.index("Colonel")
SHORT_END = TEXT.index(". Outro")
DOCUMENT = Document("m.txt", "m.txt", "Meeting <i>", TEXT, text_hash(TEXT))


def answer(short: ShortAnswer | None) -> Answer:
    source = Source(1, "m.txt", "m.txt", "Meeting <i>", TEXT[QUOTE_START:QUOTE_END], QUOTE_START, QUOTE_END, 1.0)
    return Answer("Who led the Lao side?", "…", False, [source], short)


def test_the_short_answer_comes_first_in_bold_and_escaped():
    short = ShortAnswer(TEXT[SHORT_START:SHORT_END], "m.txt", SHORT_START, SHORT_END)
    markdown = answer_markdown(answer(short))
    assert markdown.startswith("**Colonel &lt;Viliem&gt; Vongthisan**\n\n")
    assert "<b>" not in markdown and "&lt;b&gt;Lao&lt;/b&gt;" in markdown


def test_the_short_answer_is_highlighted_inside_its_quote():
    short = ShortAnswer(TEXT[SHORT_START:SHORT_END], "m.txt", SHORT_START, SHORT_END)
    page = sources_html(answer(short), {"m.txt": DOCUMENT})
    highlighted = '<strong class="short-answer">Colonel &lt;Viliem&gt; Vongthisan</strong>'
    assert f"<mark>The &lt;b&gt;Lao&lt;/b&gt; side was led by {highlighted}.</mark>" in page
    assert "Meeting &lt;i&gt;" in page and "<i>" not in page


def test_without_a_short_answer_the_quotes_stand_alone():
    assert answer_markdown(answer(None)).startswith("The &lt;b&gt;Lao")
    assert "short-answer" not in sources_html(answer(None), {"m.txt": DOCUMENT})


def test_a_model_s_answer_shows_as_written_with_its_markers_and_notice_escaped():
    from assistant.records import Source

    source = Source(1, "m.txt", "m.txt", "Meeting", "q", 0, 1, 1.0)
    said = Answer("q?", "They met in <b>Vientiane</b> [1].", False, [source], answerer="llm", notice="1 claim <i>dropped</i>.")
    markdown = answer_markdown(said)
    assert "**\\[1\\]**" in markdown and "&lt;b&gt;Vientiane&lt;/b&gt;" in markdown and "<b>" not in markdown
    assert markdown.endswith("_1 claim &lt;i&gt;dropped&lt;/i&gt;\\._")
