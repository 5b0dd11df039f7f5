"""The layering the README's architecture section describes, read from the source: ``retrieval``
never imports the bot, Discord, rich or argparse; only ``retrieval/store`` (and the model download
in ``retrieval/embed/minilm.py``, which uses Chroma's own downloader) speaks to Chroma; no module
imports one that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

from retrieval.settings import PROJECT_ROOT

PACKAGES = ("retrieval", "bot")


def imports(path: Path) -> set[str]:
    """The modules ``path`` imports (absolute names; relative imports resolved), at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def test_the_core_imports_neither_the_bot_nor_discord_rich_or_argparse():
    forbidden = ("bot", "discord", "rich", "argparse")
    wrong = {name: sorted(i for i in imports(path) if i.split(".")[0] in forbidden)
             for name, path in modules("retrieval").items()}
    assert {name: found for name, found in wrong.items() if found} == {}


def test_only_the_store_speaks_to_chroma():
    allowed = ("retrieval.store", "retrieval.embed.minilm")
    speakers = {name for name, path in modules("retrieval").items()
                if any(i.split(".")[0] == "chromadb" for i in imports(path))}
    assert speakers and {s for s in speakers if not s.startswith(allowed)} == set()


def test_no_import_cycles():
    known = {name: path for package in PACKAGES for name, path in modules(package).items()}
    graph = {name: {i for i in imports(path) if i in known and i != name} for name, path in known.items()}
    # a package's __init__ importing its own modules is how packages are read, not a cycle
    graph = {name: {i for i in deps if not name == i.rsplit(".", 1)[0]} for name, deps in graph.items()}
    cycles, state = [], dict.fromkeys(graph, 0)

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif state[nxt] == 0:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node, [node])
    assert cycles == []
