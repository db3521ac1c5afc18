"""Regenerate what is derived from the notebooks and the GitHub slug in ``utils/course.py``.

- every notebook's Open-in-Colab badge and its whole setup cell (``setup_source``), with the slug and
  ``COURSE_COMMIT``: the last commit that changed what the notebooks import (``course_commit``);
- the CPU run time in each notebook's header, from its committed ``notebook_seconds``;
- ``colab_links.md``;
- README.md's syllabus and expected-results tables (between ``<!-- BEGIN x -->`` markers).

``python tools/build_docs.py`` writes the files; ``--check`` changes nothing and exits 1 if any
file is not what this script would write (the hygiene tests run that).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from utils.course import GITHUB_SLUG, colab_url  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
RESULTS = NOTEBOOKS / "results"

SYLLABUS = [
    ("1", "Introduction: CNNs in computer vision, tasks, datasets"),
    ("2", "CNN foundations and the image-classification case study"),
    ("3", "Training and tuning: augmentation, data generators, evaluation, transfer learning"),
    ("4", "Object detection"),
    ("5", "Semantic and instance segmentation"),
    ("6-7", "CNN architectures from AlexNet to ConvNeXt and ViT, measured; the mid-term self-study essay"),
    ("8-9", "Advanced topics: inside CNNs, image generation, adversarial examples, distributed training"),
    ("9", "Advanced topics, part two: self-supervised learning, metric learning and retrieval, diffusion, style"),
    ("10-12", "Final projects"),
    ("13", "Course summary"),
]

BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
BADGE_PATTERN = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
RUN_TIME_PATTERN = re.compile(r"CPU \(2 cores\): [^·\n]*·")
COMMIT_LINE = re.compile(r'^COURSE_COMMIT = "([0-9a-f]{40})"', re.MULTILINE)
# What a notebook imports from the course: its setup cell downloads the course at the last commit that
# changed one of these, so a notebook meets the utils it was run with, not the newest main.
COURSE_PATHS = ("utils", "data", "requirements-colab.txt")

# The setup cell's code after its three constants (GITHUB_SLUG, COURSE_COMMIT, NOTEBOOK).
# Keep it short: it is the first thing a student reads. tests/test_build_docs.py runs it.
# Its text is every notebook's setup cell verbatim (E501 is waived for it: shortening a line means
# regenerating the notebooks with `make colab-links`).
SETUP_BODY = """

class SetupError(Exception):
    def _render_traceback_(self):  # Jupyter then shows this one sentence, not a traceback
        return [f"Setup stopped: {self}"]

here = pathlib.Path.cwd()
download = here / "course" / COURSE_COMMIT
course_root = next((f for f in [here, *here.parents, download] if (f / "utils" / "course.py").exists()), None)
if course_root is None:  # Colab, or a notebook on its own: download this commit of the course (no git needed)
    url = f"https://github.com/{GITHUB_SLUG}/archive/{COURSE_COMMIT}.tar.gz"
    download.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=download.parent) as unpacked:
        try:
            with urllib.request.urlopen(url, timeout=60) as answer, tarfile.open(fileobj=answer, mode="r|gz") as tar:
                tar.extractall(unpacked, filter="data")  # refuses paths that lead outside `unpacked`
        except (OSError, EOFError, tarfile.TarError) as error:
            raise SetupError(f"could not download {url} ({error}); check the internet connection and run this cell again.")
        course_root = next(pathlib.Path(unpacked).iterdir()).rename(download)
sys.path.insert(0, str(course_root))
try:
    import utils
except ImportError:  # first run, or an earlier install failed: install again
    if importlib.util.find_spec("torch") is None:  # requirements-colab.txt would pull in gigabytes of torch
        raise SetupError("PyTorch is missing; install torch and torchvision (see the course's README), then run this cell again.")
    requirements = course_root / "requirements-colab.txt"  # what Colab lacks; never torch or torchvision
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", requirements], capture_output=True, text=True)
    if pip.returncode != 0:
        reason = pip.stderr.strip().rpartition("\\n")[2]
        raise SetupError(f"pip could not install {requirements.name} ({reason}); check the internet connection and run this cell again.")
    importlib.invalidate_caches()
    import utils
