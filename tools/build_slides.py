"""Turn every notebook into a reveal.js deck that works offline: ``make slides`` runs this script.

    python tools/build_slides.py [--out build/slides] [notebooks/week*.ipynb ...]

Slide types are decided here, at build time, on a copy of each notebook (the committed notebooks are
not changed):
- a ``## `` heading starts a slide, a ``### `` heading a sub-slide (reveal.js's vertical slides): a
  markdown cell is split before each such heading; the notebook's first cell is the title slide;
- the cells after a heading fill that slide until its estimated height (text lines, code lines and
  figure heights) passes ``SLIDE_LINES``; the next cell then starts a sub-slide; a markdown cell taller
  than a slide is first split between its paragraphs, so its parts continue on sub-slides;
- a code cell longer than ``FOLD_LINES`` lines, and every ``solution`` cell, is folded: its code sits
  in a ``<details>`` that opens on a click, its outputs (figures, tables) stay shown;
- a cell that already carries ``metadata.slideshow.slide_type`` (slide, subslide, fragment, skip,
  notes, "-") keeps it: an instructor can set it in Jupyter (Property Inspector, "Slide Type").
Offline: reveal.js comes from the PyPI package sphinx-revealjs (its bundled ``dist/`` and ``plugin/``),
MathJax 2 from jupyter-server-mathjax; both are copied next to the decks, and the template in
``tools/site/slides_template`` loads nothing from a CDN (no require.js, jQuery or mermaid). The
Colab badge image is a local SVG; links (``<a href>``) to papers and to Colab stay links.
"""

from __future__ import annotations

import argparse
import base64
import copy
import importlib.util
import math
import re
import shutil
import struct
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SITE_ASSETS = ROOT / "tools" / "site"
TEMPLATE_DIR = SITE_ASSETS / "slides_template"
TEMPLATE_NAME = "course_reveal"
COLAB_BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "assets/colab-badge.svg"  # relative to a deck or a site page (both sit at the top level)
REVEAL_DIR = "reveal.js"
MATHJAX_DIR = "mathjax"
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FOLD_TAG = "slides-fold"
FOLD_LINES = 12  # code cells longer than this are folded
SLIDE_LINES = 22  # about what fits on a 960 x 700 slide at the template's 20 px font
LINE_PX = 30  # one line of slide text, in pixels, for turning a figure's height into lines
SLIDE_WIDTH_PX = 900


class SlidesError(RuntimeError):
    """A missing package or asset: the message says what to install."""


def package_dir(module: str, install: str) -> Path:
    """The folder of an installed package, or a SlidesError naming the pip package to install."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise SlidesError(
            f"{module} is missing: run `make dev-setup` (it installs {install} from requirements-dev.txt)"
        )
    return Path(spec.origin).parent


def reveal_source() -> Path:
    """reveal.js's files (``dist/``, ``plugin/``) as the sphinx-revealjs package ships them."""
    folder = package_dir("sphinx_revealjs", "sphinx-revealjs") / "_static" / "revealjs"
    if not (folder / "dist" / "reveal.js").is_file():
        raise SlidesError(f"no dist/reveal.js under {folder}: this sphinx-revealjs no longer bundles reveal.js")
    return folder


def mathjax_source() -> Path:
    """MathJax 2 (``MathJax.js``, ``config/``, ``jax/``, ``fonts/``) as jupyter-server-mathjax ships it."""
    folder = package_dir("jupyter_server_mathjax", "jupyter-server-mathjax") / "static"
    if not (folder / "MathJax.js").is_file():
        raise SlidesError(f"no MathJax.js under {folder}")
    return folder


def copy_tree(source: Path, target: Path, ignore: tuple[str, ...] = ()) -> None:
    """Copy ``source`` to ``target`` unless ``target`` is already there (assets are copied once per folder)."""
    if not target.exists():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(*ignore))


def copy_assets(out: Path) -> None:
    """Put reveal.js, MathJax and the Colab badge next to the decks in ``out``."""
    copy_tree(reveal_source(), out / REVEAL_DIR, ignore=("*.map", "*.scss", "css", "*.esm.js"))
    copy_tree(mathjax_source(), out / MATHJAX_DIR)
    (out / LOCAL_BADGE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SITE_ASSETS / "colab-badge.svg", out / LOCAL_BADGE)


