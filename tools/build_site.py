"""Build the course website from the committed notebooks: ``make site`` runs this script.

    python tools/build_site.py [--out build/site]

mkdocs with mkdocs-jupyter renders each notebook with its committed outputs (nothing is executed) next
to five pages made from the repository's own text: the home page (README's introduction and syllabus),
the glossary (README's glossary, with the week whose notebook first uses each term), the expected
results (README's generated table), the Colab links (colab_links.md) and the lecture slides (one reveal.js
deck per notebook, built by tools/build_slides.py into ``slides/``). The mkdocs project is written into
``build/site_src/`` (config included), so nothing committed is rewritten.

Offline: the Material theme runs with its Google fonts off, MathJax 2 (jupyter-server-mathjax) and the
Colab badge (tools/site/colab-badge.svg) are copied into the site, notebook widget state (it loads a
script from a CDN) is dropped, and nbconvert's mermaid loader is removed from pages with no diagram.
Pages sit side by side (``use_directory_urls: false``), so the site also works opened as files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from build_slides import (  # noqa: E402
    COLAB_BADGE_URL,
    LOCAL_BADGE,
    MATHJAX_DIR,
    MATHJAX_URL,
    SITE_ASSETS,
    TEMPLATE_DIR,
    TEMPLATE_NAME,
    build_deck,
    mathjax_source,
    offline_notebook,
)

from utils.course import GITHUB_BRANCH, GITHUB_SLUG  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
COLAB_LINKS = ROOT / "colab_links.md"
SITE_NAME = "CNNs for Computer Vision with PyTorch (INT3414)"
MERMAID_LOADER = re.compile(
    r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{\s*'
    r'const diagrams = document\.querySelectorAll\("\.jp-Mermaid > pre\.mermaid"\);.*?</script>',
    re.DOTALL,
)
# The words the notebooks use for a glossary term that they never name in full.
ALIASES = {
    "activation function": ["activation"],
    "loss function": ["loss"],
    "pretrained model": ["pretrained"],
    "backpropagation": ["backward pass"],
}
SLIDES_DIR = "slides"
MAIN_HTML = """{% extends "base.html" %}
{% block extrahead %}
<script>
MATHJAX_FONTS</script>
{% endblock %}
"""


def readme_section(title: str, text: str | None = None) -> str:
    """The body of README's ``## <title>`` section (up to the next ``## `` heading)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise ValueError(f"README.md has no '## {title}' section")
    return match.group(1).strip()


def readme_intro() -> str:
    """README's opening paragraphs, between its title and its first section."""
    text = README.read_text(encoding="utf-8")
    return text.split("\n## ", 1)[0].split("\n", 1)[1].strip()


def syllabus_weeks(syllabus: str) -> dict[str, str]:
    """Notebook stem -> the week it is taught in ("1", "6-7", ...), from the syllabus table's rows."""
    weeks = {}
    for match in re.finditer(r"^\| ([0-9-]+) \|.*?\]\(notebooks/(week\w+)\.ipynb\)", syllabus, re.MULTILINE):
        weeks[match.group(2)] = match.group(1)
    return weeks


def site_markdown(markdown: str, pages: set[str]) -> str:
    """README/colab_links markdown for the site: notebook links to their pages, the local badge, links to
    other files of the repository to GitHub."""
    markdown = markdown.replace(COLAB_BADGE_URL, LOCAL_BADGE)

    def link(match: re.Match[str]) -> str:
        image, target = match.group(1), match.group(2)
        name = target.removeprefix("notebooks/")
        if name in pages:
            return f"]({name})"
        if not image and not re.match(r"[a-z]+:|#", target) and (ROOT / target).exists():
            return f"](https://github.com/{GITHUB_SLUG}/blob/{GITHUB_BRANCH}/{target})"
        return match.group(0)  # a web address, an anchor, the local badge; anything else is left to fail

    return re.sub(r"(!\[[^\]]*)?\]\(([^)\s]+)\)", link, markdown)