utils.start_notebook(NOTEBOOK)"""  # noqa: E501 (the notebooks' setup cell, verbatim)


@dataclass
class NotebookInfo:
    path: Path
    week: str
    title: str
    cpu_time: str
    gpu_time: str

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def week_of(path: Path) -> str:
    match = re.match(r"week(\d+)_", path.name)
    if not match:
        raise ValueError(f"{path.name}: notebooks are named weekNN_topic.ipynb")
    return str(int(match.group(1)))


def minutes(seconds: float) -> str:
    return f"~{max(1, math.ceil(seconds / 60))} min"


def measured_cpu_time(path: Path) -> str | None:
    results = RESULTS / f"{path.stem}.json"
    if not results.exists():
        return None
    seconds = json.loads(results.read_text()).get("notebook_seconds")
    return minutes(seconds) if seconds is not None else None


def header_cell(nb: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            return cell
    raise ValueError(f"{path.name}: no markdown cell for the header")


def setup_cell(nb: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            if "utils.start_notebook(NOTEBOOK)" not in cell.source:
                raise ValueError(f"{path.name}: the first code cell must be the setup cell")
            return cell
    raise ValueError(f"{path.name}: no setup cell")


def setup_source(notebook: str, commit: str, slug: str = GITHUB_SLUG) -> str:
    """The setup cell of ``notebook``: find or download the course at ``commit``, install, start."""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ValueError(f"expected a full 40-hex-digit commit, got {commit!r}")
    return (
        "\n".join(
            [
                "# Setup: use the course's `utils` around this notebook, or (on Colab) download and install it; then start.",  # noqa: E501 (setup cell, verbatim)
                "import importlib.util, pathlib, subprocess, sys, tarfile, tempfile, urllib.request",
                "",
                f'GITHUB_SLUG = "{slug}"  # set in utils/course.py (`make colab-links`)',
                f'COURSE_COMMIT = "{commit}"  # the course this notebook was run with (`make colab-links`)',
                f'NOTEBOOK = "{notebook}"',
            ]
        )
        + SETUP_BODY
    )


def git_output(root: Path, *args: str) -> str | None:
    """``git -C root args``'s stripped output, or None when git is missing or fails."""
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def course_commit(root: Path = ROOT) -> str | None:
    """The last commit that changed ``COURSE_PATHS`` in the repository at ``root``.

    None when git history cannot tell: no git, ``root`` is not a repository's top folder (a download
    unpacked inside another repository), or a shallow clone, whose oldest commit claims every file.
    """
    top = git_output(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return None
    if git_output(root, "rev-parse", "--is-shallow-repository") != "false":
        return None
    return git_output(root, "log", "-1", "--format=%H", "--", *COURSE_PATHS) or None


def uncommitted_course_changes(root: Path = ROOT) -> list[str]:
    """``git status`` lines of ``COURSE_PATHS`` changes not yet committed (untracked files too)."""
    status = git_output(root, "status", "--porcelain", "--", *COURSE_PATHS)
    return status.splitlines() if status else []


def recorded_commit(source: str, path: Path) -> str:
    """The COURSE_COMMIT a setup cell already has (used when git history cannot tell)."""
    match = COMMIT_LINE.search(source)
    if match is None:
        raise ValueError(
            f"{path.name}: git history cannot tell the course's commit here and the setup cell records none: "
            "run `make colab-links` in a full clone"
        )
    return match.group(1)


def refresh_notebook(path: Path, commit: str | None) -> tuple[nbformat.NotebookNode, NotebookInfo]:
    """Return the notebook with badge, CPU time and setup cell brought up to date, and its header facts.

    ``commit`` is the COURSE_COMMIT to write; None keeps the one the setup cell has.
    """
    nb = nbformat.read(path, as_version=4)
    header = header_cell(nb, path)
    badge = BADGE.format(url=colab_url(path.relative_to(ROOT).as_posix()))
    if not BADGE_PATTERN.search(header.source):
        raise ValueError(f"{path.name}: the header has no Open-in-Colab badge")
    header.source = BADGE_PATTERN.sub(lambda _: badge, header.source)
    cpu = measured_cpu_time(path)
    if cpu is not None:
        header.source = RUN_TIME_PATTERN.sub(f"CPU (2 cores): {cpu} ·", header.source)
    setup = setup_cell(nb, path)
    setup.source = setup_source(path.stem, commit or recorded_commit(setup.source, path))
    title = re.search(r"^# (.+)$", header.source, re.MULTILINE)
    run_time = re.search(r"CPU \(2 cores\): ([^·\n]+)·\s*Colab GPU: ([^\n]+)", header.source)
    if not title or not run_time:
        raise ValueError(f"{path.name}: the header needs '# Title' and 'CPU (2 cores): X · Colab GPU: Y'")
    info = NotebookInfo(
        path, week_of(path), title.group(1).strip(), run_time.group(1).strip(), run_time.group(2).strip()
    )
    return nb, info


def colab_links(infos: list[NotebookInfo]) -> str:
    lines = [
        "# Open the notebooks in Google Colab",
        "",
        f'Generated by `make colab-links` from the notebooks and `GITHUB_SLUG = "{GITHUB_SLUG}"` in',
        "`utils/course.py`; do not edit by hand. A fork changes the slug there and runs `make colab-links`.",
        "",
        "| Week | Notebook | Open in Colab | Run time, full mode (CPU · Colab GPU) |",
        "|---|---|---|---|",
    ]
    for info in infos:
        badge = BADGE.format(url=colab_url(info.relative))
        lines.append(
            f"| {info.week} | {info.title} (`{info.path.name}`) | {badge} | {info.cpu_time} · {info.gpu_time} |"
        )
    return "\n".join(lines) + "\n"


def syllabus_table(infos: list[NotebookInfo]) -> str:
    by_week = {info.week: info for info in infos}
    lines = ["| Week | Topic | Notebook | Colab | CPU · GPU |", "|---|---|---|---|---|"]
    for week, topic in SYLLABUS:
        info = by_week.get(week.split("-")[0])
        if info is None:
            lines.append(f"| {week} | {topic} | (coming) | | |")
        else:
            badge = BADGE.format(url=colab_url(info.relative))
            lines.append(
                f"| {week} | {topic} | [{info.path.name}]({info.relative}) | {badge} "
                f"| {info.cpu_time} · {info.gpu_time} |"
            )
    return "\n".join(lines)


def format_figure(value: float | int) -> str:
    """A recorded figure as the README shows it: four significant digits, never rounded to zero."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def results_markdown() -> str:
    lines = ["| Notebook | Figure | Value |", "|---|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        figures = json.loads(path.read_text())
        for key, value in figures.items():
            if key.endswith("_goal"):
                continue  # shown beside the time it is the goal of
            shown = format_figure(value)
            if f"{key}_goal" in figures:
                shown += f" (goal ≤ {format_figure(figures[f'{key}_goal'])})"
            if "online" in key:
                shown += " (needs internet: pretrained weights)"
            elif "random_weights" in key:
                shown += " (offline: random weights, no transfer)"
            lines.append(f"| {path.stem} | `{key}` | {shown} |")
    return "\n".join(lines)


def replace_section(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    pattern = re.compile(rf"{re.escape(begin)}.*?{re.escape(end)}", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"README.md has no {begin} ... {end} section")
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text)


def build(commit: str | None) -> dict[Path, str]:
    """Every generated file and the text it should have; ``commit`` as in ``refresh_notebook``."""
    outputs: dict[Path, str] = {}
    infos = []
    for path in sorted(NOTEBOOKS.glob("week*.ipynb")):
        nb, info = refresh_notebook(path, commit)
        outputs[path] = nbformat.writes(nb) + "\n"
        infos.append(info)
    outputs[ROOT / "colab_links.md"] = colab_links(infos)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    readme = replace_section(readme, "syllabus", syllabus_table(infos))
    readme = replace_section(readme, "results", results_markdown())
    outputs[ROOT / "README.md"] = readme
    return outputs


def warn_about_commit(commit: str | None, check: bool) -> None:
    """Say on stderr when COURSE_COMMIT cannot be computed, or will not hold uncommitted changes."""
    if commit is None:
        print(
            "note: git history cannot tell the course's commit here (no git, or a shallow clone): "
            "the notebooks keep their COURSE_COMMIT",
            file=sys.stderr,
        )
    elif not check and uncommitted_course_changes():
        print(
            f"note: {', '.join(COURSE_PATHS)} have uncommitted changes that COURSE_COMMIT {commit[:12]} lacks: "
            "commit them, then run `make colab-links` again",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    commit = course_commit()
    warn_about_commit(commit, args.check)
    stale = []
    for path, text in build(commit).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("out of date (run `make colab-links`):", ", ".join(stale))
        return 1
    print("written:" if stale else "up to date.", ", ".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
