"""The glossary as the web page needs it: every term as JSON, and the source lines behind a term's code.

    terms_json()["terms"][0]   # {"slug", "name", "summary", "code", "location": "glossa/x.py:12", ...}
    source_excerpt("top-p")    # SourceExcerpt(path="glossa/infer/logits.py", first_line=..., lines=[...])

Locating a term's code imports its module (`glossa.glossary.checks.locate`), which costs seconds for all of
them, so the list is built once per process on first use. The source view takes a slug, never a path: the
file is the one the term's code resolves to, and only files inside the installed `glossa` package are read,
so nothing a request sends reaches the filesystem.

Each term also names the live demo the page can run for it: the next-token chart for the sampling terms,
text coloured by token for the tokenizer terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import glossa
from glossa.errors import GlossaError
from glossa.glossary.checks import CodeLocation, locate
from glossa.glossary.registry import Term, load_glossary

PACKAGE_ROOT = Path(glossa.__file__).resolve().parent
EXCERPT_LINES = 80

NEXT_TOKEN_DEMO = frozenset(
    {
        "top-k",
        "top-p",
        "temperature",
        "softmax",
        "greedy-sampling",
        "random-sampling",
        "probability-distribution",
        "conditional-probability",
        "logits",
        "min-p",
        "sampling",
    }
)
TOKENS_DEMO = frozenset(
    {
        "token",
        "subword",
        "token-id",
        "vocabulary",
        "byte-pair-encoding",
        "byte-level-tokenization",
        "tokenization",
        "tokenizer",
        "wordpiece",
        "sentencepiece",
    }
)


def demo_kind(slug: str) -> str | None:
    if slug in NEXT_TOKEN_DEMO:
        return "next-token"
    if slug in TOKENS_DEMO:
        return "tokens"
    return None


def _package_location(term: Term) -> CodeLocation | None:
    """Where the term's code is defined, if it resolves to a file inside the glossa package."""
    if not term.code:
        return None
    try:
        where = locate(term.code)
    except (ImportError, TypeError, OSError):
        return None
    path = where.file.resolve()
    return CodeLocation(path, where.line) if path.is_relative_to(PACKAGE_ROOT) else None


def _shown_path(path: Path) -> str:
    return path.relative_to(PACKAGE_ROOT.parent).as_posix()


@cache
def terms_json() -> dict:
    """Sections and terms, each term with its code location ('glossa/x.py:12') and its demo kind."""
    glossary = load_glossary()
    terms = []
    for term in glossary.terms:
        where = _package_location(term)
        terms.append(
            {
                "slug": term.slug,
                "name": term.name,
                "aliases": list(term.aliases),
                "sections": list(term.sections),
                "level": term.level,
                "summary": term.summary,
                "code": term.code,
                "location": f"{_shown_path(where.file)}:{where.line}" if where else None,
                "tests": list(term.tests),
                "demo": term.demo,
                "related": list(term.related),
                "live_demo": demo_kind(term.slug),
            }
        )
    sections = [{"number": s.number, "title": s.title} for s in glossary.sections.values()]
    return {"sections": sections, "terms": terms}


@dataclass(frozen=True)
class SourceExcerpt:
    slug: str
    code: str
    path: str
    first_line: int
    lines: list[str]


def source_excerpt(slug: str, lines: int = EXCERPT_LINES) -> SourceExcerpt:
    """The source lines of a term's code, from its definition on; GlossaError when there are none."""
    term = load_glossary().by_slug.get(slug)
    if term is None:
        raise GlossaError(f"no glossary term with slug '{slug}'")
    where = _package_location(term)
    if where is None:
        raise GlossaError(f"term '{slug}' has no code in glossa to show yet")
    text = where.file.read_text(encoding="utf-8").splitlines()
    start = max(where.line - 1, 0)
    return SourceExcerpt(slug, term.code, _shown_path(where.file), start + 1, text[start : start + lines])
