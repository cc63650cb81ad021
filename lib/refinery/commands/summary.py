"""The summary a run prints: one screen of rows in, out and rejected per stage, rejects by rule, warnings."""

from __future__ import annotations

SUMMARY_WIDTH = 120  # summary lines are cut here: the summary stays one screen, the ledger has every metric


def format_summary(results, total_seconds: float) -> str:
    """A one-screen table: rows in/out/rejected per stage, output versions, time, rejects by rule."""
    header = f"{'stage':<8} {'in':>9} {'out':>9} {'rejected':>9} {'version':>7} {'time':>7}  output"
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.stage:<8} {r.rows_in:>9,} {r.rows_out:>9,} {r.rows_rejected:>9,} {r.output_version:>7} "
            f"{r.seconds:>6.1f}s  {r.output.key if r.output else '-'}"
        )
    for r in results:
        tables = {k.removeprefix("table."): v for k, v in r.metrics.items() if k.startswith("table.")}
        lines.extend(f"  {r.stage} {name}: {usage}" for name, usage in tables.items())
        if r.rejected_by_rule:
            by_count = sorted(r.rejected_by_rule.items(), key=lambda kv: -kv[1])
            lines.append(_one_line(f"  {r.stage} rejected: ", [f"{rule} {n:,}" for rule, n in by_count]))
        extra = {k: v for k, v in r.metrics.items() if not k.startswith(("rejected.", "table."))}
        if extra:
            lines.append(_one_line(f"  {r.stage} metrics: ", [f"{k}={v}" for k, v in sorted(extra.items())]))
    for r in results:
        lines.extend(_cut(f"  {r.stage} warning: {warning}") for warning in r.warnings)
    lines.append(f"total {total_seconds:.1f}s")
    return "\n".join(lines)


def _one_line(prefix: str, items: list[str], width: int = SUMMARY_WIDTH) -> str:
    """`prefix` and the items that fit in `width` characters; the rest are counted (the ledger has them all)."""
    shown: list[str] = []
    for index, item in enumerate(items):
        left = len(items) - index - 1
        tail = f", ... {left} more in the ledger" if left else ""
        if shown and len(prefix + ", ".join([*shown, item]) + tail) > width:
            return prefix + ", ".join(shown) + f", ... {len(items) - len(shown)} more in the ledger"
        shown.append(item)
    return prefix + ", ".join(shown)


def _cut(line: str, width: int = SUMMARY_WIDTH) -> str:
    """A line cut at `width` characters (the ledger's `warnings` metric has it whole)."""
    return line if len(line) <= width else line[: width - 3] + "..."
