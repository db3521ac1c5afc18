"""Every notebook follows the course conventions and is committed after a clean full run."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("week*.ipynb"))
ABSOLUTE_PATH = re.compile(r"(/home/|/root/|/Users/|/work/|/tmp/|[A-Z]:\\\\Users)")


def test_the_course_has_its_first_weeks():
    names = [path.name for path in NOTEBOOKS]
    assert "week01_introduction.ipynb" in names and "week02_cnn_foundations.ipynb" in names


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_header_has_titles_badge_goals_and_run_times(notebook):
    path, nb = notebook
    header = nb.cells[0]
    assert header.cell_type == "markdown", "the first cell is the markdown header"
    text = header.source
    assert re.search(r"^# .+", text, re.MULTILINE), "an English title line '# ...'"
    assert re.search(r"^## .+", text, re.MULTILINE), "the Vietnamese title under it as '## ...'"
    assert "colab.research.google.com/github/" in text, "an Open-in-Colab badge"
    assert re.search(r"learning goals", text, re.IGNORECASE), "learning goals"
    assert re.search(r"CPU \(2 cores\): [^·]+· Colab GPU: .+", text), "expected run time on CPU and GPU"


def test_setup_cell_first_and_results_cell_last(notebook):
    path, nb = notebook
    cells = code_cells(nb)
    assert "utils.start_notebook(NOTEBOOK)" in cells[0].source
    assert f'NOTEBOOK = "{path.stem}"' in cells[0].source
    assert "requirements-colab.txt" in cells[0].source, "on Colab, install only what Colab lacks"
    assert "utils.finish_notebook(NOTEBOOK)" in cells[-1].source


def test_has_exercises_with_solutions_summary_and_references(notebook):
    path, nb = notebook
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"exercise", markdown, re.IGNORECASE)
    assert "<details>" in markdown, "solutions a student can reveal"
    assert re.search(r"^#+ .*summary", markdown, re.IGNORECASE | re.MULTILINE)
    assert re.search(r"^#+ .*references", markdown, re.IGNORECASE | re.MULTILINE)


TIME = r"~\d+(?:[.,]\d+)? ?(?:min|h)\b"
TIMED_LINE = re.compile(r"^(?:#{2,3} (?:\d+\. |Exercises?\b)|\*\*Exercises? [\d.]+)")


def untimed_sections_and_exercises(markdown: str) -> list[str]:
    """Numbered section headings and exercise lines that give no student time such as '(~15 min)'."""
    return [line for line in markdown.splitlines() if TIMED_LINE.match(line) and not re.search(TIME, line)]


def test_every_section_and_exercise_has_a_student_time(notebook):
    _, nb = notebook
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert untimed_sections_and_exercises(markdown) == [], "add an estimated student time, e.g. '(~15 min)'"


def test_the_time_check_finds_untimed_lines():
    text = "## 1. Data (~10 min)\n## 2. Models\n### Exercise 3 (coding): IoU\n**Exercise 1.1 (size, ~5 min).**\n## Summary"
    assert untimed_sections_and_exercises(text) == ["## 2. Models", "### Exercise 3 (coding): IoU"]


def test_stored_outputs_are_a_clean_full_run(notebook):
    path, nb = notebook
    cells = code_cells(nb)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), "restart and run all, then commit"
    assert any(c.outputs for c in cells), "stored outputs"
    for cell in cells:
        for output in cell.outputs:
            assert output.output_type != "error", f"error output in cell {cell.execution_count}"
            assert not (output.output_type == "stream" and output.name == "stderr" and "Warning" in output.text), (
                f"a warning is stored in cell {cell.execution_count}: {output.text[:200]}"
            )
            text = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
            assert not ABSOLUTE_PATH.search(text), f"an absolute path in cell {cell.execution_count}: {text[:200]}"
    assert "FAST (COURSE_FAST=1)" not in str(cells[0].outputs), "committed outputs come from a full run"


def test_deterministic_cells_are_output_checked(notebook):
    path, nb = notebook
    checked = [c for c in code_cells(nb) if "# NBVAL_CHECK_OUTPUT" in c.source]
    assert len(checked) >= 2, "mark the deterministic cells with # NBVAL_CHECK_OUTPUT"
    for cell in checked:
        assert cell.outputs, f"checked cell {cell.execution_count} has no stored output to compare"


def test_listed_in_colab_links(notebook):
    path, _ = notebook
    assert path.name in (ROOT / "colab_links.md").read_text(encoding="utf-8")


def test_generated_files_are_up_to_date():
    result = subprocess.run([sys.executable, "tools/build_docs.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_glossary_has_thirty_terms():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    glossary = readme.split("## Glossary", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in glossary.splitlines() if line.startswith("|") and "---" not in line][1:]
    assert len(rows) >= 30
