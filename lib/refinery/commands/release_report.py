"""`refinery release list | show`: release records as a table and field by field."""

from __future__ import annotations


def format_release_list(rows) -> str:
    header = f"{'name':<20} {'created (UTC)':<19} {'gold v':>6} {'docs':>10} {'tokens':>13}  config"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.name:<20} {r.created_at:%Y-%m-%d %H:%M:%S} {r.gold_version:>6} {r.counts.get('docs', 0):>10,} "
            f"{r.counts.get('tokens', 0):>13,}  {r.config_hash or '-'}"
        )
    return "\n".join(lines) if rows else "no releases yet: `refinery release create NAME` freezes the current gold"


def format_release(r) -> str:
    """Every field of a release, counts and settings sorted, one per line."""
    lines = []
    for key, value in r.asDict().items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines.extend(f"  {k}: {_setting(v)}" for k, v in sorted(value.items()))
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


def _setting(value, width: int = 100) -> str:
    """A count with separators; a long or multi-line value (a feature fit's JSON) on one cut line."""
    if isinstance(value, int):
        return f"{value:,}"
    text = " ".join(str(value).split())
    return text if len(text) <= width else f"{text[: width - 1]}… ({len(text):,} characters in the release record)"
