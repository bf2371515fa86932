"""The `assistant` command: index, add, remove, watch, ask, chat, search, eval, docs, show, migrate, info.

A thin face over `Assistant`: it parses arguments, prints, and turns a user's
mistake into one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from assistant import quiet_libraries
from assistant.backends import MODES, Mode, backend_names
from assistant.dates import parse_iso_day
from assistant.embedders import embedder_names
from assistant.errors import AssistantError, QuestionError, UnknownDocumentError
from assistant.records import Answer, Passage
from assistant.settings import (
    BACKEND_ENV,
    BM25_METHODS,
    CORPUS_ENV,
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    INDEX_ENV,
    LLM_MODEL_ENV,
    LLM_URL_ENV,
    BM25Params,
    IndexSettings,
    SearchSettings,
)

if TYPE_CHECKING:
    from assistant.core import Assistant

F = TypeVar("F", bound=Callable[..., Any])


def folder_option(name: str, envvar: str, default: str, what: str) -> Callable[[F], F]:
    return click.option(
        f"--{name}",
        f"{name}_dir",
        type=click.Path(path_type=Path, file_okay=False),
        envvar=envvar,
        default=default,
        show_default=True,
        help=f"{what} [env: {envvar}].",
    )


corpus_option = folder_option("corpus", CORPUS_ENV, DEFAULT_CORPUS, "Folder of articles")
index_option = folder_option("index", INDEX_ENV, DEFAULT_INDEX, "Index folder")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
doc_option = click.option(
    "--doc", "doc_ids", multiple=True, help="Search only this document (its path in the corpus); repeat for several."
)


def _fields(context: click.Context, parameter: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    fields = {}
    for value in values:
        key, equals, wanted = value.partition("=")
        if not equals or not key.strip() or not wanted.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        fields[key.strip().lower()] = wanted.strip()
    return fields


where_option = click.option(
    "--where",
    multiple=True,
    callback=_fields,
    metavar="KEY=VALUE",
    help="Search only documents whose metadata has this value (date=2023 matches by year); repeat for several.",
)


def _day(context: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_iso_day(value).isoformat()
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


since_option = click.option(
    "--since", callback=_day, metavar="YYYY-MM-DD", help="Only documents published on or after this day (dated ones only)."
)
until_option = click.option(
    "--until", callback=_day, metavar="YYYY-MM-DD", help="Only documents published on or before this day (dated ones only)."
)


def scope_options(command: F) -> F:
    """--doc, --where, --since and --until, handed to the command as one `scope` of `Assistant` keywords."""

    @functools.wraps(command)
    def wrapper(
        *args: Any, doc_ids: tuple[str, ...], where: dict[str, str], since: str | None, until: str | None, **kwargs: Any
    ) -> Any:
        scope = {"doc_ids": doc_ids or None, "where": where, "since": since, "until": until}
        return command(*args, scope=scope, **kwargs)

    for option in (until_option, since_option, where_option, doc_option):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


class BadInputError(click.ClickException):
    """A question the assistant refuses: one line, and exit 2 like any other usage mistake."""

    exit_code = 2


def user_errors(command: F) -> F:
    """Report an AssistantError as one line with exit 1 (exit 2 for a refused question or a --doc the index lacks)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UnknownDocumentError as error:
            raise click.BadParameter(str(error), param_hint="--doc") from None
        except QuestionError as error:
            raise BadInputError(str(error)) from None
        except AssistantError as error:
            raise click.ClickException(str(error)) from None

    return wrapper  # type: ignore[return-value]


def _stdin_lines() -> Iterator[tuple[int, str]]:
    """Each non-empty stdin line, stripped, with its line number.

    Read as bytes and decoded line by line with surrogate escapes, whatever the locale: a line that is
    not UTF-8 reaches the assistant, which names the bad byte, and costs only itself.
    """
    for number, raw in enumerate(sys.stdin.buffer, 1):
        line = raw.decode("utf-8", "surrogateescape").strip()
        if line:
            yield number, line


def _each(text: str, handle: Callable[[int, str], None]) -> None:
    """`handle(0, text)`, or, when `text` is '-', `handle(position, line)` for each non-empty stdin line.

    In a batch a refused line is reported as one line on stderr and the others are still handled;
    the exit status is then 2.
    """
    if text != "-":
        handle(0, text)
        return
    refused = False
    for position, (number, line) in enumerate(_stdin_lines()):
        try:
            handle(position, line)
        except QuestionError as error:
            click.echo(f"Error: line {number}: {error}", err=True)
            refused = True
    if refused:
        raise click.exceptions.Exit(BadInputError.exit_code)


