"""What a quality filter decides about a document: the `Verdict`, and the detail of a failed rule in words.

Shared by the Python filters (`refinery.transforms.quality`, the reference) and their compiled kernel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """The text after line removal, and the rule and detail when the document is dropped."""

    text: str
    rule: str | None = None
    detail: str | None = None


def fails(rule: str, value: float, op: str, threshold: float, unit: str = "") -> tuple[str, str]:
    """The rule and its detail: the measured value (3 decimals), the comparison and the threshold."""
    shown = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    name = rule.split(":", 1)[1]
    return rule, f"{name} {shown}{' ' + unit if unit else ''} {op} {threshold}"
