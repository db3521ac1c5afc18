"""Write the student edition of every notebook: the same notebook with the answers taken out.

    python tools/student_edition.py [--out student] [notebooks/week*.ipynb ...]

In each notebook, and nowhere else:
- a code cell tagged ``solution`` keeps its signatures and docstrings, but each region between
  ``# BEGIN SOLUTION: <task>`` and ``# END SOLUTION`` becomes ``raise NotImplementedError("<task>")``;
  its outputs are cleared;
- a code cell tagged ``checker`` (it prints the reference solution's ✅) has its outputs cleared;
- a ``<details>`` block whose summary says "Solution" or "Answer" is replaced by one line saying that
  the solution is in the instructor edition (hints stay);
- Open-in-Colab links point to the branch the edition is published on (``--branch``, default ``student``),
  so that a student's badge opens the student edition.
Every other cell is copied unchanged, outputs included, so the lecture's figures stay. The folder
(``student/`` by default, git-ignored) gets a README; `make student` runs this script.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from utils.course import colab_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_TAG = "solution"
CHECKER_TAG = "checker"
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION: (?P<task>\S.*?)\s*$")
END = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION\s*$")
SOLUTION_DETAILS = re.compile(
    r"<details>\s*<summary>[^<]*(?:solution|answer)[^<]*</summary>.*?</details>", re.IGNORECASE | re.DOTALL
)
REMOVED_DETAILS = "*(The solution is in the instructor edition.)*"
COLAB_LINK = re.compile(r"(colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/)main/")
STUDENT_BRANCH = "student"


class EditionError(ValueError):
    """A notebook that breaks the solution-marking convention; the message names the cell and line."""


def tags(cell: nbformat.NotebookNode) -> list[str]:
    """The cell's tags (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))


def stub_source(source: str, where: str = "cell") -> str:
    """``source`` with each marked solution region replaced by ``raise NotImplementedError(<task>)``."""
    lines, out, regions = source.splitlines(), [], 0
    index = 0
    while index < len(lines):
        begin = BEGIN.match(lines[index])
        if END.match(lines[index]):
            raise EditionError(f"{where}, line {index + 1}: '# END SOLUTION' without a '# BEGIN SOLUTION: <task>'")
        if not begin:
            if "BEGIN SOLUTION" in lines[index]:
                marker = "'# BEGIN SOLUTION: <one-line task>'"
                raise EditionError(f"{where}, line {index + 1}: write the marker as {marker}")
            out.append(lines[index])
            index += 1
            continue
        end = next((j for j in range(index + 1, len(lines)) if END.match(lines[j]) or BEGIN.match(lines[j])), None)
        if end is None or not END.match(lines[end]):
            raise EditionError(f"{where}, line {index + 1}: '# BEGIN SOLUTION' has no '# END SOLUTION' after it")
        if END.match(lines[end])["indent"] != begin["indent"]:  # type: ignore[index]
            raise EditionError(f"{where}, line {end + 1}: '# END SOLUTION' must be indented like its BEGIN marker")
        task = begin["task"]
        out.append(f"{begin['indent']}# TODO: {task}")
        out.append(f"{begin['indent']}raise NotImplementedError({task!r})")
        regions += 1
        index = end + 1
    if regions == 0:
        raise EditionError(f"{where} is tagged '{SOLUTION_TAG}' but has no '# BEGIN SOLUTION: <task>' region")
    return "\n".join(out)


def solution_source(source: str) -> str:
    """The instructor's source with the markers removed (what the reference solution runs)."""
    return "\n".join(line for line in source.splitlines() if not (BEGIN.match(line) or END.match(line)))


def student_markdown(source: str, branch: str = STUDENT_BRANCH) -> str:
    """Markdown with every solution ``<details>`` block replaced by a one-line pointer, Colab links on ``branch``."""
    return COLAB_LINK.sub(rf"\g<1>{branch}/", SOLUTION_DETAILS.sub(REMOVED_DETAILS, source))


def student_notebook(
    notebook: nbformat.NotebookNode, name: str = "notebook", branch: str = STUDENT_BRANCH
) -> nbformat.NotebookNode:
    """The student edition of ``notebook`` (a copy; the instructor's notebook is not modified)."""
    edition = copy.deepcopy(notebook)
    for number, cell in enumerate(edition.cells):
        where = f"{name}, cell {number}"
        if cell.cell_type == "code" and SOLUTION_TAG in tags(cell):
            cell.source = stub_source(cell.source, where)
            _clear(cell)
        elif cell.cell_type == "code" and CHECKER_TAG in tags(cell):
            _clear(cell)
        elif cell.cell_type == "markdown":
            cell.source = student_markdown(cell.source, branch)
    return edition


def _clear(cell: nbformat.NotebookNode) -> None:
    cell.outputs = []
    cell.execution_count = None


README = """# Student edition

Generated by `make student` from the notebooks in `notebooks/` (do not edit here: edit the source notebook
and run `make student` again). In each notebook the coding exercises' solutions are stubs that raise
`NotImplementedError`, and the worked solutions are removed; everything else is the instructor's notebook,
outputs included. Each exercise's checker cell tells you whether your code is right and gives a hint.

Open in Colab, once published on the `{branch}` branch (see the course README, "Exercises and the student edition"):

{links}
"""


def write_edition(notebooks: list[Path], out: Path, branch: str = STUDENT_BRANCH) -> list[Path]:
    """Write the student edition of each notebook into ``out``; return the paths written.

    Refuses to write into the source folder, so an instructor's notebooks are never overwritten.
    """
    out = out.resolve()
    sources = {path.resolve().parent for path in notebooks}
    if out in sources:
        raise EditionError(f"{out} holds the source notebooks: choose another folder for the student edition")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        target = out / path.name
        nbformat.write(student_notebook(notebook, path.name, branch), target)
        written.append(target)
    links = "\n".join(f"- [{path.stem}]({colab_url(f'notebooks/{path.name}', branch=branch)})" for path in notebooks)
    (out / "README.md").write_text(README.format(branch=branch, links=links), encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/week*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="output folder (default: student/)")
    parser.add_argument("--branch", default=STUDENT_BRANCH, help="branch the edition is published on (Colab links)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("week*.ipynb"))
    try:
        written = write_edition(notebooks, args.out, args.branch)
    except EditionError as error:
        print(f"student edition not written: {error}", file=sys.stderr)
        return 1
    print(f"wrote the student edition of {len(written)} notebooks to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
