"""The merge policy (pure): which segments an update merges, and that the count of segments stays bounded."""

from hypothesis import given
from hypothesis import strategies as st

from assistant.backends.local.segments import MERGE_FACTOR, SMALLEST_TIER, plan_merges, size_tier


def test_tiers_grow_by_the_merge_factor():
    assert [size_tier(n) for n in (0, 1, SMALLEST_TIER - 1)] == [0, 0, 0]
    assert size_tier(SMALLEST_TIER) == 1 and size_tier(SMALLEST_TIER * MERGE_FACTOR - 1) == 1
    assert size_tier(SMALLEST_TIER * MERGE_FACTOR) == 2


def test_a_tier_is_merged_once_it_holds_merge_factor_segments():
    assert plan_merges([(5, 0)] * (MERGE_FACTOR - 1)) == []
    assert plan_merges([(5, 0)] * MERGE_FACTOR) == [list(range(MERGE_FACTOR))]
    big = [(50_000, 0)]
    assert plan_merges(big + [(5, 0)] * (MERGE_FACTOR - 1)) == []  # a big segment is not in the small ones' tier


def test_a_merge_that_fills_the_next_tier_cascades():
    middle = [(2_000, 0)] * (MERGE_FACTOR - 1)
    small = [(200, 0)] * MERGE_FACTOR  # 2,000 chunks together: the middle tier's tenth
    assert plan_merges(middle + small) == [list(range(2 * MERGE_FACTOR - 1))]


def test_a_segment_mostly_deleted_is_rewritten_alone():
    assert plan_merges([(100_000, 0), (400, 250), (400, 100)]) == [[1]]


def test_deleted_chunks_do_not_count_towards_a_tier():
    assert plan_merges([(5_000, 4_999)] + [(5, 0)] * (MERGE_FACTOR - 1)) == [list(range(MERGE_FACTOR))]


def apply(sizes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """What an update leaves after the merges it plans (as LocalBackend.commit applies them)."""
    while groups := plan_merges(sizes):
        for group in sorted(groups, key=min, reverse=True):
            merged = (sum(sizes[i][0] - sizes[i][1] for i in group), 0)
            sizes = [s for i, s in enumerate(sizes) if i not in group[1:]]
            sizes[min(group)] = merged
    return sizes


@given(st.lists(st.integers(min_value=1, max_value=3_000), min_size=1, max_size=300))
def test_the_count_of_segments_stays_bounded_by_the_tiers(additions):
    sizes: list[tuple[int, int]] = []
    for chunks in additions:
        sizes = apply([*sizes, (chunks, 0)])
        tiers = size_tier(sum(n for n, _ in sizes)) + 1
        assert len(sizes) < MERGE_FACTOR * tiers
    assert sum(n for n, _ in sizes) == sum(additions)
