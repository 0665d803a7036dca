"""The import rules of docs/architecture.md, checked on the source: every import counts, the
ones inside functions too, so a rule cannot be dodged by importing late."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "instructed_rl"
BASE = {"errors", "config", "yaml_check", "resources", "paths", "progress", "__version__"}
MODEL = {"model", "model.text", "model.reader", "model.pointer", "model.policy", "model.agent", "model.io", "model.hub",
         "model.card", "model.loops", "model.planner"}
FRONTS = {"interactive", "commands", "cli"}
# part -> the parts it must never import (docs/architecture.md draws the same arrows).
NEVER = {
    "language": "everything but the base",
    "games": MODEL | {"acting", "rollout", "demos", "eval", "train", "render", "interop"} | FRONTS,
    **{part: {"games", "acting", "rollout", "demos", "eval", "train", "interop"} | FRONTS for part in MODEL},
    "interop": {"model.agent", "model.policy", "model.pointer", "model.reader", "model.io", "acting", "rollout", "demos", "eval", "train"} | FRONTS,
    "acting": {"games", "rollout", "demos", "eval", "train"} | FRONTS,
    "demos": MODEL | {"rollout", "eval", "train", "interop", "render"} | FRONTS,
    "hindsight": MODEL | {"acting", "rollout", "demos", "eval", "train", "interop", "render"} | FRONTS,
    "rollout": {"demos", "eval", "train"} | FRONTS,
    "eval": {"rollout", "demos", "train"} | FRONTS,
    "train": FRONTS,
    "render": "everything but the base",
    "interactive": {"rollout", "demos", "train", "commands", "cli"},
    "commands": {"cli"},
}


def part_of(module: str) -> str:
    """``eval`` for instructed_rl.eval.cell; the model's modules are parts of their own (``model.agent``)."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "model":
        return f"model.{parts[2]}"
    return parts[1] if len(parts) > 1 else ""


def imports() -> list[tuple[str, str, str]]:
    """(importing file, its part, imported part) for every import of the package by itself."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name.startswith("instructed_rl.") and part_of(name) != part_of(module):
                    found.append((str(path.relative_to(PACKAGE.parent)), part_of(module), part_of(name)))
    return found


def test_no_part_imports_what_the_architecture_forbids():
    broken = []
    for path, part, imported in imports():
        rule = NEVER.get(part)
        if rule is None:
            continue
        if isinstance(rule, str):  # only the base
            forbidden = imported not in BASE
        else:
            forbidden = imported in rule
        if forbidden:
            broken.append(f"{path} ({part}) imports {imported}")
    assert not broken, "\n".join(sorted(set(broken)))


def test_the_repl_never_imports_the_web_page():
    """Inside the interactive part the page builds on the REPL's pieces, never the reverse."""
    broken = []
    for path in sorted((PACKAGE / "interactive").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            broken += [f"{path.name} imports {name}" for name in names if name.startswith("instructed_rl.interactive.web")]
    assert not broken, "\n".join(broken)


def test_the_rules_see_real_imports():
    """The checker finds the arrows that do exist (a checker that sees nothing passes anything)."""
    arrows = {(part, imported) for _, part, imported in imports()}
    assert {("model.agent", "model.policy"), ("eval", "acting"), ("train", "model.agent"), ("games", "language"),
            ("train", "rollout"), ("rollout", "acting"), ("interactive", "acting"), ("interactive", "eval"),
            ("train", "demos"), ("demos", "acting"), ("demos", "games"), ("commands", "demos")} <= arrows


def test_the_language_and_the_games_load_without_torch():
    code = ("import sys, instructed_rl.language.corpus, instructed_rl.language.parse, instructed_rl.language.rephrase, "
            "instructed_rl.language.understanding, instructed_rl.language.instructions, instructed_rl.games.env, "
            "instructed_rl.games.text_view; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_demos_load_without_torch():
    """Demo worker processes import the package: they play the bot, they need no network."""
    code = "import sys, instructed_rl.demos, instructed_rl.demos.workers; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def module_imports_at_load() -> dict[str, set[str]]:
    """module -> the package's modules it imports when it loads (top-level statements only: an
    import inside a function runs later and cannot make a cycle at load time)."""
    modules = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        found = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name for name in names if name in modules and name != module}
        graph[module] = found
    return graph


def test_no_module_imports_itself_round_a_cycle():
    graph = module_imports_at_load()
    assert graph["instructed_rl.train.imitation"] >= {"instructed_rl.rollout.dagger"}  # the graph sees real imports
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path + [module, target]
            if target not in state:
                cycle = visit(target, path + [module])
                if cycle:
                    return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [])
            assert cycle is None, " -> ".join(cycle[cycle.index(cycle[-1]):])
