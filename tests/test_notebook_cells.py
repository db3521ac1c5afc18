"""Notebook cells that behave where students run them: re-runnable, tidy, and not failing on a slow machine.

Static checks of the committed notebooks' code (no kernel is started).
"""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("week*.ipynb"))


def code_cells(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def cells(request) -> list[str]:
    return code_cells(request.param)


def test_no_temporary_folder_is_left_behind(cells):
    for source in cells:
        assert "mkdtemp(" not in source, "tempfile.mkdtemp() folders are never removed: use a TemporaryDirectory"
    later = "\n".join(cells)
    for name in re.findall(r"^\s*(\w+) = tempfile\.TemporaryDirectory\(", later, re.MULTILINE):
        assert f"{name}.cleanup()" in later, f"{name} (a TemporaryDirectory) is never cleaned up"


def test_cells_that_make_a_folder_can_be_run_again(cells):
    for source in cells:
        for line in source.splitlines():
            top_level_mkdir = re.match(r"\S.*\.mkdir\((?!.*exist_ok=True)", line)
            if top_level_mkdir:  # a second run would raise FileExistsError unless the cell clears it first
                before = source[: source.index(line)]
                assert "shutil.rmtree(" in before, f"re-running this cell fails with FileExistsError: {line.strip()}"


def test_no_notebook_asserts_a_duration(cells):
    for source in cells:
        for line in source.splitlines():
            assert not re.search(r"\bassert\b.*seconds", line), (
                f"a time budget is a goal, not an assert (a slower machine stops the notebook): {line.strip()}; "
                "use utils.time_goal"
            )