def _assistant(index_dir: Path, corpus_dir: Path | None = None, settings: SearchSettings | None = None) -> Assistant:
    """The facade; nothing is loaded until a command asks a question."""
    from assistant.core import Assistant

    return Assistant(index_dir, corpus_dir, settings)


def _load(index_dir: Path, settings: SearchSettings | None = None) -> Assistant:
    """The facade with the index and its model loaded, for the commands that answer."""
    return _assistant(index_dir, settings=settings).open()


def llm_options(command: F) -> F:
    """--llm-url and --llm-model, handed to the command as the `settings` they make: the `llm` answerer when
    a server is given (answerers/llm.py), else None (the default, extractive)."""

    @functools.wraps(command)
    def wrapper(*args: Any, llm_url: str | None, llm_model: str | None, **kwargs: Any) -> Any:
        settings = SearchSettings(answerer="llm", llm_url=llm_url, llm_model=llm_model or "") if llm_url else None
        return command(*args, settings=settings, **kwargs)

    url = click.option(
        "--llm-url",
        envvar=LLM_URL_ENV,
        metavar="URL",
        help=f"Answer with this OpenAI-compatible model server, every citation verified [env: {LLM_URL_ENV}].",
    )
    model = click.option("--llm-model", envvar=LLM_MODEL_ENV, help=f"The server's model [env: {LLM_MODEL_ENV}].")
    return url(model(wrapper))  # type: ignore[return-value]


def _emit_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def format_answer(answer: Answer) -> str:
    lines = [answer.answer, *([f"Note: {answer.notice}"] if answer.notice else [])]
    if answer.sources:
        lines += ["", "Sources:"]
        for source in answer.sources:
            where = ", ".join(
                part
                for part in (
                    source.path,
                    source.published or "",
                    f"page {source.page}" if source.page else "",
                    f"characters {source.start}–{source.end}",
                )
                if part
            )
            lines.append(f"[{source.n}] {source.title} — {where}")
            lines.append(f"    “{source.quote}”")
    return "\n".join(lines)


