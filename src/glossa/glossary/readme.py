"""Keep the README's coverage table equal to `glossa glossary --markdown`.

The table sits between two markers in README.md; `splice` replaces what is between them. `make readme`
rewrites it, and a test fails when the README and the glossary disagree.
"""

from __future__ import annotations

from pathlib import Path

START = "<!-- coverage:start -->"
END = "<!-- coverage:end -->"


def splice(readme: str, table: str) -> str:
    """The README text with the coverage table between the markers replaced by `table`."""
    before, found_start, rest = readme.partition(START)
    _, found_end, after = rest.partition(END)
    if not (found_start and found_end):
        raise ValueError(f"README.md has no {START} … {END} block")
    return f"{before}{START}\n{table.strip()}\n{END}{after}"


def update_readme(path: Path) -> bool:
    """Rewrite the README's table from the glossary; True when it changed."""
    from glossa.atomic import atomic_write_text
    from glossa.glossary.coverage import as_markdown
    from glossa.glossary.registry import load_glossary

    current = path.read_text(encoding="utf-8")
    updated = splice(current, as_markdown(load_glossary()))
    if updated != current:
        atomic_write_text(path, updated)
    return updated != current


if __name__ == "__main__":
    import sys

    changed = update_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
    print("README.md coverage table updated" if changed else "README.md coverage table already current")
