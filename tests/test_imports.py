"""asymkit's import graph, read from the source: no cycles, not even through imports inside functions."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "asymkit"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every asymkit module that ``name`` imports anywhere in its source (top level or in a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            # "from . import data" names a module; "from .data import doc_text" names its module.
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t != "asymkit":
                found.add(t)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_asymkit_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("from . import data\nfrom .search import top_k\n\ndef f():\n    from .tools import course\n")
    known = {"asymkit.data", "asymkit.search", "asymkit.tools", "asymkit.tools.course", "asymkit.mod"}
    assert imports_of("asymkit.mod", src, known) == {"asymkit.data", "asymkit.search", "asymkit.tools",
                                                     "asymkit.tools.course"}


def test_the_cycle_finder_finds_a_cycle_hidden_behind_a_function_level_import():
    graph = {"asymkit.train": {"asymkit.cross"}, "asymkit.cross": {"asymkit.corpora"},
             "asymkit.corpora": {"asymkit.train"}, "asymkit.data": set()}
    assert find_cycle(graph) == ["asymkit.corpora", "asymkit.train", "asymkit.cross", "asymkit.corpora"]


LIBRARY = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "asymkit").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("reader_module", LIBRARY)
def test_the_library_never_imports_the_maintainer_tools(reader_module):
    """Nothing in asymkit/ imports asymkit/tools/ (grading and the capstone included: they are library)."""
    graph = import_graph()
    seen, todo = set(), [f"asymkit.{reader_module}"]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += graph.get(m, ())
    assert not any(m.startswith("asymkit.tools") for m in seen)


def test_exact_search_does_not_import_the_model_module():
    graph = import_graph()
    assert "asymkit.encoders" not in graph["asymkit.search"]