def format_passage(passage: Passage) -> str:
    head = (
        f"{passage.rank}. {passage.document.title} — {passage.document.path} [{passage.chunk.start}:{passage.chunk.end}]"
        f"  score {passage.score:.3f} (bm25 {passage.bm25_score:.2f}, dense {passage.dense_score:.3f})"
    )
    body = " ".join(passage.text.split())
    return f"{head}\n   {body[:300]}{'…' if len(body) > 300 else ''}"


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.option(
    "--backend",
    type=click.Choice(backend_names()),
    default=None,
    help=f"Where the index lives [default: {BACKEND_ENV} or local]; milvus reads ASSISTANT_MILVUS_URI.",
)
def main(verbose: bool, backend: str | None) -> None:
    """Answer questions from cooperation articles, quoting their sentences."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    quiet_libraries()
    if backend is not None:
        os.environ[BACKEND_ENV] = backend  # every Assistant this command makes opens it


wait_option = click.option(
    "--wait",
    type=click.FloatRange(0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for another process updating the index.",
)


@main.command()
@corpus_option
@index_option
@click.option("--full", is_flag=True, help="Rebuild every document instead of only what changed.")
@click.option("--model", default=None, help=f"Embedding model: name or path [default: {IndexSettings.model}].")
@click.option("--chunk-words", type=click.IntRange(10), default=None, help=f"[default: {IndexSettings.chunk_words}]")
@click.option("--overlap", type=click.IntRange(0), default=None, help=f"Sentences [default: {IndexSettings.overlap_sentences}]")
@click.option(
    "--embedder",
    type=click.Choice(embedder_names()),
    default=None,
    help=f"How the model runs [default: {IndexSettings.embedder}].",
)
@click.option("--bm25", "bm25_method", type=click.Choice(BM25_METHODS), default=None, help=f"[default: {BM25Params.method}]")
@wait_option
@user_errors
def index(
    corpus_dir: Path,
    index_dir: Path,
    full: bool,
    model: str | None,
    chunk_words: int | None,
    overlap: int | None,
    embedder: str | None,
    bm25_method: str | None,
    wait: float,
) -> None:
    """Bring the index up to date with the corpus: only new and changed articles are embedded.

    Settings not given are those of the existing index; changing one rebuilds everything.
    """
    assistant = _assistant(index_dir, corpus_dir)
    report = assistant.update(
        full=full,
        progress=sys.stderr.isatty(),
        wait=wait,
        model=model,
        chunk_words=chunk_words,
        overlap_sentences=overlap,
        embedder=embedder,
        bm25_method=bm25_method,
    )
    click.echo(f"{report.summary()} → {assistant.backend.location}")
    if hint := _model_hint(assistant):
        click.echo(hint, err=True)


def _model_hint(assistant: Assistant) -> str | None:
    """A suggestion to index with the multilingual model when Vietnamese articles are indexed with another."""
    from assistant.embedders import MULTILINGUAL_ALIASES

    if assistant.info()["model"] in MULTILINGUAL_ALIASES:
        return None
    vietnamese = sum(record.metadata.get("language") == "vi" for record in assistant.documents().values())
    if not vietnamese:
        return None
    return (
        f"note: {vietnamese} Vietnamese article(s) indexed with an English-only model; for Vietnamese questions "
        f"index with: assistant index --full --model multilingual-e5-small"
    )


@main.command()
@corpus_option
@index_option
@wait_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@user_errors
def add(corpus_dir: Path, index_dir: Path, wait: float, files: tuple[Path, ...]) -> None:
    """Copy article FILES into the corpus and index them."""
    assistant = _assistant(index_dir, corpus_dir)
    admissions, report = assistant.add_files(files, wait=wait)
    for admission in admissions:
        click.echo(admission.describe())
    if report is not None:
        click.echo(f"{report.summary()} → {assistant.backend.location}")


@main.command()
@corpus_option
@index_option
@wait_option
@click.argument("doc_ids", nargs=-1, required=True)
@user_errors
def remove(corpus_dir: Path, index_dir: Path, wait: float, doc_ids: tuple[str, ...]) -> None:
    """Delete the articles DOC_IDS (paths relative to the corpus) from the corpus and the index."""
    assistant = _assistant(index_dir, corpus_dir)
    removed, report = assistant.remove_articles(doc_ids, wait=wait)
    for doc_id in removed:
        click.echo(f"removed {doc_id}")
    click.echo(f"{report.summary()} → {assistant.backend.location}")


@main.command()
@corpus_option
@index_option
@click.option("--quiet", type=click.FloatRange(0.05), default=1.0, show_default=True, help="Seconds of calm before an update.")
@user_errors
def watch(corpus_dir: Path, index_dir: Path, quiet: float) -> None:
    """Re-index whenever articles in the corpus folder change, until Ctrl-C."""
    logging.getLogger("assistant").setLevel(logging.INFO)
    click.echo(f"watching {corpus_dir}/ → {index_dir}/ (Ctrl-C to stop)", err=True)
    try:
        _assistant(index_dir, corpus_dir).watch(quiet=quiet)
    except KeyboardInterrupt:
        click.echo("stopped watching", err=True)


@main.command()
@index_option
@json_option
@click.option("-k", "k", type=click.IntRange(1), default=None, help="Passages to draw the answer from.")
@scope_options
@llm_options
@click.argument("question")
@user_errors
def ask(
    index_dir: Path, as_json: bool, k: int | None, scope: dict[str, Any], settings: SearchSettings | None, question: str
) -> None:
    """Answer QUESTION (or each stdin line, with '-') with quoted sentences."""
    assistant = _assistant(index_dir, settings=settings)  # loads the index at the first question it accepts

    def reply(position: int, text: str) -> None:
        answer = assistant.ask(text, k=k, **scope)
        if as_json:
            click.echo(answer.to_json())
        else:
            click.echo(("\n" if position else "") + format_answer(answer))

    _each(question, reply)


@main.command()
@index_option
@json_option
@scope_options
@llm_options
@user_errors
def chat(index_dir: Path, as_json: bool, scope: dict[str, Any], settings: SearchSettings | None) -> None:
    """A conversation: follow-up questions keep the topic of earlier turns."""
    from assistant.conversation import ConversationState

    assistant = _load(index_dir, settings)
    state = ConversationState()

    def turn(position: int, line: str) -> None:
        answer = assistant.ask(line, state=state, **scope)
        if as_json:
            click.echo(answer.to_json())
        else:
            click.echo(format_answer(answer) + "\n")

    if not sys.stdin.isatty():
        _each("-", turn)
        return
    click.echo("Ask about the articles; an empty line or Ctrl-D ends the chat.")
    while True:
        try:
            line = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.Abort):
            break
        if not line.strip():
            break
        try:
            turn(0, line.strip())
        except QuestionError as error:
            click.echo(f"Error: {error}", err=True)


@main.command()
@index_option
@json_option
@click.option("-k", "k", type=click.IntRange(1), default=10, show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@scope_options
@click.argument("query")
@user_errors
def search(index_dir: Path, as_json: bool, k: int, mode: Mode, scope: dict[str, Any], query: str) -> None:
    """The ranked passages for QUERY (or each stdin line, with '-')."""
    assistant = _assistant(index_dir)  # loads the index at the first query it accepts

    def show(position: int, text: str) -> None:
        passages = assistant.search(text, k=k, mode=mode, **scope)
        if as_json:
            _emit_json({"query": text, "results": [p.to_dict() for p in passages]})
        else:
            click.echo(f"# {text}")
            click.echo("\n".join(format_passage(p) for p in passages) or "(no passages)")

    _each(query, show)


@main.command("eval")
@index_option
@json_option
@click.option(
    "--qa", "qa_file", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Questions, one JSON per line."
)
@scope_options
@user_errors
def evaluate_command(index_dir: Path, as_json: bool, qa_file: Path, scope: dict[str, Any]) -> None:
    """Measure retrieval and answers on a question file (question; answer and/or doc_id, or unanswerable)."""
    from assistant.evaluation import evaluate, load_qa

    items = load_qa(qa_file)
    report = evaluate(_load(index_dir), items, progress=sys.stderr.isatty(), scope=scope)
    if as_json:
        _emit_json(report)
        return
    retrieval = report["retrieval"]
    click.echo(f"retrieval of the gold document ({retrieval['questions']} questions)")
    click.echo(f"  {'':8} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7} {'nDCG@10':>8}")
    for mode in MODES:
        if m := retrieval[mode]:
            recalls = f"{m['recall_at_1']:6.3f} {m['recall_at_5']:6.3f} {m['recall_at_10']:6.3f}"
            click.echo(f"  {mode:8} {recalls} {m['mrr_at_10']:7.3f} {m['ndcg_at_10']:8.3f}")
    a = report["answers"]
    click.echo(f"answers ({report['questions']} questions)")
    click.echo(f"  answer accuracy      {a['answer_accuracy']:.3f} of {a['answerable']} answerable")
    click.echo(
        f"  first source gold    {a['first_source_gold']:.3f} (hybrid R@1 {retrieval['hybrid'].get('recall_at_1', 0):.3f})"
    )
    click.echo(
        f"  short answers        {a['short_answers']:.3f} given, exact match {a['short_exact_match']:.3f}, F1 {a['short_f1']:.3f}"
    )
    click.echo(f"  abstention precision {a['abstention_precision']:.3f} of {a['abstentions']} abstentions")
    click.echo(f"  abstention recall    {a['abstention_recall']:.3f} of {a['unanswerable']} unanswerable")
    click.echo(f"  quotes verified      {a['verified_quote_share']:.3f} of {a['quotes']} quotes")


@main.command()
@index_option
@json_option
@user_errors
def docs(index_dir: Path, as_json: bool) -> None:
    """List the indexed documents: id, date, format, pages, chunks, language and title."""
    for doc_id, record in _assistant(index_dir).documents().items():
        described = record.describe(doc_id)
        if as_json:
            _emit_json(described)
            continue
        pages = f", {described['pages']} pages" if described["pages"] else ""
        language = f", {described['language']}" if described["language"] else ""
        click.echo(
            f"{doc_id}  {record.published or 'undated'}  {record.format}{pages}, {record.chunks} chunks{language}  {record.title}"
        )


@main.command()
@index_option
@json_option
@click.argument("doc_id")
@user_errors
def show(index_dir: Path, as_json: bool, doc_id: str) -> None:
    """Print the text of DOC_ID exactly as the index keeps it, the text its quotes' offsets point into
    (--json: the document's metadata, its pages' character ranges and its chunk count)."""
    assistant = _assistant(index_dir)
    document = assistant.document(doc_id)
    if as_json:
        _emit_json(assistant.documents()[doc_id].describe(doc_id, len(document.text)))
    else:
        click.echo(document.text, nl=False)


@main.command()
@index_option
@click.option("--from", "source", type=click.Choice(backend_names()), default="local", show_default=True)
@click.option("--to", "target", type=click.Choice(backend_names()), required=True)
@wait_option
@user_errors
def migrate(index_dir: Path, source: str, target: str, wait: float) -> None:
    """Copy the index in use into another backend, vectors and all: nothing is embedded again."""
    from assistant.backends import open_backend
    from assistant.migrate import copy_version

    if source == target:
        raise click.BadParameter("--from and --to name the same backend", param_hint="--to")
    version = open_backend(source, index_dir).open()
    destination = open_backend(target, index_dir)
    name = copy_version(version, destination, wait)
    manifest = version.manifest
    click.echo(f"copied {len(manifest.documents)} documents, {manifest.chunk_count} chunks → {destination.location} ({name})")


@main.command()
@index_option
@json_option
@user_errors
def info(index_dir: Path, as_json: bool) -> None:
    """Documents, chunks, model and build time of the index."""
    summary = _assistant(index_dir).info()
    if as_json:
        _emit_json(summary)
        return
    for key, value in summary.items():
        click.echo(f"{key.replace('_', ' ')}: {value}")
