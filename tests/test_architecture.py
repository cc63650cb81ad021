"""The house rules of lib/refinery/, read from the source: every module in its wing, imports one way, no circle,
modules of a readable size, a Spark-free base the CLI and the training loader stand on.

Wings, from the bottom up (a module may import its own wing and the wings it lists):
- base: errors, paths, tables, pipelines, rejects, faults (Spark-free; the loader and the CLI import them);
- params: transforms/params.py and transforms/tabular/params.py, the transforms' own parameter classes;
- config, session; transforms (pure: no config, stage, lake or io); io; lake; privacy;
- commands and stages, side by side: neither imports the other;
- entry: cli.py and class_archive.py, the only ones that import stages (with jobs/ outside lib/);
- loader: the Spark-free training readers, on the base alone.
`python -m tests.test_architecture [LIB]` prints the figures of a tree.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"
BASE = {"errors", "paths", "tables", "pipelines", "rejects", "faults"}
ENTRY = {"cli", "class_archive"}
PARAMS = {"refinery.transforms.params", "refinery.transforms.tabular.params"}
MAY_IMPORT = {
    "base": {"base"},
    "params": {"base", "params"},
    "config": {"base", "params", "config"},
    "session": {"base", "config", "session"},
    "transforms": {"base", "params", "transforms"},
    "io": {"base", "params", "config", "io"},
    "lake": {"base", "params", "config", "session", "transforms", "lake"},
    "privacy": {"base", "params", "config", "session", "transforms", "io", "lake", "privacy"},
    "commands": {"base", "params", "config", "session", "transforms", "io", "lake", "privacy", "commands"},
    "stages": {"base", "params", "config", "session", "transforms", "io", "lake", "privacy", "stages"},
    "entry": {"base", "params", "config", "session", "io", "lake", "privacy", "commands", "stages", "entry"},
    "loader": {"base", "loader"},
}
ORDER = ["base", "params", "config", "session", "transforms", "io", "lake", "privacy", "commands", "stages", "entry"]
MAX_TOP_LEVEL = 12
MAX_LINES = 400
SPARK_FREE = ("base", "params", "config", "loader")  # no pyspark import at all (the CLI's checks run before Spark)


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int


def modules(lib: Path = LIB) -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found = {}
    for path in sorted((lib / "refinery").rglob("*.py")):
        parts = list(path.relative_to(lib).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def wing(module: str) -> str:
    """The wing a module belongs to ('?' for a top-level module outside the base and the entry points)."""
    parts = module.split(".")
    if module in PARAMS:
        return "params"
    if len(parts) == 1 or (len(parts) == 2 and parts[1] in BASE):
        return "base"
    if len(parts) == 2 and parts[1] in ENTRY:
        return "entry"
    return parts[1] if parts[1] in MAY_IMPORT else "?"


def imports(known: dict[str, Path]) -> Iterator[Import]:
    """Every import of a refinery module by a refinery module (also inside functions), to the module it names."""
    for source, path in known.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            else:
                continue
            for name in names:
                target = next(
                    (name.rsplit(".", i)[0] for i in range(name.count(".") + 1) if name.rsplit(".", i)[0] in known),
                    None,
                )
                if name.startswith("refinery") and target and target != source:
                    yield Import(source, target, node.lineno)


def back_arrows(edges: list[Import]) -> list[Import]:
    """Imports a module's wing may not make: against the order of the wings, or sideways between siblings."""
    return [e for e in edges if wing(e.target) not in MAY_IMPORT.get(wing(e.source), set())]


def circles(edges: list[Import]) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's strongly connected parts)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def figures(lib: Path = LIB) -> dict[str, int]:
    known = modules(lib)
    edges = list(imports(known))
    top = [m for m in known if m.count(".") == 1 and (lib / "refinery" / f"{m.split('.')[1]}.py").exists()]
    return {
        "modules": len(known),
        "top-level modules": len(top),
        "circles": len(circles(edges)),
        "back arrows": len({(e.source, e.target) for e in back_arrows(edges)}),  # module to module
        "lines": sum(len(p.read_text().splitlines()) for p in known.values()),
    }


def _third_party(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_module_is_in_a_wing_and_the_top_level_stays_small():
    known = modules()
    assert [m for m in known if wing(m) == "?"] == []
    assert figures()["top-level modules"] <= MAX_TOP_LEVEL


def test_imports_go_one_way_without_circles():
    edges = list(imports(modules()))
    assert [f"{e.source}:{e.line} -> {e.target}" for e in back_arrows(edges)] == []
    assert circles(edges) == []


def test_only_the_entry_points_import_stages_and_transforms_import_no_io_config_lake_or_stage():
    edges = list(imports(modules()))
    assert {e.source for e in edges if wing(e.target) == "stages" and wing(e.source) != "stages"} <= {"refinery.cli"}
    forbidden = {"config", "stages", "lake", "io", "session"}
    assert [e for e in edges if wing(e.source) == "transforms" and wing(e.target) in forbidden] == []


def test_no_module_is_longer_than_the_limit():
    assert {m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES} == {}


def test_the_base_config_and_loader_never_import_spark():
    spark_importers = [m for m, p in modules().items() if wing(m) in SPARK_FREE and "pyspark" in _third_party(p)]
    assert spark_importers == []
    check = "import sys, refinery.cli, refinery.loader; assert not [m for m in sys.modules if m.startswith('pyspark')]"
    subprocess.run([sys.executable, "-c", check], check=True, cwd=LIB.parent)  # what the CLI loads before the JVM


def test_a_planted_violation_is_found(tmp_path):
    shutil.copytree(LIB / "refinery", tmp_path / "refinery")
    plant = {
        "transforms/text.py": "from refinery.config import Config\n",  # a transform reading config
        "commands/card.py": "from refinery.stages import run_stages\n",  # a command importing a stage
        "tables.py": "from refinery.lake.store import Lake\n",  # the base importing the lake: a circle too
    }
    for name, line in plant.items():
        path = tmp_path / "refinery" / name
        path.write_text(path.read_text() + line)
    edges = list(imports(modules(tmp_path)))
    found = {(wing(e.source), wing(e.target)) for e in back_arrows(edges)}
    assert {("transforms", "config"), ("commands", "stages"), ("base", "lake")} <= found
    assert any("refinery.tables" in group for group in circles(edges))
    (tmp_path / "refinery" / "stray.py").write_text("")
    assert wing("refinery.stray") == "?" and "refinery.stray" in modules(tmp_path)


if __name__ == "__main__":
    print(figures(Path(sys.argv[1]) if len(sys.argv) > 1 else LIB))
