"""Who is named on the letter when some signers asked to be named only once
enough colleagues are.

The rule: the largest group of conditional signers such that each one's number
N is met by the named signers other than themselves (the unconditional ones plus
the rest of the group). A group of size k works exactly when every member's N is
at most `unconditional + k - 1`, so the best group of size k is the k smallest
thresholds; the answer is the largest k for which that holds. Signers with equal
thresholds are never split (if the k-th and (k+1)-th are equal, k+1 works too),
so the group is "everyone whose threshold is at most the cutoff".
"""

from __future__ import annotations

from collections.abc import Iterable


def naming_cutoff(unconditional_named: int, thresholds: Iterable[int]) -> int | None:
    """The largest threshold that is named today, or None if no conditional signer is."""
    ordered = sorted(thresholds)
    cutoff = None
    for size, threshold in enumerate(ordered, start=1):
        if threshold <= unconditional_named + size - 1:
            cutoff = threshold
    return cutoff


def is_named(threshold: int, cutoff: int | None) -> bool:
    return cutoff is not None and threshold <= cutoff


def named_count(unconditional_named: int, thresholds: Iterable[int]) -> int:
    """How many conditional signers the rule names."""
    values = list(thresholds)
    cutoff = naming_cutoff(unconditional_named, values)
    return sum(1 for t in values if is_named(t, cutoff))
