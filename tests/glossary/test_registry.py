"""The glossary stays honest: it covers the whole seed, and every code path and test id it names is real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glossa.errors import GlossaError
from glossa.glossary.checks import locate, node_id_exists, problems
from glossa.glossary.coverage import as_markdown, totals
from glossa.glossary.readme import END, START, splice
from glossa.glossary.registry import load_glossary, parse_glossary

REPO_ROOT = Path(__file__).resolve().parents[2]

MINI = """
[[section]]
number = 1
title = "One"
level = "L1"

[[term]]
name = "Alpha"
slug = "alpha"
aliases = ["first letter"]
sections = [1]
level = "L1"
summary = "The first."
code = ""
tests = []
demo = ""
related = []
"""


def test_glossary_covers_every_section_of_the_seed():
    glossary = load_glossary()
    assert len(glossary.terms) >= 280
    assert sorted(glossary.sections) == list(range(1, 26))
    for number in glossary.sections:
        assert glossary.in_section(number), f"section {number} has no term"


def test_every_reference_in_the_glossary_is_real():
    glossary = load_glossary()
    found = problems(glossary, REPO_ROOT)
    assert found == [], "\n".join(found)
    total = totals(glossary)
    print(f"\nglossary coverage: {total['covered']} of {total['terms']} terms have code and tests")
    assert total["covered"] >= 1


def test_problems_catches_broken_references():
    broken = MINI.replace('code = ""', 'code = "glossa.no_such_module.thing"').replace(
        "tests = []", 'tests = ["tests/glossary/test_registry.py::test_that_does_not_exist"]'
    )
    found = problems(parse_glossary(broken), REPO_ROOT)
    assert any("does not import" in line for line in found)
    assert any("does not exist" in line for line in found)
    code_without_tests = MINI.replace('code = ""', 'code = "glossa.glossary.registry.parse_glossary"')
    assert problems(parse_glossary(code_without_tests), REPO_ROOT) == ["alpha: has code but no test"]


def _term(name: str, slug: str, alias: str) -> str:
    return (
        f'[[term]]\nname = "{name}"\nslug = "{slug}"\naliases = ["{alias}"]\nsections = [1]\n'
        'level = "L1"\nsummary = "x"\n'
    )


def test_repeated_slug_or_alias_is_rejected():
    header = MINI.split("[[term]]", 1)[0]
    with pytest.raises(GlossaError, match="used twice"):
        parse_glossary(header + _term("A", "a", "x") + _term("B", "a", "y"))
    with pytest.raises(GlossaError, match="names both"):
        parse_glossary(header + _term("A", "a", "shared") + _term("B", "b", "shared"))
    assert len(parse_glossary(header + _term("A", "a", "x") + _term("B", "b", "y")).terms) == 2


def test_find_by_slug_name_alias_and_suggest_near_misses():
    glossary = load_glossary()
    top_p = glossary.by_slug["top-p"]
    assert glossary.find("top-p") is top_p
    assert glossary.find(top_p.name.upper()) is top_p
    assert glossary.find("nucleus sampling") is top_p
    with pytest.raises(GlossaError, match=r"did you mean: .*top-p"):
        glossary.find("top-pp")


def test_locate_points_at_the_definition():
    location = locate("glossa.glossary.registry.parse_glossary")
    source_line = location.file.read_text().splitlines()[location.line - 1]
    assert source_line.startswith("def parse_glossary")
    constant = locate("glossa.glossary.registry.TERMS_PATH")
    assert constant.file.read_text().splitlines()[constant.line - 1].startswith("TERMS_PATH")


def test_node_id_exists_reads_test_files_without_importing_them():
    assert node_id_exists("tests/glossary/test_registry.py::test_locate_points_at_the_definition", REPO_ROOT)
    assert node_id_exists(
        "tests/glossary/test_registry.py::test_locate_points_at_the_definition[x]", REPO_ROOT
    )
    assert not node_id_exists("tests/glossary/test_registry.py::test_missing", REPO_ROOT)
    assert not node_id_exists("tests/nowhere.py::test_x", REPO_ROOT)


def test_cli_glossary_json_lists_every_term_and_section(run_cli):
    result = run_cli("glossary", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert len(data["terms"]) >= 280
    assert [row["number"] for row in data["sections"]] == list(range(1, 26))
    assert data["totals"]["terms"] == len(data["terms"])


def test_cli_glossary_table_and_markdown(run_cli):
    table = run_cli("glossary", "--section", "1")
    assert table.exit_code == 0 and "Coverage by section" in table.stdout
    markdown = run_cli("glossary", "--markdown")
    assert markdown.exit_code == 0
    assert markdown.stdout.startswith("| § | section |") and "Coverage:" in markdown.stdout


def test_cli_explain_prints_summary_and_related(run_cli):
    result = run_cli("explain", "nucleus sampling")
    assert result.exit_code == 0
    term = load_glossary().by_slug["top-p"]
    assert term.name in result.stdout
    assert "related" in result.stdout


def test_cli_explain_unknown_term_is_one_line(run_process, one_line_error):
    result = run_process("explain", "no-such-term")
    one_line_error(result)
    assert "no glossary term 'no-such-term'" in result.stderr


def test_cli_explain_run_without_demo_is_one_line(run_cli, one_line_error):
    without_demo = next(term for term in load_glossary().terms if not term.demo)
    one_line_error(run_cli("explain", without_demo.slug, "--run"))


def test_readme_coverage_table_is_current():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert splice(readme, as_markdown(load_glossary())) == readme, "run `make readme`"


def test_splice_replaces_only_the_marked_block():
    text = f"intro\n{START}\nold\n{END}\noutro\n"
    assert splice(text, "new") == f"intro\n{START}\nnew\n{END}\noutro\n"
    with pytest.raises(ValueError):
        splice("no markers", "new")


def test_cli_explain_run_runs_the_demo(run_cli):
    result = run_cli("explain", "bfloat16", "--run")
    assert result.exit_code == 0, result.stderr
    assert "$ glossa bits 0.1 --as bf16" in result.stdout
    assert "0.10009765625" in result.stdout  # the bf16 value nearest to 0.1
