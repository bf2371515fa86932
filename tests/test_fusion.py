import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.fusion import best_first, min_max, reciprocal_rank_fusion, weighted_fusion


def test_min_max_scales_to_unit_range_and_flat_scores_to_zero():
    assert min_max({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert min_max({1: 5.0, 2: 5.0}) == {1: 0.0, 2: 0.0}
    assert min_max({}) == {}


def test_weighted_fusion_order_and_values_by_hand():
    # lexical normalised: a=1.0, b=0.5, c=0.0 ; dense normalised: a=0.0, b=1.0, c=0.75
    lexical = {1: 10.0, 2: 6.0, 3: 2.0}
    dense = {1: 0.2, 2: 0.6, 3: 0.5}
    fused = weighted_fusion(lexical, dense, dense_weight=0.4)
    # 1: 0.6*1.0 + 0.4*0.0 = 0.6 ; 2: 0.6*0.5 + 0.4*1.0 = 0.7 ; 3: 0.6*0 + 0.4*0.75 = 0.3
    assert [i for i, _ in fused] == [2, 1, 3]
    assert [round(s, 6) for _, s in fused] == [0.7, 0.6, 0.3]


def test_weighted_fusion_extremes_reduce_to_one_side():
    lexical = {1: 3.0, 2: 1.0, 3: 2.0}
    dense = {1: 0.1, 2: 0.9, 3: 0.5}
    assert [i for i, _ in weighted_fusion(lexical, dense, 0.0)] == [1, 3, 2]
    assert [i for i, _ in weighted_fusion(lexical, dense, 1.0)] == [2, 3, 1]


def test_reciprocal_rank_fusion_by_hand():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=1)
    # 1: 1/2 + 1/3 ; 3: 1/4 + 1/2 ; 2: 1/3
    assert [i for i, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 2 + 1 / 3)
    assert fused[1][1] == pytest.approx(1 / 4 + 1 / 2)


def test_ties_break_by_id():
    assert [i for i, _ in reciprocal_rank_fusion([[5], [4]], k=60)] == [4, 5]


@given(
    st.lists(st.integers(min_value=0, max_value=6), min_size=0, max_size=60),
    st.integers(min_value=1, max_value=20),
)
def test_best_first_is_a_stable_sorts_first_k(scores, k):
    ids = np.arange(100, 100 + len(scores))
    values = np.array(scores, dtype=np.float32)  # few distinct values: many ties at the cut
    expected = ids[np.argsort(-values, kind="stable")][:k]
    assert best_first(ids, values, k).tolist() == expected.tolist()
