"""Load `terms.toml` into typed terms and answer questions about them.

The TOML file is the single source: a `[[section]]` list (number, title, level) and a `[[term]]` list (name,
slug, aliases, sections, level, summary, code, tests, demo, related). Loading checks the shape and the
uniqueness of slugs and aliases; `glossary/checks.py` checks the references to code and tests, which needs
imports and is kept out of the hot path of `glossa explain`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from glossa.errors import GlossaError

TERMS_PATH = Path(__file__).with_name("terms.toml")
LEVELS = ("L1", "L2", "L3", "L4", "L5", "L6")
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    level: str


@dataclass(frozen=True)
class Term:
    name: str
    slug: str
    aliases: tuple[str, ...]
    sections: tuple[int, ...]
    level: str
    summary: str
    code: str
    tests: tuple[str, ...]
    demo: str
    related: tuple[str, ...]

    @property
    def has_code(self) -> bool:
        return bool(self.code)

    @property
    def has_tests(self) -> bool:
        return bool(self.tests)

    @property
    def has_demo(self) -> bool:
        return bool(self.demo)

    @property
    def covered(self) -> bool:
        """Counted in the project's coverage number: real code and a test that checks it."""
        return self.has_code and self.has_tests


def normalize_key(text: str) -> str:
    """Fold case, spaces, underscores and hyphens so 'Top P', 'top_p' and 'top-p' meet."""
    return re.sub(r"[\s_\-]+", "-", text.strip().lower()).strip("-")


class Glossary:
    """The sections and terms, with lookup by slug, name or alias."""

    def __init__(self, sections: list[Section], terms: list[Term]) -> None:
        self.sections = {section.number: section for section in sections}
        self.terms = terms
        self.by_slug: dict[str, Term] = {}
        self._by_key: dict[str, Term] = {}
        for term in terms:
            if term.slug in self.by_slug:
                raise GlossaError(f"terms.toml: slug '{term.slug}' is used twice")
            self.by_slug[term.slug] = term
        for term in terms:
            for key in (term.slug, term.name, *term.aliases):
                folded = normalize_key(key)
                owner = self._by_key.setdefault(folded, term)
                if owner is not term:
                    raise GlossaError(f"terms.toml: '{key}' names both '{owner.slug}' and '{term.slug}'")

    def find(self, query: str) -> Term:
        """The term named by `query`; a near miss raises an error that suggests the closest terms."""
        term = self._by_key.get(normalize_key(query))
        if term is not None:
            return term
        suggestions = self.suggest(query)
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        raise GlossaError(f"no glossary term '{query}'{hint} (`glossa glossary` lists them all)")

    def suggest(self, query: str, limit: int = 5) -> list[str]:
        """Slugs of the terms whose slug, name or alias is closest to `query`."""
        folded = normalize_key(query)
        close = difflib.get_close_matches(folded, list(self._by_key), n=limit * 3, cutoff=0.6)
        containing = [key for key in self._by_key if len(folded) >= 3 and folded in key]
        slugs: list[str] = []
        for key in [*close, *containing]:
            slug = self._by_key[key].slug
            if slug not in slugs:
                slugs.append(slug)
        return slugs[:limit]

    def in_section(self, number: int) -> list[Term]:
        return [term for term in self.terms if number in term.sections]


def _tuple_of_str(raw: dict, key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise GlossaError(f"terms.toml: {where}: '{key}' must be a list of strings")
    return tuple(value)


def _parse_term(raw: dict, sections: dict[int, Section]) -> Term:
    where = f"term '{raw.get('slug', raw.get('name', '?'))}'"
    for key in ("name", "slug", "level", "summary"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise GlossaError(f"terms.toml: {where}: '{key}' must be a non-empty string")
    if not _SLUG.match(raw["slug"]):
        raise GlossaError(f"terms.toml: {where}: slug must be lowercase words joined by '-'")
    if raw["level"] not in LEVELS:
        raise GlossaError(f"terms.toml: {where}: level must be one of {', '.join(LEVELS)}")
    numbers = raw.get("sections", [])
    if not numbers or not all(isinstance(n, int) and n in sections for n in numbers):
        raise GlossaError(f"terms.toml: {where}: 'sections' must list known section numbers")
    return Term(
        name=raw["name"],
        slug=raw["slug"],
        aliases=_tuple_of_str(raw, "aliases", where),
        sections=tuple(numbers),
        level=raw["level"],
        summary=raw["summary"],
        code=str(raw.get("code", "")),
        tests=_tuple_of_str(raw, "tests", where),
        demo=str(raw.get("demo", "")),
        related=_tuple_of_str(raw, "related", where),
    )


def parse_glossary(text: str) -> Glossary:
    """Build a `Glossary` from the text of a terms file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise GlossaError(f"terms.toml is not valid TOML: {error}") from None
    sections = {}
    for raw in data.get("section", []):
        section = Section(number=int(raw["number"]), title=str(raw["title"]), level=str(raw["level"]))
        sections[section.number] = section
    terms = [_parse_term(raw, sections) for raw in data.get("term", [])]
    return Glossary(sorted(sections.values(), key=lambda s: s.number), terms)


@cache
def load_glossary(path: Path = TERMS_PATH) -> Glossary:
    """The project's glossary, parsed once per process."""
    return parse_glossary(path.read_text(encoding="utf-8"))