def offline_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy that renders without the network: local Colab badge, no widget state (it loads from a CDN).

    A widget output (a tqdm progress bar) keeps its text fallback.
    """
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(COLAB_BADGE_URL, LOCAL_BADGE)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and len(data) > 1:
                del data[WIDGET_VIEW]
    return notebook


def split_source(source: str) -> list[str]:
    """Markdown split before each ``##`` or ``###`` heading line (headings inside code fences stay)."""
    parts: list[list[str]] = [[]]
    fenced = False
    for line in source.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{2,3} ", line) and any(part.strip() for part in parts[-1]):
            parts.append([])
        parts[-1].append(line)
    return ["\n".join(part).strip("\n") for part in parts]


def split_at_headings(notebook: nbformat.NotebookNode) -> None:
    """Split every markdown cell but the title cell at its ``##``/``###`` headings, so each starts a slide.

    The first part keeps the cell's metadata (an instructor's slide type included); the others get none.
    """
    cells = notebook.cells[:1]
    for cell in notebook.cells[1:]:
        cells += split_cell(cell, split_source(cell.source)) if cell.cell_type == "markdown" else [cell]
    notebook.cells = cells


def split_cell(cell: nbformat.NotebookNode, parts: list[str], id_infix: str = "") -> list[nbformat.NotebookNode]:
    """A markdown cell as one cell per part: the first is the cell itself (its metadata kept), the others new."""
    cell.source = parts[0]
    cells = [cell]
    for number, part in enumerate(parts[1:], start=1):
        new = nbformat.v4.new_markdown_cell(part)
        if "id" in cell:
            new.id = f"{cell.id}-{id_infix}{number}"  # deterministic ids, not random ones
        cells.append(new)
    return cells


def paragraphs(source: str) -> list[str]:
    """Markdown split at its blank lines, keeping code fences, ``$$`` maths and ``<details>`` blocks whole."""
    parts: list[list[str]] = [[]]
    fenced = maths = False
    details = 0
    for line in source.splitlines():
        if not line.strip() and not (fenced or maths or details) and any(part.strip() for part in parts[-1]):
            parts.append([])
            continue
        parts[-1].append(line)
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced:
            maths ^= line.count("$$") % 2 == 1
            details += line.count("<details") - line.count("</details>")
    return ["\n".join(part).strip("\n") for part in parts if any(line.strip() for line in part)]


def markdown_lines(source: str) -> int:
    """Estimated height of markdown text in slide lines: ~80 characters a line, headings twice as tall."""
    lines = 0
    for line in source.splitlines():
        heading = re.match(r"\s*#{1,3} ", line) is not None
        lines += max(1, math.ceil(len(line) / (40 if heading else 80))) * (2 if heading else 1)
    return lines


def list_items(paragraph: str) -> list[str]:
    """A paragraph split before each top-level list item (``* ``, ``- ``, ``1. ``); other lines stay attached."""
    items: list[list[str]] = [[]]
    for line in paragraph.splitlines():
        if re.match(r"(?:[*-]|\d+\.) ", line) and items[-1]:
            items.append([])
        items[-1].append(line)
    return ["\n".join(item) for item in items]


def slide_pieces(source: str) -> list[tuple[str, str]]:
    """The markdown as (separator, piece) pairs small enough to move to another slide.

    Pieces are paragraphs (separator a blank line); a paragraph taller than a slide, a long list
    typically, is split further into its list items (separator a line break, so the list stays one list;
    numbered items keep their own numbers).
    """
    pieces = []
    for paragraph in paragraphs(source):
        parts = list_items(paragraph) if markdown_lines(paragraph) > SLIDE_LINES else [paragraph]
        pieces += [("\n\n" if number == 0 else "\n", part) for number, part in enumerate(parts)]
    return pieces


def split_tall_markdown(notebook: nbformat.NotebookNode) -> None:
    """Split every markdown cell taller than a slide between paragraphs or list items, into parts that fit.

    The parts after the first start sub-slides (``assign_slide_types``), so a long introduction or a
    reference list reads over several slides instead of running off the bottom of one. A single piece
    taller than a slide stays whole. The first part keeps the cell's metadata; the others get none.
    """
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown" or markdown_lines(cell.source) <= SLIDE_LINES:
            cells.append(cell)
            continue
        chunks = [""]
        for separator, piece in slide_pieces(cell.source):
            joined = chunks[-1] + separator + piece if chunks[-1] else piece
            if chunks[-1] and markdown_lines(joined) > SLIDE_LINES:
                chunks.append(piece)
            else:
                chunks[-1] = joined
        cells += split_cell(cell, chunks, id_infix="part")
    notebook.cells = cells


