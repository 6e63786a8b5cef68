"""How much of the glossary is real: per section, the terms with code, with tests, with a demo.

A term counts toward the project's coverage number when it has both code and a test (`Term.covered`). The
same rows feed the terminal table, `--json` and the README's markdown table, so the three never disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from glossa.glossary.registry import Glossary


@dataclass(frozen=True)
class CoverageRow:
    number: int
    title: str
    level: str
    terms: int
    with_code: int
    with_tests: int
    with_demo: int
    covered: int


def coverage_rows(glossary: Glossary) -> list[CoverageRow]:
    """One row per section, in section order (a term in two sections counts in both)."""
    rows = []
    for number, section in sorted(glossary.sections.items()):
        terms = glossary.in_section(number)
        rows.append(
            CoverageRow(
                number=number,
                title=section.title,
                level=section.level,
                terms=len(terms),
                with_code=sum(term.has_code for term in terms),
                with_tests=sum(term.has_tests for term in terms),
                with_demo=sum(term.has_demo for term in terms),
                covered=sum(term.covered for term in terms),
            )
        )
    return rows


def totals(glossary: Glossary) -> dict[str, int]:
    """Counts over distinct terms (a term in two sections counts once)."""
    terms = glossary.terms
    return {
        "terms": len(terms),
        "with_code": sum(term.has_code for term in terms),
        "with_tests": sum(term.has_tests for term in terms),
        "with_demo": sum(term.has_demo for term in terms),
        "covered": sum(term.covered for term in terms),
    }


def as_json(glossary: Glossary) -> dict:
    """Everything `glossa glossary --json` prints: sections with coverage, every term, and totals."""
    return {
        "sections": [asdict(row) for row in coverage_rows(glossary)],
        "terms": [
            {
                **asdict(term),
                "has_code": term.has_code,
                "has_tests": term.has_tests,
                "has_demo": term.has_demo,
            }
            for term in glossary.terms
        ],
        "totals": totals(glossary),
    }


def as_markdown(glossary: Glossary) -> str:
    """The coverage table for the README."""
    lines = [
        "| § | section | level | terms | code | tests | demo |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for row in coverage_rows(glossary):
        lines.append(
            f"| {row.number} | {row.title} | {row.level} | {row.terms} | {row.with_code} "
            f"| {row.with_tests} | {row.with_demo} |"
        )
    total = totals(glossary)
    lines.append(
        f"| | **all distinct terms** | | **{total['terms']}** | **{total['with_code']}** "
        f"| **{total['with_tests']}** | **{total['with_demo']}** |"
    )
    lines.append("")
    lines.append(
        f"Coverage: **{total['covered']} of {total['terms']}** terms have code and tests "
        "(a term in several sections is counted once in the totals)."
    )
    return "\n".join(lines)
