"""The student edition (tools/student_edition.py, `make student`) and every coding exercise's checker.

For every notebook: the student edition differs from the instructor's only in solution cells (stubbed),
checker cells (outputs cleared) and solution <details> blocks (removed); every reference solution passes
its checker, and every stub raises NotImplementedError, which its checker reports as "not done yet"; no
cell after a solution but its checker uses what the solution defines, so a skipped exercise stops nothing.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from exercise_cells import NOTEBOOKS, exercises, run_checker

from tools.student_edition import (
    CHECKER_TAG,
    COLAB_LINK,
    REMOVED_DETAILS,
    SOLUTION_DETAILS,
    SOLUTION_TAG,
    EditionError,
    main,
    stub_source,
    student_markdown,
    student_notebook,
    tags,
    write_edition,
)

ALL_EXERCISES = [exercise for path in NOTEBOOKS for exercise in exercises(path)]

SOLVED = '''def double(x):
    """Twice x."""
    # BEGIN SOLUTION: multiply x by two
    y = x * 2
    return y
    # END SOLUTION
'''


def test_a_marked_region_becomes_a_stub_that_raises():
    stub = stub_source(SOLVED)
    assert '"""Twice x."""' in stub and "y = x * 2" not in stub
    assert "    raise NotImplementedError('multiply x by two')" in stub
    scope: dict = {}
    exec(stub, scope)
    with pytest.raises(NotImplementedError, match="multiply x by two"):
        scope["double"](3)


def test_every_region_of_a_cell_is_stubbed():
    source = SOLVED + "\n\nclass A:\n    def f(self):\n        # BEGIN SOLUTION: return one\n        return 1\n        # END SOLUTION\n"
    stub = stub_source(source)
    assert stub.count("raise NotImplementedError") == 2 and "return 1" not in stub


@pytest.mark.parametrize(
    "source, problem",
    [
        ("def f():\n    return 1\n", "has no '# BEGIN SOLUTION"),
        ("def f():\n    # BEGIN SOLUTION: one\n    return 1\n", "has no '# END SOLUTION'"),
        ("def f():\n    return 1\n    # END SOLUTION\n", "without a '# BEGIN SOLUTION"),
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", "write the marker as"),
        ("def f():\n    # BEGIN SOLUTION: one\n    return 1\n# END SOLUTION\n", "indented like its BEGIN"),
        ("def f():\n    # BEGIN SOLUTION: a\n    # BEGIN SOLUTION: b\n    # END SOLUTION\n", "has no '# END SOLUTION'"),
    ],
)
def test_a_badly_marked_solution_is_refused_with_the_line(source, problem):
    with pytest.raises(EditionError, match=problem):
        stub_source(source, "week99, cell 3")


def test_solution_details_go_and_hints_stay():
    markdown = (
        "Task.\n<details><summary>Hint</summary>Use unfold.</details>\n"
        "<details><summary>Solution</summary>\n\n$x = 3$\n</details>"
    )
    student = student_markdown(markdown)
    assert "Use unfold." in student and "$x = 3$" not in student and REMOVED_DETAILS in student


def test_colab_links_open_the_student_branch():
    badge = "[![Open In Colab](b.svg)](https://colab.research.google.com/github/me/course/blob/main/notebooks/w.ipynb)"
    assert student_markdown(badge, "student") == badge.replace("/blob/main/", "/blob/student/")


def test_the_instructor_notebook_is_left_as_it_was():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SOLVED, metadata={"tags": [SOLUTION_TAG]})])
    before = nbformat.writes(notebook)
    student_notebook(notebook)
    assert nbformat.writes(notebook) == before


def test_the_edition_is_never_written_over_the_source_notebooks(tmp_path):
    notebook = tmp_path / "week99.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    with pytest.raises(EditionError, match="holds the source notebooks"):
        write_edition([notebook], tmp_path)


def test_the_command_reports_a_bad_notebook_and_fails(tmp_path, capsys):
    cell = nbformat.v4.new_code_cell("def f():\n    return 1\n", metadata={"tags": [SOLUTION_TAG]})
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / "week99.ipynb")
    assert main([str(tmp_path / "week99.ipynb"), "--out", str(tmp_path / "student")]) == 1
    assert "week99.ipynb, cell 0" in capsys.readouterr().err


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict[str, tuple[nbformat.NotebookNode, nbformat.NotebookNode]]:
    """Each notebook's instructor and student editions, written by the command `make student` runs."""
    out = tmp_path_factory.mktemp("student")
    assert main([*map(str, NOTEBOOKS), "--out", str(out)]) == 0
    assert (out / "README.md").exists()
    return {
        path.stem: (nbformat.read(path, as_version=4), nbformat.read(out / path.name, as_version=4))
        for path in NOTEBOOKS
    }


