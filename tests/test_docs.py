"""The README and docs/ render as intended: every table is one table (markdown-it, CommonMark with
GitHub's table extension), every row has the header's cells, every relative link resolves, and
the README leads a new user through quick start, first `pulumi up` and the config reference."""

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tools.offline import PROJECT_DIR

README = PROJECT_DIR / "README.md"
DOCUMENTS = [README, *sorted((PROJECT_DIR / "docs").glob("*.md"))]
MARKDOWN = MarkdownIt("commonmark").enable("table")


def tokens_of(document: Path) -> list[Token]:
    return MARKDOWN.parse(document.read_text())


def spans(tokens: list[Token], kind: str) -> list[tuple[int, int]]:
    return [(token.map[0], token.map[1]) for token in tokens if token.type == kind and token.map]


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_table_line_renders_inside_a_table(document: Path) -> None:
    tokens = tokens_of(document)
    tables = spans(tokens, "table_open")
    code = spans(tokens, "fence") + spans(tokens, "code_block")
    for number, line in enumerate(document.read_text().splitlines()):
        if line.startswith("|") and not any(start <= number < end for start, end in code):
            assert any(start <= number < end for start, end in tables), \
                f"{document.name}:{number + 1} starts with '|' but is not part of a table (a blank line above?)"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_table_rows_have_the_headers_cells(document: Path) -> None:
    lines = document.read_text().splitlines()
    for start, end in spans(tokens_of(document), "table_open"):
        widths = {len(re.split(r"(?<!\\)\|", line.strip().strip("|"))) for line in lines[start:end]}
        assert len(widths) == 1, f"{document.name}:{start + 1}: rows with {sorted(widths)} cells (an unescaped '|'?)"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_resolve(document: Path) -> None:
    for token in tokens_of(document):
        for child in token.children or []:
            href = str(child.attrs.get("href", "")) if child.type == "link_open" else ""
            if not href or re.match(r"[a-z]+:", href):
                continue
            path_text, _, anchor = href.partition("#")
            target = (document.parent / path_text).resolve() if path_text else document
            assert target.is_file(), f"{document.name}: link to {href}, which does not exist"
            if anchor and target.suffix == ".md":
                headings = [github_anchor(line.lstrip("#").strip())
                            for line in target.read_text().splitlines() if line.startswith("#")]
                assert anchor in headings, f"{document.name}: link to {href}, which has no such heading"


def test_readme_leads_through_quick_start_first_up_and_the_config_reference() -> None:
    headings = [line for line in README.read_text().splitlines() if line.startswith("## ")]
    order = [next(index for index, heading in enumerate(headings) if heading.startswith(prefix))
             for prefix in ("## Quick start", "## First `pulumi up", "## Configuration")]
    assert order == sorted(order) and order[0] == 0, headings
    # The long reference tables live in docs/, one link away.
    text = README.read_text()
    for header, document in (("| resource | why |", "resources.md"), ("| key | section | type |", "config.md"),
                             ("| rule | level |", "policies.md"), ("| path | what |", "layout.md")):
        assert header not in text and header in (PROJECT_DIR / "docs" / document).read_text(), document
        assert f"](docs/{document})" in text, document