def term_variants(english: str) -> list[str]:
    """The names a glossary entry goes by: "kernel / filter" -> kernel, filter; "(CNN)" -> CNN."""
    acronyms = re.findall(r"\(([^()\s]+)\)", english)
    words = re.sub(r"\([^()]*\)", "", english)
    names = [w.strip() for w in words.split("/") if w.strip()] + acronyms
    return names + ALIASES.get(english, [])


def notebook_text(path: Path) -> str:
    """A notebook's markdown, joined."""
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def first_use(english: str, texts: dict[str, str]) -> str | None:
    """The first notebook (in course order) whose markdown uses the term (acronyms case-sensitively)."""
    patterns = []
    for variant in term_variants(english):
        flags = 0 if any(ch.isupper() for ch in variant) else re.IGNORECASE
        patterns.append(re.compile(rf"(?<![\w-]){re.escape(variant)}(?:s|es)?(?![\w-])", flags))
    return next((stem for stem, text in texts.items() if any(p.search(text) for p in patterns)), None)


def glossary_page(texts: dict[str, str], weeks: dict[str, str]) -> str:
    """README's glossary with a column linking to the week whose notebook first uses each term."""
    rows = [line for line in readme_section("Glossary (Vietnamese – English)").splitlines() if line.startswith("|")]
    lines = [
        "# Glossary (Vietnamese – English)",
        "",
        "The course's terms in English and Vietnamese (from the README). *First used in* is the first notebook,",
        "in course order, whose text uses the term or the word it uses for it (found by `tools/build_site.py`,",
        "acronyms matched exactly); – where no notebook uses it.",
        "",
        rows[0] + " First used in |",
        rows[1] + "---|",
    ]
    for row in rows[2:]:
        stem = first_use(row.split("|")[1].strip(), texts)
        where = f"[Week {weeks[stem]}]({stem}.ipynb)" if stem else "–"
        lines.append(f"{row} {where} |")
    return "\n".join(lines) + "\n"


def pages_markdown(notebooks: list[Path]) -> dict[str, str]:
    """The site's markdown pages, by file name."""
    pages = {path.name for path in notebooks}
    syllabus = readme_section("Syllabus")
    weeks = syllabus_weeks(syllabus)
    texts = {path.stem: notebook_text(path) for path in notebooks}
    home = [
        f"# {SITE_NAME}",
        "",
        readme_intro(),
        "",
        "## Syllabus",
        "",
        syllabus,
        "",
        "Also here: the [glossary](glossary.md), the [expected results](results.md) of the last full runs and",
        "the [Open-in-Colab links](colab.md) with run times, and the [lecture slides](slides.md) of every week.",
    ]
    colab = COLAB_LINKS.read_text(encoding="utf-8")
    results = "# Expected results\n\n" + readme_section("Expected results")
    return {
        "index.md": site_markdown("\n".join(home) + "\n", pages),
        "glossary.md": site_markdown(glossary_page(texts, weeks), pages),
        "results.md": site_markdown(results + "\n", pages),
        "colab.md": site_markdown(colab, pages),
        "slides.md": slides_page(notebooks),
    }


def slides_page(notebooks: list[Path]) -> str:
    """The page that links each notebook's slide deck (``slides/<notebook>.slides.html``)."""
    lines = [
        "# Lecture slides",
        "",
        "One reveal.js deck per notebook, made from its sections and committed outputs (`make slides` builds the",
        "same decks into `build/slides/`). Arrow keys move between slides; `Esc` shows them all; `S` opens the",
        "speaker view; long code cells are folded (click to open).",
        "",
        "| Notebook | Slides |",
        "|---|---|",
    ]
    for path in notebooks:
        lines.append(f"| [{notebook_title(path)}]({path.name}) | [{path.stem}]({SLIDES_DIR}/{path.stem}.slides.html) |")
    return "\n".join(lines) + "\n"