def heading_level(cell: nbformat.NotebookNode) -> int:
    """1, 2 or 3 for a markdown cell that starts with ``#``, ``##`` or ``###``; 0 otherwise."""
    if cell.cell_type != "markdown":
        return 0
    match = re.match(r"\s*(#{1,3}) ", cell.source)
    return len(match.group(1)) if match else 0


def png_height_lines(encoded: str) -> int:
    """The height of a base64 PNG or JPEG figure on a slide, in text lines (scaled to the slide's width)."""
    raw = base64.b64decode(encoded[:200] + "=" * (-len(encoded[:200]) % 4))
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        width, height = struct.unpack(">II", raw[16:24])
        height_px = height * min(1.0, SLIDE_WIDTH_PX / max(width, 1))
        return max(1, math.ceil(height_px / LINE_PX))
    return 12  # a JPEG: its size sits deeper in the file; count a typical photo grid


def output_lines(output: nbformat.NotebookNode) -> int:
    """Estimated height of one output, in text lines."""
    if output.get("output_type") == "stream":
        return min(len(output.get("text", "").splitlines()), 12)  # the template scrolls longer text
    data = output.get("data", {})
    for image in ("image/png", "image/jpeg"):
        if image in data:
            return png_height_lines(data[image])
    if "text/html" in data:
        return min(data["text/html"].count("<tr"), 14) + 1
    return min(len(data.get("text/plain", "").splitlines()), 12)


def cell_lines(cell: nbformat.NotebookNode) -> int:
    """Estimated height of a cell on a slide, in text lines (a folded code cell counts one line)."""
    if cell.cell_type == "markdown":
        return markdown_lines(cell.source)
    if cell.cell_type != "code":
        return 0
    source_lines = len(cell.source.splitlines())
    shown = 1 if FOLD_TAG in cell.metadata.get("tags", []) else source_lines
    return shown + sum(output_lines(output) for output in cell.get("outputs", []))


def mark_folds(notebook: nbformat.NotebookNode) -> None:
    """Tag long code cells and solution cells with ``FOLD_TAG`` (the template folds their code)."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if len(cell.source.splitlines()) > FOLD_LINES or "solution" in tags:
            cell.metadata["tags"] = [*tags, FOLD_TAG]


def assign_slide_types(notebook: nbformat.NotebookNode) -> None:
    """Give every cell without ``slideshow.slide_type`` one, from headings and estimated heights."""
    used = 0
    for index, cell in enumerate(notebook.cells):
        given = cell.metadata.get("slideshow", {}).get("slide_type")
        level = heading_level(cell)
        height = cell_lines(cell)
        if given is not None:
            slide_type = given
        elif index == 0 or level in (1, 2):
            slide_type = "slide"
        elif level == 3 or (used > 0 and used + height > SLIDE_LINES):
            slide_type = "subslide"
        else:
            slide_type = "-"
        if slide_type in ("slide", "subslide"):
            used = 0
        if slide_type not in ("skip", "notes"):
            used += height
        cell.metadata.setdefault("slideshow", nbformat.NotebookNode())["slide_type"] = slide_type


def deck_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as the deck shows it: offline, long code folded, every cell with a slide type."""
    deck = offline_notebook(notebook)
    split_at_headings(deck)
    split_tall_markdown(deck)
    mark_folds(deck)
    assign_slide_types(deck)
    return deck


def exporter() -> SlidesExporter:
    """nbconvert's SlidesExporter with the course template and local reveal.js and MathJax."""
    return SlidesExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        reveal_url_prefix=REVEAL_DIR,
        reveal_theme="white",
        reveal_transition="none",
        reveal_number="c/t",
        mathjax_url=MATHJAX_URL,
    )


def build_deck(path: Path, out: Path) -> Path:
    """Write ``out/<notebook>.slides.html`` (assets included) and return its path."""
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    deck = deck_notebook(nbformat.read(path, as_version=4))
    html, _ = exporter().from_notebook_node(deck, resources={"metadata": {"name": path.stem}})
    target = out / f"{path.stem}.slides.html"
    target.write_text(html, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slides", help="folder for the decks")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/week*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("week*.ipynb"))
    start = time.perf_counter()
    try:
        for path in paths:
            print(build_deck(path, args.out))
    except SlidesError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{len(paths)} decks in {args.out} ({time.perf_counter() - start:.1f} s); open one in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