@pytest.mark.parametrize("notebook", [path.stem for path in NOTEBOOKS])
def test_the_editions_differ_only_in_solutions_checkers_and_solution_details(editions, notebook):
    instructor, student = editions[notebook]
    assert [c.cell_type for c in instructor.cells] == [c.cell_type for c in student.cells]
    for number, (mine, theirs) in enumerate(zip(instructor.cells, student.cells, strict=True)):
        where = f"{notebook} cell {number}"
        assert mine.metadata == theirs.metadata, where
        if SOLUTION_TAG in tags(mine):
            assert "NotImplementedError" in theirs.source and "BEGIN SOLUTION" not in theirs.source, where
            assert theirs.outputs == [], where
        elif CHECKER_TAG in tags(mine):
            assert theirs.source == mine.source and theirs.outputs == [], where
        elif mine.cell_type == "markdown" and SOLUTION_DETAILS.search(mine.source):
            assert not SOLUTION_DETAILS.search(theirs.source) and REMOVED_DETAILS in theirs.source, where
            assert SOLUTION_DETAILS.sub(REMOVED_DETAILS, mine.source) == theirs.source, where
        elif mine.cell_type == "markdown" and COLAB_LINK.search(mine.source):
            assert theirs.source == COLAB_LINK.sub(r"\g<1>student/", mine.source), where
            assert "/blob/main/" not in theirs.source, where
        else:
            assert theirs == mine, where


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_has_at_least_two_coding_exercises(notebook):
    assert len(exercises(notebook)) >= 2, f"{notebook.name} has {len(exercises(notebook))} coding exercises"


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda exercise: exercise.name)
def test_the_reference_solution_passes_its_checker(exercise):
    result, printed = run_checker(exercise)
    assert result.status == "passed", printed
    assert printed.startswith("✅")


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda exercise: exercise.name)
def test_the_student_stub_raises_and_its_checker_says_not_done_yet(exercise):
    result, printed = run_checker(exercise, student_edition=True)
    assert result.status == "not implemented", printed
    assert printed.startswith("⏳") and "not done yet" in printed


def defined_names(source: str) -> set[str]:
    """The functions, classes and variables a cell defines at its top level."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)}
    return names


def used_names(source: str) -> set[str]:
    return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_student_who_skips_an_exercise_can_run_the_rest(notebook):
    """What a solution cell defines is used only by checker cells, so a stub left as it is breaks nothing later."""
    cells = nbformat.read(notebook, as_version=4).cells
    for number, cell in enumerate(cells):
        if SOLUTION_TAG not in tags(cell):
            continue
        names = defined_names(cell.source)
        for later_number, later in enumerate(cells[number + 1 :], start=number + 1):
            if later.cell_type != "code" or CHECKER_TAG in tags(later) or SOLUTION_TAG in tags(later):
                continue
            assert not names & used_names(later.source), (
                f"{notebook.name}: cell {later_number} uses {sorted(names & used_names(later.source))}, which the "
                f"solution in cell {number} defines: a student's stub would stop the notebook there"
            )
