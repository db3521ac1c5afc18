"""tools/build_slides.py: one deck (week 13, the smallest notebook) built into a temporary folder.

The deck has a slide per ``##`` section, shows the notebook's figures, folds long code, and loads every
script, stylesheet and image from files beside it (links to papers may stay remote).
"""

import sys
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_slides  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "week13_course_summary.ipynb"
ASSET_ATTRIBUTES = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src", "video": "src"}


@pytest.fixture(scope="module")
def deck(tmp_path_factory) -> Path:
    pytest.importorskip("sphinx_revealjs", reason="make dev-setup installs sphinx-revealjs (reveal.js's files)")
    return build_slides.build_deck(NOTEBOOK, tmp_path_factory.mktemp("slides"))


@pytest.fixture(scope="module")
def soup(deck) -> BeautifulSoup:
    return BeautifulSoup(deck.read_text(encoding="utf-8"), "html.parser")


def asset_urls(soup: BeautifulSoup) -> list[str]:
    """The src/href of every script, stylesheet, image and embedded frame of the page."""
    return [tag[attr] for name, attr in ASSET_ATTRIBUTES.items() for tag in soup.find_all(name) if tag.get(attr)]


def remote(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https") or url.startswith("//")


def test_one_slide_per_section(soup):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    lines = [line for c in notebook.cells[1:] if c.cell_type == "markdown" for line in c.source.splitlines()]
    sections = [line[3:] for line in lines if line.startswith("## ")]
    slides = soup.select("div.slides > section")
    assert len(slides) == 1 + len(sections), "a title slide and one slide per ## section"
    for slide, title in zip(slides[1:], sections, strict=True):
        heading = slide.find("h2")
        assert heading is not None and heading.get_text().rstrip("¶").strip() == title.strip()


def test_figures_shown_and_long_code_folded(soup):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    figures = sum("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
    assert len(soup.select('img[src^="data:image/png"]')) == figures
    folded = sum(
        c.cell_type == "code"
        and (len(c.source.splitlines()) > build_slides.FOLD_LINES or "solution" in c.metadata.get("tags", []))
        for c in notebook.cells
    )
    assert len(soup.select("details.slides-fold")) == folded > 0


def test_no_remote_asset(soup):
    urls = asset_urls(soup)
    assert any("reveal.js" in url for url in urls), "reveal.js is loaded"
    assert [url for url in urls if remote(url)] == []
    inline = " ".join(script.get_text() for script in soup.find_all("script") if not script.get("src"))
    assert "https://" not in inline and "http://" not in inline, "no script loads code from a remote address"


def test_local_assets_exist(deck, soup):
    local = [url for url in asset_urls(soup) if not remote(url) and not url.startswith("data:")]
    assert {"reveal.js/dist/reveal.js", "reveal.js/dist/reveal.css", "reveal.js/plugin/notes/notes.js"} <= set(local)
    missing = [url for url in local if not (deck.parent / urlsplit(url).path).is_file()]
    assert missing == []


def test_cells_split_at_headings():
    source = "Intro.\n\n## 2. Next\nText.\n```\n## not a heading\n```\n### 2.1 Sub"
    expected = ["Intro.", "## 2. Next\nText.\n```\n## not a heading\n```", "### 2.1 Sub"]
    assert build_slides.split_source(source) == expected


def test_slide_types_from_headings_and_metadata():
    cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_markdown_cell("## 1. A section"),
        nbformat.v4.new_code_cell("\n".join(f"x{i} = {i}" for i in range(build_slides.FOLD_LINES + 1))),
        nbformat.v4.new_markdown_cell("### 1.1 A subsection"),
        nbformat.v4.new_markdown_cell("## Kept out by the instructor", metadata={"slideshow": {"slide_type": "skip"}}),
        nbformat.v4.new_markdown_cell("a line\n" * (build_slides.SLIDE_LINES + 1)),
    ]
    deck = build_slides.deck_notebook(nbformat.v4.new_notebook(cells=cells))
    types = [cell.metadata["slideshow"]["slide_type"] for cell in deck.cells]
    assert types == ["slide", "slide", "-", "subslide", "skip", "subslide"]
    assert build_slides.FOLD_TAG in deck.cells[2].metadata.tags
    assert "slideshow" not in cells[1].metadata, "the notebook itself is not changed"


def test_paragraphs_keep_code_maths_and_details_whole():
    source = (
        "One.\n\n```\na\n\nb\n```\n\n$$\nx\n\ny\n$$\n\n<details><summary>Hint</summary>\n\nText.\n</details>\n\nTwo."
    )
    assert build_slides.paragraphs(source) == [
        "One.",
        "```\na\n\nb\n```",
        "$$\nx\n\ny\n$$",
        "<details><summary>Hint</summary>\n\nText.\n</details>",
        "Two.",
    ]


def test_a_markdown_cell_taller_than_a_slide_continues_on_sub_slides():
    items = [f"{n}. item {n} " + "word " * 14 for n in range(1, 2 * build_slides.SLIDE_LINES)]
    source = "## A long list\n\nIntro paragraph.\n\n" + "\n".join(items)
    deck = build_slides.deck_notebook(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)]))
    parts = [cell.source for cell in deck.cells]
    assert len(parts) >= 3, "split into slides"
    assert all(build_slides.markdown_lines(part) <= build_slides.SLIDE_LINES for part in parts)
    assert [cell.metadata.slideshow.slide_type for cell in deck.cells] == ["slide"] + ["subslide"] * (len(parts) - 1)
    assert "\n".join(parts).split() == source.split(), "no text lost or reordered; numbered items keep their numbers"


@pytest.mark.parametrize("notebook", sorted(build_slides.NOTEBOOKS.glob("week*.ipynb")), ids=lambda path: path.stem)
def test_no_markdown_runs_off_a_slide(notebook):
    deck = build_slides.deck_notebook(nbformat.read(notebook, as_version=4))
    tall = [
        cell.source[:60]
        for cell in deck.cells
        if cell.cell_type == "markdown" and build_slides.markdown_lines(cell.source) > build_slides.SLIDE_LINES
    ]
    assert tall == [], "markdown estimated taller than a slide"
