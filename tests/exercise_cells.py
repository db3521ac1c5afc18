"""Run a notebook's coding exercises outside the notebook: its solution cells and the checker cells after them.

Solution and checker cells may use only PREAMBLE's imports (the convention in tools/student_edition.py),
so they can run on their own here, in seconds, without the notebook's data or models.
"""

from __future__ import annotations

import ast
import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.student_edition import CHECKER_TAG, SOLUTION_TAG, solution_source, stub_source, tags  # noqa: E402

PREAMBLE = "import math\nimport numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport utils\n"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("week*.ipynb"))


@dataclass(frozen=True)
class Exercise:
    """One coding exercise: its solution cell's source and the checker cell's source, by cell number."""

    notebook: str
    solution_cell: int
    solution: str
    checker_cell: int
    checker: str

    @property
    def name(self) -> str:
        return f"{self.notebook}:cell{self.solution_cell}"


def exercises(notebook_path: Path) -> list[Exercise]:
    """Every (solution, checker) pair of the notebook, in order; a solution's checker is the next checker cell."""
    cells = nbformat.read(notebook_path, as_version=4).cells
    found, pending = [], None
    for number, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        if SOLUTION_TAG in tags(cell):
            pending = (number, cell.source)
        elif CHECKER_TAG in tags(cell):
            assert pending is not None, f"{notebook_path.name} cell {number}: a checker with no solution cell before it"
            found.append(Exercise(notebook_path.stem, pending[0], pending[1], number, cell.source))
            pending = None
    assert pending is None, f"{notebook_path.name} cell {pending[0]}: a solution cell with no checker after it"
    return found


def namespace() -> dict[str, Any]:
    """A fresh namespace holding only the preamble's imports."""
    scope: dict[str, Any] = {}
    exec(PREAMBLE, scope)  # noqa: S102 - the repository's own notebook code
    return scope


def run_checker(exercise: Exercise, student_edition: bool = False) -> tuple[Any, str]:
    """Define the solution (or the student's stub), run the checker; return its CheckResult and printed text."""
    scope = namespace()
    source = stub_source(exercise.solution) if student_edition else solution_source(exercise.solution)
    exec(source, scope)  # noqa: S102
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = eval(checker_expression(exercise.checker), scope)  # noqa: S307
    return result, printed.getvalue()


def checker_expression(source: str) -> str:
    """The checker cell's one expression (its comments and a trailing ';' removed)."""
    body = ast.parse(source).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr), "a checker cell holds one expression statement"
    return ast.unparse(body[0].value)


def solution_namespace(notebook: str) -> dict[str, Any]:
    """A namespace in which every solution cell of ``notebooks/<notebook>.ipynb`` has been run."""
    scope = namespace()
    for exercise in exercises(ROOT / "notebooks" / f"{notebook}.ipynb"):
        exec(solution_source(exercise.solution), scope)  # noqa: S102
    return scope
