import logging
from pathlib import Path

from assistant.corpus import extract, find_files, read_document, title_from_name


def read_corpus(folder: Path):
    return [doc for path in find_files(folder) if (doc := read_document(path, folder)) is not None]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def test_reads_txt_and_md_recursively_with_relative_ids(tmp_path):
    write(tmp_path / "a.txt", "Alpha text.")
    write(tmp_path / "news" / "2024" / "b.md", "# Bravo\n\nBody.")
    write(tmp_path / "notes.pdf", "not an article")
    write(tmp_path / ".hidden" / "c.txt", "hidden")
    documents = read_corpus(tmp_path)
    assert [d.doc_id for d in documents] == ["a.txt", "news/2024/b.md"]
    assert documents[1].path == "news/2024/b.md"


def test_text_is_kept_exactly_as_decoded(tmp_path):
    raw = "Line one.\r\nĐiện Biên — “quoted”.\n"
    write(tmp_path / "x.txt", raw)
    (document,) = read_corpus(tmp_path)
    assert document.text == raw


def title_of(text: str, name: str) -> str:
    return extract(name, text.encode("utf-8")).title


def test_titles_from_front_matter_heading_or_file_name():
    assert title_of('---\ntitle: "Border talks"\ndate: 2024\n---\nBody', "x.md") == "Border talks"
    assert title_of("Intro\n# The heading\ntext", "x.md") == "The heading"
    assert title_of("No heading here.", "son-la_border meeting.txt") == "Son La Border Meeting"
    assert title_of("---\ntitle: First\ntitle: Second\n---\nBody", "x.md") == "First"
    assert title_of("---\nTitle: Not the key\ndate: 2024\n---\n# Heading\nBody", "x.md") == "Heading"
    assert title_from_name(Path("vietnam-laos-defence-policy-dialogue.txt")) == "Vietnam Laos Defence Policy Dialogue"


def test_front_matter_is_not_part_of_the_body(tmp_path):
    write(tmp_path / "x.md", "---\ntitle: T\n---\nThe body.")
    (document,) = read_corpus(tmp_path)
    assert document.text[document.body_start :] == "The body."


def test_bad_files_are_skipped_with_a_warning_naming_them(tmp_path, caplog):
    write(tmp_path / "good.txt", "Fine.")
    write(tmp_path / "latin1.txt", "caf\xe9".encode("latin-1"))
    write(tmp_path / "empty.md", "  \n\n")
    write(tmp_path / "only-front-matter.md", "---\ntitle: x\n---\n")
    with caplog.at_level(logging.WARNING):
        documents = read_corpus(tmp_path)
    assert [d.doc_id for d in documents] == ["good.txt"]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "latin1.txt: not valid UTF-8" in messages
    assert "empty.md: it is empty" in messages
    assert "only-front-matter.md: it is empty" in messages


def test_unreadable_file_is_skipped(tmp_path, caplog):
    write(tmp_path / "good.txt", "Fine.")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing-target.txt")
    documents = read_corpus(tmp_path)
    assert [d.doc_id for d in documents] == ["good.txt"]
