"""Model registry: which models exist, in which versions, where their weights are, and their checksums.

Kept in SQLite (stdlib `sqlite3`, one file, each change one transaction: all of it or none), the embedded
default of MLflow's and BentoML's registries. Two tables:

    models   (name, version) → source path, sha256 of the weights, when it was added
    aliases  alias → one or more (name, version, weight) targets

An alias with one target is a plain alias ("prod" → chat@v3); with several it is an A/B split that
`glossa.serve.routing` applies per request. Paths are validated before they are stored: resolved (symlinks and
".." followed) and required to lie under one of the configured roots, so a registry entry can never point a
server at /etc/passwd. The checksum (sha256 of the file, or of every file of a folder with its relative name)
is recorded on `add` and checked again when a server loads the model.

    registry = ModelRegistry("registry.db", roots=["models"])
    registry.add("chat", "models/chat.gguf", version="v1")
    registry.set_alias("chat-ab", [("chat", "v1", 0.9), ("chat", "v2", 0.1)])
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from glossa.errors import GlossaError

BUILTIN = ("smollm2", "minilm")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    added_at REAL NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (alias, name, version));
"""


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    path: Path
    sha256: str
    added_at: float

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class AliasTarget:
    name: str
    version: str
    weight: float

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


def default_registry_path() -> Path:
    return Path(os.environ.get("GLOSSA_REGISTRY", Path.home() / ".glossa" / "registry.db"))


def checked_name(value: str, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise GlossaError(f"{what} {value!r} must be 1-64 letters, digits, '.', '_' or '-', starting alnum")
    return value


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file is not path:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def validated_path(source: str | Path, roots: Sequence[str | Path]) -> Path:
    """`source` resolved, existing, and inside one of `roots` (no traversal, no symlink escape)."""
    if not roots:
        raise GlossaError("no model roots configured: give --root DIR (models must live under a root)")
    try:
        path = Path(source).expanduser().resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        raise GlossaError(f"no file or folder at {str(source)!r}") from None
    resolved_roots = [Path(root).expanduser().resolve() for root in roots]
    if not any(path.is_relative_to(root) for root in resolved_roots):
        shown = ", ".join(str(root) for root in resolved_roots)
        raise GlossaError(
            f"{source} resolves to {path}, outside the model roots ({shown}): move it under one"
        )
    return path


class ModelRegistry:
    """The registry file (see the module docstring); every method is one transaction."""

    def __init__(self, path: str | Path | None = None, roots: Sequence[str | Path] = ()) -> None:
        self.path = Path(path) if path is not None else default_registry_path()
        self.roots = list(roots)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except sqlite3.Error as error:
            raise GlossaError(f"cannot open the model registry {self.path}: {error}") from None
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def add(
        self, name: str, source: str | Path, *, version: str | None = None, aliases: Sequence[str] = ()
    ) -> RegisteredModel:
        checked_name(name)
        if name in BUILTIN:
            raise GlossaError(f"{name!r} is a built-in model name: register under another name")
        path = validated_path(source, self.roots)
        digest = sha256_of(path)
        with self._connect() as db:
            if version is None:
                count = db.execute("SELECT COUNT(*) FROM models WHERE name = ?", (name,)).fetchone()[0]
                version = f"v{count + 1}"
            checked_name(version, "version")
            if db.execute("SELECT 1 FROM models WHERE name = ? AND version = ?", (name, version)).fetchone():
                raise GlossaError(
                    f"{name}@{version} is already registered: remove it or pick another version"
                )
            entry = RegisteredModel(name, version, path, digest, time.time())
            db.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?)",
                (name, version, str(path), digest, entry.added_at),
            )
            for alias in aliases:
                self._replace_alias(db, alias, [(name, version, 1.0)])
        return entry

    def remove(self, name: str, version: str | None = None) -> int:
        """Remove one version (or every version) of a model, and the aliases that pointed at it."""
        with self._connect() as db:
            where, args = (
                ("name = ?", (name,)) if version is None else ("name = ? AND version = ?", (name, version))
            )
            removed = db.execute(f"DELETE FROM models WHERE {where}", args).rowcount
            if not removed:
                shown = name if version is None else f"{name}@{version}"
                raise GlossaError(f"{shown} is not in the registry {self.path}: see `glossa registry list`")
            gone = [row[0] for row in db.execute(f"SELECT DISTINCT alias FROM aliases WHERE {where}", args)]
            for alias in gone:
                db.execute("DELETE FROM aliases WHERE alias = ?", (alias,))
        return removed

    def models(self) -> list[RegisteredModel]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM models ORDER BY name, added_at").fetchall()
        return [RegisteredModel(name, version, Path(path), sha, at) for name, version, path, sha, at in rows]

    def find(self, name: str, version: str | None = None) -> RegisteredModel:
        """One version, or the latest-added one."""
        matches = [m for m in self.models() if m.name == name and version in (None, m.version)]
        if not matches:
            shown = name if version is None else f"{name}@{version}"
            raise GlossaError(f"no model {shown} in the registry {self.path}: see `glossa registry list`")
        return matches[-1]

    def set_alias(self, alias: str, targets: Sequence[tuple[str, str, float]]) -> None:
        with self._connect() as db:
            self._replace_alias(db, alias, targets)

    def _replace_alias(
        self, db: sqlite3.Connection, alias: str, targets: Sequence[tuple[str, str, float]]
    ) -> None:
        checked_name(alias, "alias")
        if alias in BUILTIN or db.execute("SELECT 1 FROM models WHERE name = ?", (alias,)).fetchone():
            raise GlossaError(f"alias {alias!r} is already a model name: pick another alias")
        if not targets:
            raise GlossaError("an alias needs at least one target")
        for name, version, weight in targets:
            if not db.execute(
                "SELECT 1 FROM models WHERE name = ? AND version = ?", (name, version)
            ).fetchone():
                raise GlossaError(f"alias target {name}@{version} is not registered: add it first")
            if not (isinstance(weight, int | float) and 0 < weight < float("inf")):
                raise GlossaError(
                    f"alias weights must be positive numbers, got {weight!r} for {name}@{version}"
                )
        db.execute("DELETE FROM aliases WHERE alias = ?", (alias,))
        db.executemany("INSERT INTO aliases VALUES (?, ?, ?, ?)", [(alias, *target) for target in targets])

    def aliases(self) -> dict[str, list[AliasTarget]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT alias, name, version, weight FROM aliases ORDER BY alias, name, version"
            )
            result: dict[str, list[AliasTarget]] = {}
            for alias, name, version, weight in rows:
                result.setdefault(alias, []).append(AliasTarget(name, version, weight))
        return result

    def verify(self, entry: RegisteredModel) -> Path:
        """The entry's path, after checking it is still under a root and its checksum still matches."""
        path = validated_path(entry.path, self.roots) if self.roots else entry.path
        if sha256_of(path) != entry.sha256:
            raise GlossaError(f"{entry.key}: {path} changed since it was registered (sha256 differs)")
        return path
