"""`refinery card` for record data: splits and labels, what was removed and why, re-identification risk, and
fairness and representativeness per sensitive attribute and split, with plots.

Every number comes from Spark aggregates over the described table (gold or a release) and, for the reference
shares, silver's current rows at the version that gold was published from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Row
from pyspark.sql import functions as F

from refinery.commands.card import markdown_table, plt, save_figure
from refinery.commands.card_numbers import card_subject, rejects_by_rule
from refinery.config import Config
from refinery.lake.gold import anonymity_report
from refinery.lake.store import Lake
from refinery.transforms.tabular.anonymity import AnonymityReport
from refinery.transforms.tabular.changes import current_rows
from refinery.transforms.tabular.fairness import fairness_table


@dataclass
class TabularCardNumbers:
    """What a tabular card states."""

    title: str
    label: str
    splits: list[Row]  # split, rows, label_rate
    rejects: list[tuple[str, str, int]] | None
    anonymity: AnonymityReport | None
    anonymity_before: AnonymityReport | None  # over publish's input (silver's current rows), before suppression
    fairness: dict[str, list[Row]]  # attribute -> rows of FAIRNESS_COLUMNS, by split then group
    k: int
    min_group_rows: int = 30


def tabular_card_numbers(lake: Lake, config: Config, release: str | None = None) -> TabularCardNumbers:
    """The card's numbers: small aggregates of the described table (one row per split, class or group)."""
    cfg = config.tabular
    subject = card_subject(lake, config, release)
    rows = subject.rows
    silver = config.pipeline_kind.last.reads  # publish's input: the current state, the reference shares
    silver_version = subject.input_versions.get(silver)
    silver = lake.table(silver, config.pipeline)
    reference = current_rows(lake.read(silver, silver_version if silver_version is not None else lake.version(silver)))
    label = F.col(cfg.label).cast("double")
    per_split = (
        rows.groupBy("split").agg(F.count("*").alias("rows"), F.avg(label).alias("label_rate")).orderBy("split")
    ).collect()  # one row per split
    anonymity = anonymity_report(rows, cfg.anonymity)
    fairness = {
        attribute: fairness_table(
            rows, reference, attribute=attribute, label=cfg.label, min_group_rows=cfg.fairness.min_group_rows
        )
        .orderBy("split", "group")
        .collect()  # one row per (split, group)
        for attribute in cfg.fairness.attributes
    }
    return TabularCardNumbers(
        title=subject.title,
        label=cfg.label,
        splits=per_split,
        rejects=rejects_by_rule(lake, config),
        anonymity=anonymity,
        anonymity_before=anonymity_report(reference, cfg.anonymity),
        fairness=fairness,
        k=cfg.anonymity.k,
        min_group_rows=cfg.fairness.min_group_rows,
    )


def write_tabular_card(lake: Lake, config: Config, out: str | Path, *, release: str | None = None) -> Path:
    """Write `<out>/card.md` and one fairness plot per attribute; return the card's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    numbers = tabular_card_numbers(lake, config, release)
    for attribute, rows in numbers.fairness.items():
        _plot_fairness(attribute, rows, numbers.label, out / f"fairness_{attribute}.png")
    path = out / "card.md"
    path.write_text("\n".join(render_tabular_card(numbers)) + "\n", encoding="utf-8")
    return path


def render_tabular_card(n: TabularCardNumbers) -> list[str]:
    """The card's markdown lines."""
    lines = [f"# Dataset card: {n.title}", "", "## Splits", ""]
    lines += markdown_table(
        ("split", "rows", f"{n.label} rate"), [(r["split"], r["rows"], r["label_rate"]) for r in n.splits]
    )
    lines += ["## Rejected rows", ""]
    lines += (
        markdown_table(("stage", "rule", "rows"), n.rejects) if n.rejects is not None else ["No rejects table.", ""]
    )
    lines += ["## Re-identification risk", ""]
    if n.anonymity is None:
        lines += ["No quasi-identifiers are declared (tabular.anonymity.quasi_identifiers).", ""]
    else:
        a, b = n.anonymity, n.anonymity_before
        if b is not None:
            lines += [
                f"Before suppression (publish's input, {b.rows:,} rows): {b.classes:,} equivalence classes, "
                f"{b.classes_below_k:,} of them below k = {n.k}, holding {b.rows_below_k:,} rows; with "
                f"`tabular.anonymity.policy: suppress` those rows are rejects (rule `k_anonymity`). After:",
                "",
            ]
        lines += [
            f"Over {a.rows:,} rows, {a.classes:,} equivalence classes; the smallest holds {a.smallest_class:,} "
            f"rows, so the table is {a.smallest_class}-anonymous (required k = {n.k}; {a.rows_below_k:,} rows in "
            f"{a.classes_below_k:,} classes below it)."
            + (
                f" The label's l-diversity: at least {a.lowest_diversity} distinct value(s) per class; "
                f"{a.classes_below_l:,} class(es) below the required l."
                if a.lowest_diversity is not None
                else ""
            ),
            "",
        ]
    lines += ["## Fairness and representativeness", ""]
    for attribute, rows in n.fairness.items():
        lines += [f"### {attribute}", "", f"![{attribute}](fairness_{attribute}.png)", ""]
        lines += markdown_table(
            ("split", "group", "rows", "share", "reference share", f"{n.label} rate", "95% interval", "small"),
            [
                (
                    r["split"],
                    r["group"],
                    r["rows"],
                    r["share"],
                    r["reference_share"],
                    r["label_rate"],
                    f"{r['label_rate_low']:.2f}-{r['label_rate_high']:.2f}",
                    _flag(r["small"]),
                )
                for r in rows
            ],
        )
        parity = {r["split"]: (r["parity_difference"], r["parity_ratio"]) for r in rows}
        left_out = sorted({f"{r['group']} ({r['split']}, {r['rows']} rows)" for r in rows if r["small"]})
        lines += markdown_table(
            ("split", "demographic parity difference", "demographic parity ratio"),
            [(split, diff, ratio) for split, (diff, ratio) in sorted(parity.items())],
        )
        if left_out:
            lines += [
                f"Parity compares groups of at least {n.min_group_rows} rows (`tabular.fairness.min_group_rows`); "
                f"left out as too small to say anything: {', '.join(left_out)}. A split with fewer than two such "
                "groups has no parity figure.",
                "",
            ]
    return lines


def _plot_fairness(attribute: str, rows: list[Row], label: str, path: Path) -> None:
    """Label rate and share (against the reference share) per group, one bar group per split."""
    splits = sorted({r["split"] for r in rows})
    groups = sorted({r["group"] for r in rows})
    figure, (rates, shares) = plt.subplots(1, 2, figsize=(10, 3.8))
    width = 0.8 / max(len(splits), 1)
    for i, split in enumerate(splits):
        by_group = {r["group"]: r for r in rows if r["split"] == split}
        xs = [g + i * width for g in range(len(groups))]
        rates.bar(xs, [by_group[g]["label_rate"] if g in by_group else 0 for g in groups], width, label=split)
        shares.bar(xs, [by_group[g]["share"] if g in by_group else 0 for g in groups], width, label=split)
    reference = {r["group"]: r["reference_share"] for r in rows}
    shares.scatter(
        [g + 0.4 - width / 2 for g in range(len(groups))], [reference[g] for g in groups], color="k", label="silver"
    )
    for axis, title in ((rates, f"{label} rate"), (shares, "share of split")):
        axis.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))], groups)
        axis.set_title(f"{title} by {attribute}")
        axis.legend(fontsize=7)
    save_figure(figure, path)


def _flag(small: bool) -> str:
    return "too small" if small else ""
