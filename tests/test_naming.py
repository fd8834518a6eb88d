"""The conditional-naming rule, checked against its definition and its promises."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from petition.naming import is_named, named_count, naming_cutoff

thresholds = st.lists(st.integers(min_value=1, max_value=15), max_size=9)
unconditional = st.integers(min_value=0, max_value=12)


def _largest_group_by_definition(unconditional_named: int, values: list[int]) -> int:
    """Try every group: each member's N met by the named signers other than themselves."""
    for size in range(len(values), 0, -1):
        for group in combinations(values, size):
            if all(n <= unconditional_named + size - 1 for n in group):
                return size
    return 0


@settings(max_examples=300, deadline=None)
@given(unconditional, thresholds)
def test_the_rule_names_the_largest_group_the_definition_allows(u, values):
    assert named_count(u, values) == _largest_group_by_definition(u, values)


@settings(max_examples=300, deadline=None)
@given(unconditional, thresholds, st.randoms())
def test_the_order_of_signing_does_not_matter(u, values, rnd):
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert naming_cutoff(u, values) == naming_cutoff(u, shuffled)


@settings(max_examples=300, deadline=None)
@given(unconditional, thresholds)
def test_one_more_unconditional_name_never_unnames_anyone(u, values):
    before, after = naming_cutoff(u, values), naming_cutoff(u + 1, values)
    for n in values:
        if is_named(n, before):
            assert is_named(n, after)


@settings(max_examples=300, deadline=None)
@given(unconditional, thresholds, st.integers(min_value=1, max_value=15))
def test_one_more_conditional_signer_never_unnames_anyone(u, values, extra):
    before, after = naming_cutoff(u, values), naming_cutoff(u, [*values, extra])
    for n in values:
        if is_named(n, before):
            assert is_named(n, after)


def test_examples():
    assert naming_cutoff(0, []) is None
    # Ten colleagues each waiting for ten others: together they are enough.
    assert named_count(0, [10] * 11) == 11
    assert named_count(0, [10] * 10) == 0
    # A gap is bridged by the larger group, not stopped by it.
    assert named_count(8, [1, 10, 10]) == 3
    assert named_count(3, [1, 2, 50]) == 2