def notebook_title(path: Path) -> str:
    """The notebook's ``# `` title (its first line)."""
    first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    return first.lstrip("# ").strip()


def mkdocs_config(notebooks: list[Path], site_dir: Path) -> dict:
    """The mkdocs configuration (written as JSON, which YAML reads)."""
    return {
        "site_name": SITE_NAME,
        "site_description": "Runnable weekly lecture notebooks of a CNN course in PyTorch",
        "docs_dir": "docs",
        "site_dir": str(site_dir),
        "use_directory_urls": False,
        "theme": {"name": "material", "font": False, "custom_dir": "overrides", "palette": {"primary": "indigo"}},
        "markdown_extensions": ["tables", "attr_list", "md_in_html", {"toc": {"permalink": True}}],
        "plugins": [
            "search",
            {
                "mkdocs-jupyter": {
                    "execute": False,
                    "include_requirejs": False,
                    "custom_mathjax_url": MATHJAX_URL,
                    "cache": False,
                }
            },
        ],
        "nav": [
            {"Home": "index.md"},
            {"Notebooks": [{notebook_title(path): path.name} for path in notebooks]},
            {"Glossary": "glossary.md"},
            {"Expected results": "results.md"},
            {"Open in Colab": "colab.md"},
            {"Slides": "slides.md"},
        ],
    }


def write_project(notebooks: list[Path], project: Path, site_dir: Path) -> Path:
    """Write the mkdocs project (pages, offline notebooks, assets, config) into ``project``."""
    if project.exists():
        shutil.rmtree(project)
    docs = project / "docs"
    docs.mkdir(parents=True)
    for name, text in pages_markdown(notebooks).items():
        (docs / name).write_text(text, encoding="utf-8")
    for path in notebooks:
        nbformat.write(offline_notebook(nbformat.read(path, as_version=4)), docs / path.name)
        build_deck(path, docs / SLIDES_DIR)  # mkdocs copies it as a static file
    (docs / LOCAL_BADGE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SITE_ASSETS / "colab-badge.svg", docs / LOCAL_BADGE)
    shutil.copytree(mathjax_source(), docs / MATHJAX_DIR)
    fonts = (TEMPLATE_DIR / TEMPLATE_NAME / "mathjax_fonts.js").read_text(encoding="utf-8")
    (project / "overrides").mkdir()
    (project / "overrides" / "main.html").write_text(MAIN_HTML.replace("MATHJAX_FONTS", fonts), encoding="utf-8")
    config = project / "mkdocs.yml"
    config.write_text(json.dumps(mkdocs_config(notebooks, site_dir), indent=2, ensure_ascii=False), encoding="utf-8")
    return config


def drop_unused_mermaid(site_dir: Path) -> None:
    """Remove nbconvert's mermaid loader (it imports mermaid from a CDN) from pages with no diagram."""
    for page in site_dir.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        if 'class="jp-Mermaid' in html:
            continue  # a page with a diagram keeps the loader (none of the notebooks has one)
        stripped = MERMAID_LOADER.sub("", html)
        if "mermaid.esm.min.mjs" in stripped:
            raise RuntimeError(f"{page.name}: nbconvert's mermaid loader changed; update MERMAID_LOADER")
        page.write_text(stripped, encoding="utf-8")


def build(out: Path, notebooks: list[Path] | None = None, project: Path | None = None) -> Path:
    """Build the site into ``out`` and return ``out``; the mkdocs project goes to ``project``."""
    notebooks = notebooks or sorted(NOTEBOOKS.glob("week*.ipynb"))
    project = project or out.parent / f"{out.name}_src"
    config = write_project(notebooks, project, out.resolve())
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "--quiet", "-f", str(config)]
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about its successor
    subprocess.run(command, check=True, cwd=project, env=environment)
    drop_unused_mermaid(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="folder for the site")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    site = build(args.out)
    pages = len(list(site.glob("*.html")))
    print(f"{pages} pages in {site} ({time.perf_counter() - start:.1f} s); open {site / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
