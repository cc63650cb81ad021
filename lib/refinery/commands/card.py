"""`refinery card`: a dataset card (card.md + PNG plots) for the current gold or a named release.

`refinery.commands.card_numbers` computes what the card states; this module writes it as markdown and draws
the plots, from those numbers only.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from refinery.commands.card_numbers import GROUPS, CardNumbers, Skew, card_numbers  # noqa: E402
from refinery.config import CardConfig, Config  # noqa: E402
from refinery.lake.store import Lake  # noqa: E402


def write_card(lake: Lake, config: Config, out: str | Path, *, release: str | None = None) -> Path:
    """Write `<out>/card.md` and its plots; return the card's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    numbers = card_numbers(lake, config, release)
    lines = render_card(numbers, config.card)
    draw_plots(numbers, config.card, out)
    path = out / "card.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def render_card(n: CardNumbers, cfg: CardConfig) -> list[str]:
    """The card's markdown lines."""
    return [
        f"# Dataset card: {n.title}",
        "",
        *_overview(n),
        *_composition(n),
        *_lengths(n),
        *_rejects(n),
        *_privacy_and_duplicates(n),
        *_representativeness(n, cfg),
        *_changes(n),
    ]


def draw_plots(n: CardNumbers, cfg: CardConfig, out: Path) -> None:
    """composition.png, lengths.png, rejects.png (when there is a rejects table), representativeness.png."""
    figure, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for column, by in enumerate(GROUPS):
        names = [str(g) for g, _, _ in n.composition[by]]
        axes[0][column].bar(names, [d for _, d, _ in n.composition[by]], color="#4c72b0")
        axes[0][column].set_title(f"docs by {by}")
        axes[1][column].bar(names, [t for _, _, t in n.composition[by]], color="#dd8452")
        axes[1][column].set_title(f"tokens by {by}")
    save_figure(figure, out / "composition.png")

    figure, axis = plt.subplots(figsize=(9, 3.5))
    axis.bar([label for label, _ in n.lengths], [docs for _, docs in n.lengths], color="#55a868")
    axis.set_xlabel("tokens per doc")
    axis.set_ylabel("docs")
    axis.tick_params(axis="x", rotation=30)
    save_figure(figure, out / "lengths.png")

    if n.rejects is not None:
        figure, axis = plt.subplots(figsize=(9, max(2.5, 0.3 * len(n.rejects))))
        axis.barh([f"{s} / {r}" for s, r, _ in n.rejects][::-1], [c for _, _, c in n.rejects][::-1], color="#c44e52")
        axis.set_xlabel("rows")
        save_figure(figure, out / "rejects.png")

    if n.representativeness:
        groups = n.representativeness
        figure, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.5), squeeze=False)
        for column, (by, skews) in enumerate(groups.items()):
            axis, positions = axes[0][column], range(len(skews))
            axis.bar(
                [p - 0.2 for p in positions], [s.actual for s in skews], width=0.4, label="actual", color="#4c72b0"
            )
            axis.bar(
                [p + 0.2 for p in positions], [s.target for s in skews], width=0.4, label="target", color="#bbbbbb"
            )
            axis.set_xticks(list(positions), [s.group for s in skews])
            axis.set_title(f"share of {cfg.measure} by {by}")
            axis.legend()
        save_figure(figure, out / "representativeness.png")


# ---------------------------------------------------------------------------------------- sections


def _overview(n: CardNumbers) -> list[str]:
    lines = ["## Overview", "", f"- docs: {n.docs:,}", f"- tokens ({n.tokenizer}): {n.tokens:,}"]
    lines.append(f"- gold version: {n.gold_version}")
    if n.release is not None:
        r = n.release
        lines += [
            f"- release table: {r.table} (version {r.table_version}), created {r.created_at:%Y-%m-%d %H:%M} UTC",
            f"- config hash: {r.config_hash}, code version: {r.code_version}",
            "- input versions: " + ", ".join(f"{k} {v}" for k, v in sorted(r.input_versions.items())),
        ]
    return [*lines, ""]


