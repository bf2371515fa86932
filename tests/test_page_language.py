"""The web page's language, from the browser's Accept-Language (pure: no server)."""

import pytest

from assistant.webapp import PAGE_TEXT, page_language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", "vi"),
        ("en-US,en;q=0.9,vi;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,vi;q=0.8", "vi"),  # the first of ours it asks for
        ("en;q=0.5,vi;q=0.9", "vi"),  # by preference, not by place
        ("de-DE", "en"),
        ("", "en"),
        ("vi;q=abc,en", "en"),
    ],
)
def test_the_page_language_follows_the_browser(header, language):
    assert page_language(header) == language


def test_both_languages_label_everything():
    assert PAGE_TEXT["en"].keys() == PAGE_TEXT["vi"].keys()
