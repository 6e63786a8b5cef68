"""Check the glossary's references: does each `code` path import, does each `tests` id exist?

These are the rules that keep the glossary honest; the registry test runs them, and `glossa explain` uses
`locate` to print where a term's code lives as `file:line`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from glossa.glossary.registry import Glossary


@dataclass(frozen=True)
class CodeLocation:
    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def resolve(dotted: str) -> object:
    """Import the longest module prefix of `dotted`, then follow attributes; ImportError if absent."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: object = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and not module_name.startswith(error.name):
                raise  # the module exists but one of its own imports is missing
            continue
        for attribute in parts[split:]:
            if not hasattr(target, attribute):
                raise ImportError(f"'{module_name}' has no attribute path '{'.'.join(parts[split:])}'")
            target = getattr(target, attribute)
        return target
    raise ImportError(f"no module for '{dotted}'")


def _assignment_line(module: ModuleType, name: str) -> int:
    """Line of `name = ...` (or `name: T = ...`) at the top level of a module's source, else 1."""
    tree = ast.parse(inspect.getsource(module))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return node.lineno
    return 1


def locate(dotted: str) -> CodeLocation:
    """Where the object named by `dotted` is defined: a function, class or module, or a module-level value."""
    target = resolve(dotted)
    unwrapped = inspect.unwrap(target) if callable(target) else target
    if inspect.ismodule(unwrapped) or inspect.isclass(unwrapped) or inspect.isroutine(unwrapped):
        file = Path(inspect.getsourcefile(unwrapped) or "")
        line = 1 if inspect.ismodule(unwrapped) else inspect.getsourcelines(unwrapped)[1]
        return CodeLocation(file, line)
    module_name, _, attribute = dotted.rpartition(".")
    module = resolve(module_name)
    if not inspect.ismodule(module):
        module = inspect.getmodule(module)
    assert module is not None
    return CodeLocation(Path(inspect.getsourcefile(module) or ""), _assignment_line(module, attribute))


@cache
def _test_names(path: Path) -> frozenset[str]:
    """'test_x' and 'TestClass::test_x' for every test defined in a test file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}::{member.name}")
    return frozenset(names)


def node_id_exists(node_id: str, repo_root: Path) -> bool:
    """True when `tests/x.py::test_y` (a parametrized `[...]` suffix allowed) names a defined test."""
    file_part, sep, name = node_id.partition("::")
    path = repo_root / file_part
    if not sep or not path.is_file():
        return False
    return name.split("[", 1)[0] in _test_names(path)


def problems(glossary: Glossary, repo_root: Path) -> list[str]:
    """Every broken rule of the glossary, one line each; empty when all hold."""
    found: list[str] = []
    slugs = set(glossary.by_slug)
    for term in glossary.terms:
        if term.code:
            try:
                resolve(term.code)
            except ImportError as error:
                found.append(f"{term.slug}: code '{term.code}' does not import ({error})")
        if term.code and not term.tests:
            found.append(f"{term.slug}: has code but no test")
        if term.tests and not term.code:
            found.append(f"{term.slug}: has tests but no code")
        found += [
            f"{term.slug}: test '{node_id}' does not exist"
            for node_id in term.tests
            if not node_id_exists(node_id, repo_root)
        ]
        if term.demo and not term.demo.startswith("glossa "):
            found.append(f"{term.slug}: demo must be a `glossa ...` command")
        found += [
            f"{term.slug}: related '{slug}' is not a term" for slug in term.related if slug not in slugs
        ]
    return found