def _composition(n: CardNumbers) -> list[str]:
    lines = ["## Composition", "", "![docs and tokens by split, lang and source](composition.png)", ""]
    for by in GROUPS:
        lines += [f"### By {by}", ""] + markdown_table((by, "docs", "tokens"), n.composition[by])
    return lines


def _lengths(n: CardNumbers) -> list[str]:
    p50, p90, p99, longest = n.length_quantiles
    lines = ["## Document length (tokens)", "", "![length distribution](lengths.png)", ""]
    lines += [f"Median {p50:,}, p90 {p90:,}, p99 {p99:,}, longest {longest:,} tokens.", ""]
    return lines + markdown_table(("tokens", "docs"), n.lengths)


def _rejects(n: CardNumbers) -> list[str]:
    if n.rejects is None:
        return ["## Rejected rows", "", "No rejects table.", ""]
    lines = ["## Rejected rows", "", "![rejects by stage and rule](rejects.png)", ""]
    return lines + markdown_table(("stage", "rule", "rows"), n.rejects)


def _privacy_and_duplicates(n: CardNumbers) -> list[str]:
    lines = ["## Privacy and duplicates", ""]
    if n.pii is None:
        lines += ["PII counts unavailable: the silver_dedup version behind this gold is unknown.", ""]
    else:
        lines += ["PII redacted (replaced by a typed placeholder) in the docs of this dataset:", ""]
        lines += markdown_table(("kind", "redactions"), n.pii) if n.pii else ["None found.", ""]
    if n.dedup is not None:
        metrics = n.dedup["metrics"]
        lines += [
            f"Dedup removed {n.dedup['rows_rejected']:,} of {n.dedup['rows_in']:,} docs (dup rate "
            f"{metrics.get('dup_rate', '?')}): exact {metrics.get('rejected.exact', '0')}, "
            f"near-duplicate (MinHash) {metrics.get('rejected.minhash', '0')}.",
            "",
        ]
    return lines


def _representativeness(n: CardNumbers, cfg: CardConfig) -> list[str]:
    if not n.representativeness:
        return ["## Representativeness", "", "No target shares configured (`card.targets`).", ""]
    lines = ["## Representativeness", "", "![actual vs target shares](representativeness.png)", ""]
    for by, skews in n.representativeness.items():
        flagged = [s for s in skews if abs(s.skew) > cfg.skew_threshold]
        rows = [(s.group, s.actual, s.target, s.skew, "yes" if s in flagged else "") for s in skews]
        lines += [f"### {by} (share of {cfg.measure}, flagged beyond ±{cfg.skew_threshold:.0%})", ""]
        lines += markdown_table((by, "actual", "target", "skew", "flagged"), rows)
        lines += [f"- {_skew_sentence(by, s, cfg.measure)}" for s in flagged] or [
            f"- Every {by} is within the threshold."
        ]
        lines.append("")
    return lines


def _skew_sentence(by: str, s: Skew, measure: str) -> str:
    direction = "over-represented" if s.actual > s.target else "under-represented"
    if s.target == 0:
        return f"{by} `{s.group}` is {s.actual:.1%} of {measure} but has no target share: not planned for."
    return (
        f"{by} `{s.group}` is {s.actual:.1%} of {measure} against a target of {s.target:.1%} "
        f"({s.skew * 100:+.1f} points): {direction}."
    )


def _changes(n: CardNumbers) -> list[str]:
    lines = ["## Changes since the previous release", ""]
    c = n.changes
    if c is None:
        return [*lines, "This is the first release.", ""]
    lines += [f"Against release `{c.previous}` (gold version {c.previous_gold_version}):", ""]
    lines += markdown_table(
        ("added", "removed", "changed", "unchanged"), [(c.added, c.removed, c.changed, c.unchanged)]
    )
    for by, shares in c.shares.items():
        rows = [(group, before, after, after - before) for group, before, after in shares]
        lines += [f"Share of docs by {by}:", ""] + markdown_table((by, "before", "after", "change"), rows)
    return lines


def markdown_table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def save_figure(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
