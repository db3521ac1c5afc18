"""Execute notebooks top to bottom in a fresh kernel and save them with their outputs, in place.

This is "restart and run all" for the committed notebooks: ``make notebooks`` runs it in full mode
(``COURSE_FAST`` unset), the maintainer's run. In full mode it sets ``COURSE_RESULTS_DIR`` to the
committed ``notebooks/results/`` for the kernels it starts (unless it is set already), so only this
run writes the committed figures; a student's run writes to a git-ignored folder (see
``utils.results``). After each notebook it prints the notebook's run time against the course's
10-minute goal and every time goal exceeded (``utils.time_goal``); at the end, a summary of them all.

    python tools/run_notebooks.py notebooks/week01_introduction.ipynb [...]
"""

from __future__ import annotations

import html
import os
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from utils.env import FAST  # noqa: E402
from utils.results import course_results_dir, format_seconds, load_results, results_dir  # noqa: E402

NOTEBOOK_GOAL_SECONDS = 600
"""The course's goal: every notebook runs in full mode within 10 minutes on a 2-core CPU."""

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _widget_text(model_id: str, state: dict) -> str | None:
    """The final text of a tqdm progress bar widget (an HBox of HTML, progress, HTML), or None."""
    model = state.get(model_id)
    if model is None or model.get("model_name") != "HBoxModel":
        return None
    parts = []
    for child in model["state"].get("children", []):
        child_model = state.get(child.removeprefix("IPY_MODEL_"), {})
        values = child_model.get("state", {})
        if child_model.get("model_name") == "HTMLModel":
            parts.append(html.unescape(values.get("value", "")).replace("\u2007", " "))
        elif "Progress" in child_model.get("model_name", ""):
            filled = round(10 * values.get("value", 0) / (values.get("max") or 1))
            parts.append("|" + "█" * filled + " " * (10 - filled) + "|")
    return "".join(parts).strip() or None


def finalize_progress_bars(nb: nbformat.NotebookNode) -> None:
    """Give each stored progress-bar widget its final text as the plain-text fallback.

    A widget's stored text is its first state ("0%"); GitHub and other static viewers show only
    that text, so it is replaced by the final state kept in the notebook's widget metadata.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            text = _widget_text(view["model_id"], state) if view else None
            if text:
                output["data"]["text/plain"] = text


def run_notebook(path: Path) -> float:
    """Run one notebook in place with its folder as working directory; return the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        finalize_progress_bars(nb)
    finally:
        nbformat.write(nb, path)  # keep the outputs, the error included, so the failure can be read
    return time.perf_counter() - start


def use_committed_results(environ: MutableMapping[str, str], fast: bool) -> None:
    """In full mode, send the kernels' figures to the committed folder, unless ``COURSE_RESULTS_DIR`` is set."""
    if not fast and not environ.get("COURSE_RESULTS_DIR"):
        environ["COURSE_RESULTS_DIR"] = str(course_results_dir())


def exceeded_goals(figures: dict[str, float], notebook_goal: float = NOTEBOOK_GOAL_SECONDS) -> list[str]:
    """``"key: 317 s > goal 300 s"`` for each recorded duration over its ``key_goal`` figure.

    ``notebook_seconds`` is judged against ``notebook_goal`` unless the notebook recorded its own goal.
    """
    goals = {key.removesuffix("_goal"): goal for key, goal in figures.items() if key.endswith("_goal")}
    goals.setdefault("notebook_seconds", notebook_goal)
    return [
        f"{key}: {format_seconds(figures[key])} > goal {format_seconds(goal)}"
        for key, goal in goals.items()
        if key in figures and figures[key] > goal
    ]


def notebook_report(name: str, wall_seconds: float, figures: dict[str, float]) -> list[str]:
    """The lines printed after one notebook: its run time against the 10-minute goal, then each goal exceeded."""
    recorded = figures.get("notebook_seconds")
    own = f"notebook_seconds {format_seconds(recorded)}" if recorded is not None else "no notebook_seconds recorded"
    lines = [f"{name}: {format_seconds(wall_seconds)} ({own}, goal ≤ {format_seconds(NOTEBOOK_GOAL_SECONDS)})"]
    return lines + [f"  over its time goal: {line}" for line in exceeded_goals(figures)]


def summary(exceeded: dict[str, list[str]]) -> str:
    """The closing lines: every time goal exceeded, notebook by notebook, or that every goal was met."""
    lines = [f"  {notebook}: {line}" for notebook, found in exceeded.items() for line in found]
    if not lines:
        return "every time goal met"
    return "\n".join([f"time goals exceeded ({len(lines)}):", *lines])


def main(paths: list[str]) -> int:
    """Run each notebook in turn, reporting its time goals, then the summary; the exit code."""
    if not paths:
        print(__doc__)
        return 2
    if FAST:
        print("note: COURSE_FAST=1 is set, so these are fast-mode runs (do not commit them)")
    use_committed_results(os.environ, FAST)
    print(f"figures go to {results_dir()}")
    exceeded = {}
    with tempfile.TemporaryDirectory(prefix="course_project_") as project_outputs:
        # week 10 resumes from its OUTPUT_DIR; a maintainer's run starts clean, in a folder of its own
        os.environ.setdefault("COURSE_PROJECT_OUTPUT", project_outputs)
        for name in paths:
            path = Path(name)
            seconds = run_notebook(path)
            figures = load_results(path.stem)
            print("\n".join(notebook_report(name, seconds, figures)))
            exceeded[path.stem] = exceeded_goals(figures)
    print(summary(exceeded))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
