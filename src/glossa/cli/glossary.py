"""`glossa glossary` (the map of every term and how much of it is real) and `glossa explain TERM`."""

from __future__ import annotations

import json
import shlex

import typer
from rich.panel import Panel
from rich.table import Table

from glossa.cli.console import console
from glossa.errors import GlossaError
from glossa.glossary.checks import locate
from glossa.glossary.coverage import as_json, as_markdown, coverage_rows, totals
from glossa.glossary.registry import Glossary, Term, load_glossary

_MARK = {True: "[green]✓[/]", False: "[dim]·[/]"}


def _terms_table(glossary: Glossary, number: int) -> Table:
    section = glossary.sections[number]
    table = Table(title=f"§{number} {section.title} ({section.level})", title_justify="left", expand=False)
    for column in ("slug", "term", "code", "tests", "demo"):
        table.add_column(column, justify="center" if column in ("code", "tests", "demo") else "left")
    for term in glossary.in_section(number):
        table.add_row(term.slug, term.name, _MARK[term.has_code], _MARK[term.has_tests], _MARK[term.has_demo])
    return table


def _coverage_table(glossary: Glossary) -> Table:
    table = Table(title="Coverage by section", title_justify="left")
    for column in ("§", "section", "level", "terms", "code", "tests", "demo"):
        table.add_column(column, justify="right" if column not in ("section", "level") else "left")
    for row in coverage_rows(glossary):
        table.add_row(
            str(row.number),
            row.title,
            row.level,
            str(row.terms),
            str(row.with_code),
            str(row.with_tests),
            str(row.with_demo),
        )
    total = totals(glossary)
    table.add_section()
    table.add_row(
        "",
        "all distinct terms",
        "",
        str(total["terms"]),
        str(total["with_code"]),
        str(total["with_tests"]),
        str(total["with_demo"]),
        style="bold",
    )
    return table


def glossary_command(
    section: int = typer.Option(None, "--section", "-s", help="Show one section only."),
    as_json_flag: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    as_markdown_flag: bool = typer.Option(False, "--markdown", help="Print the coverage table as markdown."),
) -> None:
    """Every term of the seed glossary by section, with what exists: code, tests, demo."""
    glossary = load_glossary()
    if as_json_flag:
        print(json.dumps(as_json(glossary), indent=2, ensure_ascii=False))
        return
    if as_markdown_flag:
        print(as_markdown(glossary))
        return
    if section is not None and section not in glossary.sections:
        raise GlossaError(f"no section {section}; sections are numbered 1 to {max(glossary.sections)}")
    for number in [section] if section is not None else sorted(glossary.sections):
        console.print(_terms_table(glossary, number))
    console.print(_coverage_table(glossary))
    total = totals(glossary)
    console.print(f"Coverage: [bold]{total['covered']}[/] of {total['terms']} terms have code and tests.")


def _describe(glossary: Glossary, term: Term) -> Panel:
    lines = [f"[bold]{term.name}[/]  [dim]({term.slug}, {term.level})[/]"]
    if term.aliases:
        lines.append(f"[dim]also:[/] {', '.join(term.aliases)}")
    sections = ", ".join(f"§{n} {glossary.sections[n].title}" for n in term.sections)
    lines += [f"[dim]sections:[/] {sections}", "", term.summary, ""]
    if term.code:
        lines.append(f"[dim]code:[/] {term.code}  [cyan]{locate(term.code)}[/]")
    else:
        lines.append("[dim]code:[/] not built yet")
    lines.append(f"[dim]tests:[/] {', '.join(term.tests) if term.tests else 'none yet'}")
    if term.demo:
        lines.append(f"[dim]demo:[/] {term.demo}   (run it with --run)")
    if term.related:
        related = ", ".join(
            f"{glossary.by_slug[slug].name} ({slug})" for slug in term.related if slug in glossary.by_slug
        )
        lines.append(f"[dim]related:[/] {related}")
    return Panel("\n".join(lines), expand=False)


def _run_demo(term: Term) -> None:
    from glossa.cli import app  # the demo is a glossa command; the app is built after this module loads

    if not term.demo:
        raise GlossaError(f"'{term.slug}' has no demo yet; `glossa glossary` shows which terms have one")
    argv = shlex.split(term.demo)[1:]
    console.rule(f"[bold]$ {term.demo}")
    app(args=argv, prog_name="glossa", standalone_mode=False)


def explain_command(
    term_query: str = typer.Argument(..., metavar="TERM", help="A slug, name or alias, e.g. top-p."),
    run: bool = typer.Option(False, "--run", help="Run the term's demo after explaining it."),
) -> None:
    """What a term means, where its code lives, what tests check it; --run runs its demo."""
    glossary = load_glossary()
    term = glossary.find(term_query)
    console.print(_describe(glossary, term))
    if run:
        _run_demo(term)


def register(app: typer.Typer) -> None:
    app.command("glossary")(glossary_command)
    app.command("explain")(explain_command)
