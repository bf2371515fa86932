"""How well the llm answerer's citation check (assistant/answerers/llm.py) tells supported claims from
unsupported ones, on scripted replies over the seed corpus. No model server: each reply is what a model
could write for a seed question given the prompt's numbered sentences, and it is judged by the very code
that judges a real reply (`parse_claims`, then `check` against `MIN_SUPPORT`).

For each answerable seed question (tests/qa/seed_qa.jsonl) whose gold answer is in a prompt sentence:

good replies (should be kept)
- `copy`: the gold sentence itself, citing it;
- `clause`: the clause of the gold sentence that holds the answer, citing it;
- `restated`: the question turned into a statement with the answer ("Viliem Vongthisan: led the Lao side
  at the Son La border meeting"), citing the gold sentence: words from the question, not the sentence;
- `two claims`: the gold sentence, then another prompt sentence, each citing its own.

bad replies (should be removed)
- `wrong citation`: the gold sentence citing the prompt sentence sharing fewest words with it;
- `missing number`: the gold sentence citing a number past the prompt's last;
- `uncited`: the gold sentence with no marker;
- `negated`: the gold sentence with "not" put in, citing it;
- `other fact`: another question's gold sentence (from another article where possible), citing this gold sentence;
- `changed number`: the gold sentence with a number changed (only where it has one), citing it;
- `swapped name`: the gold answer replaced by another question's answer, citing the gold sentence. The
  lexical check cannot see this one when the other answer's words are in the cited sentence too.

Claims, not replies, are counted; the threshold sweep shows what another `MIN_SUPPORT` would trade.
Writes benchmarks/results/llm_verification.json. The index is built with the shipped embedder (MiniLM, ONNX);
short answers by rules.

    nice -n 10 .venv/bin/python benchmarks/llm_verification.py
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.answerers.llm import MIN_SUPPORT, Numbered, check, numbered_sentences, parse_claims
from assistant.core import Assistant
from assistant.evaluation import QAItem, contains_fact, load_qa
from assistant.indexer import update_index
from assistant.question import Question
from assistant.settings import IndexSettings, SearchSettings
from assistant.textnorm import analyze

ROOT = Path(__file__).resolve().parent.parent
QA_FILE = ROOT / "tests" / "qa" / "seed_qa.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "llm_verification.json"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
GOOD = ("copy", "clause", "restated", "two claims")


def words(text: str) -> set[str]:
    return set(analyze(text).words)


def statement(question: str, answer: str) -> str:
    """The question as a crude statement with its answer: "Viliem Vongthisan: led the Lao side …"."""
    rest = re.sub(r"^\s*(who|what|which|when|where|how many|how much|how)\b\s*", "", question.rstrip(" ?"), flags=re.I)
    return f"{answer}: {rest}"


def clause_with(sentence: str, answer: str) -> str:
    """The comma- or semicolon-separated piece of `sentence` that holds `answer` (the whole if none does)."""
    pieces = [p.strip() for p in re.split(r"[,;]\s+|\s+while\s+", sentence)]
    return next((p for p in pieces if contains_fact(p, answer)), sentence).rstrip(".")


def replies(
    item: QAItem, gold: Numbered, sentences: list[Numbered], others: list[tuple[QAItem, str, str]]
) -> list[tuple[str, str]]:
    """(kind, reply) pairs for one question: the good and bad kinds named in the module docstring."""
    assert item.answer is not None
    text = " ".join(gold.text.split()).rstrip(".")
    n = gold.n
    farthest = min((s for s in sentences if s.n != n), key=lambda s: (len(words(s.text) & words(text)), s.n))
    second = next((s for s in sentences if s.n != n and s.text != gold.text), farthest)
    other_item, other_sentence, _ = next(
        ((o, s, d) for o, s, d in others if d != gold.passage.document.doc_id and s != gold.text), others[0]
    )
    made = [
        ("copy", f"{text} [{n}]."),
        ("clause", f"{clause_with(text, item.answer)} [{n}]."),
        ("restated", f"{statement(item.question, item.answer)} [{n}]."),
        ("two claims", f"{text} [{n}]. {' '.join(second.text.split()).rstrip('.')} [{second.n}]."),
        ("wrong citation", f"{text} [{farthest.n}]."),
        ("missing number", f"{text} [{len(sentences) + 3}]."),
        ("uncited", f"{text}."),
        ("negated", f"{_negate(text)} [{n}]."),
        ("other fact", f"{' '.join(other_sentence.split()).rstrip('.')} [{n}]."),
    ]
    if re.search(r"\d", text):
        changed = re.sub(r"\d+", lambda m: str(int(m.group()) + 7), text, count=1)
        made.append(("changed number", f"{changed} [{n}]."))
    if other_item.answer and not contains_fact(other_item.answer, item.answer) and item.answer in text:
        made.append(("swapped name", f"{text.replace(item.answer, other_item.answer)} [{n}]."))
    return made


def _negate(text: str) -> str:
    negated, count = re.subn(r"\b(was|were|is|are|has|have|will|did)\b", r"\1 not", text, count=1)
    return negated if count else f"It is not true that {text[0].lower()}{text[1:]}"


def main() -> int:
    items = [i for i in load_qa(QA_FILE) if not i.unanswerable and i.answer]
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        index_dir = Path(folder) / "index"
        update_index(ROOT / "corpus", index_dir, IndexSettings())
        assistant = Assistant.load(index_dir, SearchSettings(short_answers="rules"))
        prompts: list[tuple[QAItem, list[Numbered], Numbered]] = []
        skipped = Counter[str]()
        for item in items:
            assert item.answer is not None
            if assistant.ask(item.question).abstained:
                skipped["extractive abstains: the model is not asked"] += 1
                continue
            found = assistant.retriever.search(Question.analyse(item.question), assistant.settings.answer_passages)
            sentences = numbered_sentences(found)
            gold = next((s for s in sentences if contains_fact(s.text, item.answer)), None)
            if gold is None:
                skipped["gold answer in no prompt sentence"] += 1
                continue
            prompts.append((item, sentences, gold))
    others = [(item, " ".join(gold.text.split()), gold.passage.document.doc_id) for item, _, gold in prompts]
    rows: list[dict[str, Any]] = []
    for at, (item, sentences, gold) in enumerate(prompts):
        by_number = {s.n: s for s in sentences}
        rotated = others[at + 1 :] + others[:at]
        for kind, reply in replies(item, gold, sentences, rotated):
            for claim in parse_claims(reply):
                support = check(claim, by_number, Question.analyse(item.question))
                rows.append({"question": item.question, "kind": kind, "good": kind in GOOD, "claim": claim.text,
                             "cites": list(claim.cites), "support": round(support, 3)})  # fmt: skip
    kinds: dict[str, dict[str, Any]] = {}
    for kind in dict.fromkeys(r["kind"] for r in rows):
        of_kind = [r for r in rows if r["kind"] == kind]
        kept = sum(r["support"] >= MIN_SUPPORT for r in of_kind)
        kinds[kind] = {"good": of_kind[0]["good"], "claims": len(of_kind), "kept": kept, "removed": len(of_kind) - kept}
    good, bad = [r for r in rows if r["good"]], [r for r in rows if not r["good"]]
    sweep = [
        {
            "min_support": t,
            "good_kept": round(sum(r["support"] >= t for r in good) / len(good), 3),
            "bad_removed": round(sum(r["support"] < t for r in bad) / len(bad), 3),
        }
        for t in THRESHOLDS
    ]
    report = {
        "min_support": MIN_SUPPORT,
        "questions": len(prompts),
        "skipped": dict(skipped),
        "good_claims": len(good),
        "good_kept": sum(r["support"] >= MIN_SUPPORT for r in good),
        "bad_claims": len(bad),
        "bad_removed": sum(r["support"] < MIN_SUPPORT for r in bad),
        "by_kind": kinds,
        "sweep": sweep,
        "embedder": IndexSettings().embedder,
        "model": IndexSettings().model,
        "seconds": round(time.perf_counter() - began, 1),
        "kept_bad_examples": [r for r in bad if r["support"] >= MIN_SUPPORT][:10],
        "removed_good_examples": [r for r in good if r["support"] < MIN_SUPPORT][:10],
    }
    RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(prompts)} questions; good claims kept {report['good_kept']}/{len(good)}, "
          f"bad claims removed {report['bad_removed']}/{len(bad)} at MIN_SUPPORT {MIN_SUPPORT}")  # fmt: skip
    for kind, counts in kinds.items():
        print(f"  {'good' if counts['good'] else 'bad ':4} {kind:15} kept {counts['kept']:3} / {counts['claims']}")
    for row in sweep:
        print(f"  min_support {row['min_support']:.1f}: good kept {row['good_kept']:.3f}, bad removed {row['bad_removed']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
