"""bm25s (what the index uses) against rank_bm25 (the reference) on one fixture corpus."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi, BM25Plus

from assistant.backends.local.lexical import BM25Index
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
def test_bm25s_scores_equal_rank_bm25(method, k1, b, delta):
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


def test_save_and_load_keep_scores(tmp_path):
    tokens = [document_terms(t) for t in CORPUS]
    index = BM25Index.build(tokens, BM25Params())
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    terms = query_terms(QUERIES[0])
    np.testing.assert_allclose(loaded.scores(terms), index.scores(terms))


@pytest.mark.parametrize("method", sorted(REFERENCES))
def test_our_matrix_equals_the_one_bm25s_builds(method):
    """The vectorised builder leaves bm25s in the state its own index() would."""
    import bm25s

    from assistant.backends.local.lexical import BM25S_VARIANTS, TermTable, score_matrix

    params = BM25Params(method=method)
    table = TermTable.from_terms([document_terms(text) for text in CORPUS])
    tf_method, idf_method = BM25S_VARIANTS[method]
    reference = bm25s.BM25(k1=params.k1, b=params.b, delta=params.delta, method=tf_method, idf_method=idf_method)
    rows = [table.ids[a:b].tolist() for a, b in zip(table.offsets[:-1], table.offsets[1:], strict=True)]
    reference.index((rows, {t: i for i, t in enumerate(table.vocab)}), show_progress=False)
    data, indices, indptr, nonoccurrence = score_matrix(table, params)
    np.testing.assert_array_equal(indptr, reference.scores["indptr"])
    np.testing.assert_array_equal(indices, reference.scores["indices"])
    np.testing.assert_allclose(data, reference.scores["data"], rtol=1e-5, atol=1e-6)
    if method == "bm25+":
        np.testing.assert_allclose(nonoccurrence, reference.nonoccurrence_array, rtol=1e-6)
    else:
        assert nonoccurrence is None and reference.nonoccurrence_array is None
