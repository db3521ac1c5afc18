"""Execute notebooks top to bottom in a fresh kernel and save them with their outputs, in place.

This is "restart and run all" for the committed notebooks: ``make notebooks`` runs it in full mode
(``COURSE_FAST`` unset). Each notebook's wall-clock time is printed.

    python tools/run_notebooks.py notebooks/week01_introduction.ipynb [...]
"""

from __future__ import annotations

import html
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


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


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    if os.environ.get("COURSE_FAST") == "1":
        print("note: COURSE_FAST=1 is set, so these are fast-mode runs (do not commit them)")
    for name in paths:
        seconds = run_notebook(Path(name))
        print(f"{name}: {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
