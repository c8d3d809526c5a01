"""Import rules of the package's layering (README "Layout") that are easy to break by accident."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "prunebench"


def modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_workflow_and_report_side_never_load_torch():
    # the Snakefile imports these; the report stage must run where torch is absent
    for module in ("prunebench.config", "prunebench.methods", "prunebench.plan",
                   "prunebench.paths", "prunebench.server", "prunebench.report.read.aggregate",
                   "prunebench.report.render.html", "prunebench.selection.static.run",
                   "prunebench.cost.jobcosts", "prunebench.cost.render"):
        loaded = modules_after_import(module)
        assert "torch" not in loaded, module
        assert "wandb" not in loaded, module


def test_only_tracking_imports_wandb_and_nothing_imports_snakemake():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert "import snakemake" not in text and "from snakemake" not in text, path
        if path.name != "tracking.py":
            assert "import wandb" not in text, path


def test_training_does_not_load_wandb_when_disabled():
    assert "wandb" not in modules_after_import("prunebench.train.run")


# The layers, lowest first; a module may import its own layer and the layers below it, never one
# above. `train/` owns the loop and the sampler protocol; `scores/` and `selection/` implement
# what the loop calls (reached from train only through the METHODS registry's module names);
# the CLI composes everything and nothing imports it; the library API (`api/`) is the other
# composition root, which only `prunebench/__init__.py` loads, lazily (tested below).
# `report/` is torch-free: foundation only.
FOUNDATION = {"__init__", "errors", "atomic", "options", "methods", "paths", "hardware",
              "train_sizes", "config", "plan", "implementations", "tracking",
              "logit_gradients", "jobspec", "ops", "jsonflags", "phases", "proxies",
              "math_mode", "label_noise"}
# the commands that read a finished experiment (export, store) or plan one (cost) sit just
# below the CLI
COMMANDS = {"export_scores", "store", "reuse_cli", "cost"}
COMPOSITION_ROOTS = {"cli", "api"}
LAYERS = [FOUNDATION, {"data"}, {"models"}, {"train"}, {"scores", "selection"}, COMMANDS,
          COMPOSITION_ROOTS]
SIDE_BRANCHES = {"report": FOUNDATION | {"report"}, "server": FOUNDATION | {"server"}}
SIBLINGS_APART = [("scores", "selection"), ("selection", "scores")]


def component(module: str) -> str:
    """prunebench.train.loop -> train; prunebench -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def internal_imports(path: Path, root: Path = SRC.parent) -> set[str]:
    """Every prunebench module `path` (under `root`/prunebench) imports, at the top or inside a
    function."""
    relative = path.relative_to(root).with_suffix("").parts
    package = list(relative if path.name == "__init__.py" else relative[:-1])
    if path.name == "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "prunebench"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "prunebench":
                continue
            if module == "prunebench":  # from .. import x: a module, or a name of __init__
                top = root / "prunebench"
                found |= {f"prunebench.{a.name}" if (top / f"{a.name}.py").exists()
                          or (top / a.name).is_dir() else "prunebench" for a in node.names}
            else:
                found.add(module)
    return found


def allowed(importer: str) -> set[str]:
    if importer in COMPOSITION_ROOTS:
        return set().union(*LAYERS, SIDE_BRANCHES)
    if importer in SIDE_BRANCHES:
        return SIDE_BRANCHES[importer]
    rank = next(i for i, layer in enumerate(LAYERS) if importer in layer)
    return set().union(*LAYERS[:rank + 1])


def test_no_import_climbs_a_layer():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC.parent).with_suffix("")
        importer = component(".".join(relative.parts))
        for module in internal_imports(path):
            target = component(module)
            if target not in allowed(importer) or (importer, target) in SIBLINGS_APART:
                wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_nothing_imports_a_composition_root_and_init_loads_the_api_lazily():
    wrong = [f"{path.relative_to(SRC)} imports {module}"
             for path in sorted(SRC.rglob("*.py"))
             for module in internal_imports(path)
             if component(module) in COMPOSITION_ROOTS
             and component(module_name(path)) != component(module)]
    assert not wrong, "\n".join(wrong)
    # the one way in: prunebench.__getattr__ imports prunebench.api by name on first use
    text = (SRC / "__init__.py").read_text()
    assert 'import_module("prunebench.api")' in text
    loaded = modules_after_import("prunebench")
    assert "prunebench.api" not in loaded and "torch" not in loaded


