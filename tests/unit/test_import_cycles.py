"""No import cycles between sealrun's modules.

The graph is grimp's (the one import-linter checks), with every import counted: those under
``if TYPE_CHECKING`` too, since a cycle hidden from the interpreter is still a cycle of
design. A cycle is a strongly connected component of more than one module. An import of a
package counts as an import of its ``__init__`` (it runs it), so a module that imports its
own package's re-exports while that ``__init__`` imports it is a cycle; the interpreter's
implicit import of a parent package when a child is imported is not an edge (the child's
code does not depend on it).

Measure: ``uv run --frozen pytest -q tests/unit/test_import_cycles.py`` (0 cycles).
"""

from __future__ import annotations

from functools import cache

import grimp

#: Cycles known and owed, each to be removed from this list when it is broken (the test
#: fails on a stale entry, so the list only shrinks). Empty is the goal.
ALLOWED: frozenset[frozenset[str]] = frozenset()


def import_cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    edges = {
        module: sorted(graph.find_modules_directly_imported_by(module) & graph.modules) for module in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[frozenset[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if child < len(edges[node]):
                work.append((node, child + 1))
                target = edges[node][child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            for target in edges[node]:
                if target in on_stack:
                    low[node] = min(low[node], low[target])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(frozenset(component))
    return components


@cache
def _sealrun_cycles() -> list[frozenset[str]]:
    return import_cycles(grimp.build_graph("sealrun"))


def _describe(cycles: list[frozenset[str]]) -> str:
    return "\n".join("  " + " <-> ".join(sorted(cycle)) for cycle in cycles)


def test_the_cycle_finder_finds_a_cycle_and_ignores_a_chain() -> None:
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c", "p.d"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    graph.add_import(importer="p.c", imported="p.d")
    assert import_cycles(graph) == [frozenset({"p.a", "p.b", "p.c"})]
    graph.remove_import(importer="p.c", imported="p.a")
    assert import_cycles(graph) == []


def test_no_module_takes_part_in_an_import_cycle() -> None:
    cycles = _sealrun_cycles()
    new = [cycle for cycle in cycles if cycle not in ALLOWED]
    assert not new, "import cycles:\n" + _describe(new)


def test_the_allow_list_of_cycles_only_shrinks() -> None:
    stale = [cycle for cycle in ALLOWED if cycle not in _sealrun_cycles()]
    assert not stale, "these cycles are broken; remove them from ALLOWED:\n" + _describe(stale)
