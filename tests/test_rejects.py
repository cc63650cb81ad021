"""The reject-rule registry (refinery.rejects) as a contract: every rule is declared once, used by the code,
documented in docs/stages.md's table and in schemas/rejects.yaml, and emitted by some test; no stage emits a rule
that is not declared (read from every rejects table and run ledger the test session wrote)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from refinery import rejects

PROJECT = Path(__file__).resolve().parents[1]
TESTS = PROJECT / "tests"


def test_every_rule_is_declared_once_and_emitted_through_its_declaration_by_the_code():
    names = [rule.name for rule in rejects.RULES]
    assert len(names) == len(set(names))
    used = set()
    for path in (PROJECT / "lib" / "refinery").rglob("*.py"):
        if path.name != "rejects.py":
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Name):
                    used.add(node.id)
                elif isinstance(node, ast.Attribute):
                    used.add(node.attr)
    declared = {name for name, value in vars(rejects).items() if isinstance(value, rejects.RejectRule)}
    assert sorted(declared - used) == []


def test_every_member_the_code_names_of_a_family_is_declared():
    """`FAMILY.of("part")` (or an f-string part, its numbers standing as 0) must be a declared member."""
    named = []
    for path in (PROJECT / "lib" / "refinery").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "of"
                and isinstance(node.func.value, ast.Name)
                and isinstance(getattr(rejects, node.func.value.id, None), rejects.RejectRule)
                and node.args
                and isinstance(node.args[0], (ast.Constant, ast.JoinedStr))
            ):
                family = getattr(rejects, node.func.value.id)
                part = node.args[0]
                text = (
                    part.value
                    if isinstance(part, ast.Constant)
                    else "".join(v.value if isinstance(v, ast.Constant) else "0" for v in part.values)
                )
                named.append((path.name, family.of(text)))
    assert len(named) > 20  # the quality filters name theirs this way
    assert [(file, rule) for file, rule in named if rejects.declaration(rule) is None] == []


def test_the_docs_table_and_the_rejects_schema_document_every_rule():
    assert rejects.markdown_table() in (PROJECT / "docs" / "stages.md").read_text()
    documented = yaml.safe_load((PROJECT / "schemas" / "rejects.yaml").read_text())["rules"]
    by_stage: dict[str, list[str]] = {}
    for rule in rejects.RULES:
        for stage in rule.stages:
            by_stage.setdefault(stage, []).append(rule.shown)
    assert documented == by_stage


def test_a_family_covers_its_members_only():
    assert rejects.declaration("wrong_type:text") is rejects.WRONG_TYPE
    assert rejects.declaration("gopher_repetition:top_3_gram") is rejects.GOPHER_REPETITION
    assert rejects.declaration("gopher_repetition:top_x_gram") is None
    assert rejects.declaration("pii:email") is rejects.PII and rejects.declaration("pii:name") is None
    assert rejects.declaration("wrong_type") is None and rejects.declaration("min_words") is None


def emitted_rules(root: Path) -> set[tuple[str, str]]:
    """(stage, rule) of every row in the rejects tables, and of every ledger row's `rejected.<rule>` metric, in
    the Delta tables below `root`."""
    from deltalake import DeltaTable

    found: set[tuple[str, str]] = set()
    for log in root.rglob("_delta_log"):
        try:
            table = DeltaTable(str(log.parent))
            names = {field.name for field in table.schema().fields}
            if {"stage", "rule"} <= names:
                rows = table.to_pyarrow_table(columns=["stage", "rule"]).to_pylist()
                found |= {(row["stage"], row["rule"]) for row in rows}
            elif {"stage", "status", "metrics"} <= names:
                rows = table.to_pyarrow_table(columns=["stage", "metrics"]).to_pylist()
                found |= {
                    (row["stage"], key.removeprefix("rejected."))
                    for row in rows
                    for key, _ in row["metrics"] or []
                    if key.startswith("rejected.")
                }
        except Exception:  # noqa: BLE001 - a table a test left broken on purpose (a kill -9) or removed meanwhile
            continue
    return found


@pytest.mark.after_all
def test_every_rule_is_emitted_by_a_test_and_no_stage_emits_an_undeclared_one(request, tmp_path_factory):
    """Runs last (tests/conftest.py) and only with the whole suite, over the tables every test wrote."""
    collected = {Path(str(item.fspath)) for item in request.session.items}
    if not set(TESTS.rglob("test_*.py")) <= collected:
        pytest.skip("needs the whole suite: it reads the tables the other tests wrote")
    emitted = emitted_rules(tmp_path_factory.getbasetemp())
    undeclared = sorted(
        (stage, rule) for stage, rule in emitted if stage not in getattr(rejects.declaration(rule), "stages", ())
    )
    assert undeclared == []
    seen = {rejects.declaration(rule) for _, rule in emitted}
    assert [rule.shown for rule in rejects.RULES if rule not in seen] == []