def test_every_package_has_a_layer():
    named = set().union(*LAYERS, SIDE_BRANCHES)
    present = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
               if (p.suffix == ".py") or (p / "__init__.py").exists()}
    assert present <= named, f"put {sorted(present - named)} into a layer of this test"


def test_the_layering_check_sees_a_climbing_import(tmp_path):
    # relative and function-level imports are resolved, so the check above can fail
    path = tmp_path / "prunebench" / "train" / "probe.py"
    path.parent.mkdir(parents=True)
    (tmp_path / "prunebench" / "cli.py").write_text("")
    path.write_text("import torch\n\ndef f():\n    from ..selection.dynamic import periodic\n"
                    "    from .. import cli\n    from .loop import train_loop\n")
    assert internal_imports(path, tmp_path) == {"prunebench.selection.dynamic", "prunebench.cli",
                                                "prunebench.train.loop"}
    assert "selection" not in allowed("train") and "cli" not in allowed("server")


def module_name(path: Path, root: Path = SRC.parent) -> str:
    """src/prunebench/a/b.py -> prunebench.a.b; a package's __init__.py -> the package."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_cycles(package: Path = SRC) -> list[list[str]]:
    """Every cycle among the package's explicit imports (top level or in a function)."""
    graph = {module_name(p, package.parent): internal_imports(p, package.parent)
             for p in package.rglob("*.py")}
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target in graph and target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_circle():
    assert import_cycles() == []


def test_selection_top_level_is_quotas_and_three_packages():
    top = SRC / "selection"
    present = {p.name for p in top.iterdir() if p.name != "__pycache__"}
    assert present == {"__init__.py", "quotas.py", "kernels", "static", "dynamic"}, present


# a comparison of a device type with a name, or a CUDA test: a choice of path by device
DEVICE_CHOICE = re.compile(r"""device(\.type)?\s*[!=]=|[!=]=\s*["'](cpu|cuda)["']|is_cuda""")


def test_a_kernel_chooses_its_device_path_only_in_its_package_init():
    kernels = SRC / "selection" / "kernels"
    packages = [p for p in kernels.iterdir() if (p / "__init__.py").exists()]
    assert {p.name for p in packages} >= {"facility_location", "omp", "glister"}
    wrong = []
    for path in sorted(kernels.rglob("*.py")) + sorted((SRC / "selection" / "dynamic").rglob(
            "*.py")):
        if path.name == "__init__.py" and path.parent in packages:
            continue
        if path.name == "timing.py":  # synchronises a CUDA clock; chooses no path
            continue
        wrong += [f"{path.relative_to(SRC)}:{n}" for n, line in
                  enumerate(path.read_text().splitlines(), 1) if DEVICE_CHOICE.search(line)]
    assert not wrong, "a device choice outside a kernel package's __init__:\n" + "\n".join(wrong)


def test_the_cycle_check_sees_a_cycle(tmp_path):
    package = tmp_path / "prunebench"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("from .b import x\n")
    (package / "a" / "b.py").write_text("def f():\n    from .c import g\n")
    (package / "a" / "c.py").write_text("from .b import f\n\ng = f\n")
    assert import_cycles(package) == [["prunebench.a.b", "prunebench.a.c", "prunebench.a.b"]]


# Inside the report: reading result files < statistics and derived tables < figures, tables and
# the page. A layer imports its own modules and those of the layers below, never one above.
REPORT_LAYERS = ["read", "analysis", "render"]


def test_report_layers_import_downwards_only():
    report = SRC / "report"
    assert [p.name for p in report.glob("*.py")] == ["__init__.py"], "put it into a layer"
    assert sorted(p.name for p in report.iterdir() if p.is_dir() and p.name != "__pycache__") \
        == sorted(REPORT_LAYERS)
    wrong = []
    for rank, layer in enumerate(REPORT_LAYERS):
        for path in sorted((report / layer).rglob("*.py")):
            for module in internal_imports(path):
                parts = module.split(".")
                if parts[:2] == ["prunebench", "report"] and (
                        len(parts) < 3 or parts[2] not in REPORT_LAYERS[:rank + 1]):
                    wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert not wrong, "report imports against read < analysis < render:\n" + "\n".join(wrong)
