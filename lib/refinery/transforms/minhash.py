"""MinHash-LSH parameters: how many bands of how many rows, chosen from the Jaccard threshold.

The first piece of fuzzy dedup (issue 6). Bands x rows is picked the way datasketch does: minimize
the weighted sum of the false-positive probability (pairs below the threshold that share a band) and
the false-negative probability (pairs above it that share none), integrated over Jaccard similarity.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LshBands:
    bands: int
    rows: int

    def collision_probability(self, jaccard: float) -> float:
        """Probability that two documents with this Jaccard similarity share at least one band."""
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands


def _integrate(function, low: float, high: float, steps: int = 200) -> float:
    """Simpson's rule; the integrands are smooth polynomials in s, so 200 steps are plenty."""
    if high <= low:
        return 0.0
    width = (high - low) / steps
    total = function(low) + function(high)
    for i in range(1, steps):
        total += (4 if i % 2 else 2) * function(low + i * width)
    return total * width / 3


def optimal_bands(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> LshBands:
    """The bands x rows (bands * rows <= num_perm) with the least weighted false-positive + false-negative area."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    if num_perm < 2:
        raise ValueError(f"num_perm must be at least 2, got {num_perm}")
    best, best_error = LshBands(1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            candidate = LshBands(bands, rows)
            false_positive = _integrate(candidate.collision_probability, 0.0, threshold)
            false_negative = _integrate(lambda s, c=candidate: 1.0 - c.collision_probability(s), threshold, 1.0)
            error = false_positive_weight * false_positive + false_negative_weight * false_negative
            if error < best_error:
                best, best_error = candidate, error
    return best
