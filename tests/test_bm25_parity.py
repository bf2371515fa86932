"""Our BM25 over segments against rank_bm25 (the reference) on one fixture corpus."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi, BM25Plus

from assistant.backends.local.lexical import BM25Index, LexicalPart, Postings
from assistant.settings import BM25Params
from assistant.textnorm import document_terms, query_terms

CORPUS = [
    "The Son La provincial Border Guard Command met the Luang Prabang Military Command.",
    "Both sides signed a Memorandum of Understanding on border security and order.",
    "The fifth Việt Nam – Laos defence policy dialogue was held in Luang Prabang on March 28.",
    "Joint patrols prevent illegal cross-border immigration, drug and human trafficking.",
    "Medical supplies helped the Lao partners fight COVID-19; cattle went to Lao households.",
    "The deputy ministers acknowledged fruitful bilateral defence cooperation on the border.",
    "Border border border: a chunk that repeats one term to test saturation.",  # "border" in over half: idf clamped
    "Translated by Mai Huong",
]
QUERIES = [
    "Who led the Lao side at the Son La border meeting?",
    "border security memorandum",
    "Viet Nam Laos dialogue in Luang Prabang",
    "cattle for households",
    "border border patrols",
    "a question with no known word xyzzy",
]
REFERENCES = {
    "okapi": lambda tokens, p: BM25Okapi(tokens, k1=p.k1, b=p.b, epsilon=0.0),
    "bm25+": lambda tokens, p: BM25Plus(tokens, k1=p.k1, b=p.b, delta=p.delta),
}


@pytest.mark.parametrize("method", sorted(REFERENCES))
@pytest.mark.parametrize(("k1", "b", "delta"), [(1.5, 0.75, 1.0), (1.2, 0.5, 0.5), (0.9, 1.0, 0.25)])
def test_scores_equal_rank_bm25(method, k1, b, delta):
    params = BM25Params(method=method, k1=k1, b=b, delta=delta)
    tokens = [document_terms(text) for text in CORPUS]
    ours = BM25Index.build(tokens, params)
    reference = REFERENCES[method](tokens, params)
    for query in QUERIES:
        terms = query_terms(query)
        expected = reference.get_scores(terms) if terms else np.zeros(len(CORPUS))
        np.testing.assert_allclose(ours.scores(terms), expected, rtol=1e-5, atol=1e-5, err_msg=f"{method}: {query}")


def test_matching_lists_the_chunks_holding_a_term():
    index = BM25Index.build([document_terms(t) for t in CORPUS], BM25Params())
    assert index.matching(query_terms("cattle")).tolist() == [4]
    assert index.matching(query_terms("Luang Prabang")).tolist() == [0, 2]
    assert index.matching(["xyzzy"]).tolist() == []


def test_idf_is_positive_and_rarer_terms_weigh_more():
    index = BM25Index.build([document_terms(t) for t in CORPUS], BM25Params())
    assert index.idf("cattl") > index.idf("border") > 0
    assert index.idf("never-seen") == index.idf("cattl")  # an unseen term weighs as a term seen once
    assert index.knows("cattl") and not index.knows("never-seen")


def test_postings_saved_and_loaded_keep_scores(tmp_path):
    postings = Postings.from_terms([document_terms(t) for t in CORPUS])
    postings.save(tmp_path / "terms")
    loaded = BM25Index([LexicalPart(Postings.load(tmp_path / "terms"), None, 0)], BM25Params())
    terms = query_terms(QUERIES[0])
    built = BM25Index.build([document_terms(t) for t in CORPUS], BM25Params())
    np.testing.assert_allclose(loaded.scores(terms), built.scores(terms))


DELETED = {1, 4, 9}  # rows of the segmented corpus below that were deleted after they were written


def segmented(texts: list[str], sizes: list[int]) -> list[LexicalPart]:
    """`texts` in segments of `sizes` rows, with the rows in DELETED marked deleted."""
    parts, base = [], 0
    for size in sizes:
        rows = range(base, base + size)
        live = np.array([row not in DELETED for row in rows])
        parts.append(LexicalPart(Postings.from_terms([document_terms(texts[r]) for r in rows]), live, base))
        base += size
    return parts


@pytest.mark.parametrize("method", sorted(REFERENCES))
def test_segments_with_deletions_score_as_one_index_of_the_live_rows(method):
    """Document frequencies and average length are those of every live row of every segment."""
    params = BM25Params(method=method)
    texts = [*CORPUS, *(t.replace("border", "frontier") for t in CORPUS[:4])]
    index = BM25Index(segmented(texts, [5, 1, 6]), params)
    live = [row for row in range(len(texts)) if row not in DELETED]
    reference = REFERENCES[method]([document_terms(texts[r]) for r in live], params)
    for query in QUERIES:
        terms = query_terms(query)
        expected = reference.get_scores(terms) if terms else np.zeros(len(live))
        np.testing.assert_allclose(index.scores(terms)[live], expected, rtol=1e-5, atol=1e-5, err_msg=f"{method}: {query}")
        assert not set(index.matching(terms).tolist()) & DELETED
    assert index.live_count == len(live)
    assert index.knows("frontier") and not index.knows("cattl")  # its only row was deleted


def test_merged_postings_equal_those_built_from_the_live_rows():
    texts = [*CORPUS, *(t.replace("border", "frontier") for t in CORPUS[:4])]
    parts = segmented(texts, [5, 1, 6])
    merged = Postings.merge([(p.postings, p.live) for p in parts])
    fresh = Postings.from_terms([document_terms(t) for row, t in enumerate(texts) if row not in DELETED])
    assert merged.terms == fresh.terms
    for term in fresh.terms:
        assert [a.tolist() for a in merged.of(term)] == [a.tolist() for a in fresh.of(term)], term
    assert merged.lengths.tolist() == fresh.lengths.tolist()
