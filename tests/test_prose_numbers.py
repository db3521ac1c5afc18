"""Every number in a notebook's prose is a measurement or cites its source.

Each decimal number and percentage in a markdown cell must either appear in an output of the same
notebook (after rounding to the digits the prose shows), or stand in a sentence that cites where it
comes from (an author's "et al.", a year, a link). Numbers in code spans and formulas, section and
exercise numbers, arXiv identifiers and the references section are not claims and are skipped.
Numbers that the prose needs from a run come from an f-string, or a markdown cell the notebook
generates. The few typed-in numbers that are neither are listed in ALLOWED, each with its reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("week*.ipynb"))

ALLOWED: dict[str, dict[str, str]] = {
    # notebook stem -> {number as written: why it is not a measurement of this notebook}
    "week05_segmentation": {
        "0.583": "worked arithmetic of the exercise, 14/24, shown in the same sentence",
        "1.2": "worked arithmetic, 2J with J = 0.6",
        "1.6": "worked arithmetic, 1 + J",
        "0.75": "worked arithmetic, 1.2 / 1.6",
    },
}

NUMBER = re.compile(r"(?<![\w.,^/-])(\d+\.\d+\s?%?|\d+\s?%)(?![\w.]\d)")
NOT_PROSE = re.compile(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|<[^>]+>|\]\([^)]*\)|https?://\S+", re.S)
REFERENCE_TO_TEXT = re.compile(
    r"(?:exercises?|sections?|chapters?|§|arxiv:|table|figure|step)\s*\(?$|\d\.\d+\s*\($", re.IGNORECASE
)
CITATION = re.compile(r"\b(?:1[89]\d\d|20\d\d)\b|et al\.|\bpaper\b|https?://|doi", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<!et al)(?<!e\.g)(?<!i\.e)(?<!\bvs)[.!?:;](?=\s)|\n")


def output_numbers(notebook: nbformat.NotebookNode) -> set[float]:
    """Every number printed, displayed or shown as text by the notebook's code cells."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/"):
                    texts.append(value if isinstance(value, str) else "".join(value))
    found = re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", "\n".join(texts).replace(",", ""))
    return {float(number) for number in found}


def _shown_in(number: str, printed: set[float]) -> bool:
    """Whether ``number`` (as written, maybe with %) equals a printed number after rounding."""
    percent = number.endswith("%")
    digits_text = number.rstrip("% ").strip()
    digits = len(digits_text.split(".")[1]) if "." in digits_text else 0
    value = float(digits_text)
    for candidate in printed:
        if round(candidate, digits) == value:
            return True
        if percent and round(100 * candidate, digits) == value:
            return True
    return False


def _prose_sentences(source: str) -> list[str]:
    """The sentences of a markdown cell that make claims: no headings, no references section."""
    source = source.split("## References")[0]
    lines = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
    text = NOT_PROSE.sub(" ", "\n".join(lines))
    return [sentence for sentence in SENTENCE_END.split(text) if sentence.strip()]


def typed_numbers(notebook: nbformat.NotebookNode, allowed: dict[str, str] | None = None) -> list[str]:
    """Each number in the notebook's prose that is neither printed by it, nor cited, nor allowed."""
    printed = output_numbers(notebook)
    allowed = allowed or {}
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for sentence in _prose_sentences(cell.source):
            if CITATION.search(sentence):
                continue
            for match in NUMBER.finditer(sentence):
                number = match.group(1).strip()
                if REFERENCE_TO_TEXT.search(sentence[: match.start()]) or number.rstrip("% ") in allowed:
                    continue
                if not _shown_in(number, printed):
                    problems.append(f"cell {index}: {number!r} in {' '.join(sentence.split())[:160]!r}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_every_number_in_prose_is_printed_by_the_notebook_or_cited(path):
    problems = typed_numbers(nbformat.read(path, as_version=4), ALLOWED.get(path.stem))
    assert not problems, (
        f"{path.name}: numbers typed into markdown that no output shows and no source backs; print them "
        "from the run (an f-string or a generated markdown cell) or cite the paper:\n" + "\n".join(problems)
    )


def _notebook(markdown: str, printed: str = "") -> nbformat.NotebookNode:
    code = nbformat.v4.new_code_cell("print(...)")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown), code])


def test_a_typed_in_figure_is_caught_and_a_printed_or_cited_one_passes():
    claim = "The network reaches 97.3% test accuracy."
    assert typed_numbers(_notebook(claim))  # typed in: caught
    assert typed_numbers(_notebook(claim, "test accuracy 0.9512"))  # the run says something else
    assert not typed_numbers(_notebook(claim, "test accuracy 0.9731"))  # printed, as a fraction
    assert not typed_numbers(_notebook(claim, "test accuracy 97.27%"))  # printed, rounded
    assert not typed_numbers(_notebook("LeNet-5 reached an error of 0.95% (LeCun et al., 1998)."))
    assert not typed_numbers(_notebook("### 4.2 Section numbers\nSee Exercise 3.1 and section 2.2."))
    assert not typed_numbers(_notebook("A rate of `lr=0.5` and $p = 0.25$ are code and maths."))
    assert not typed_numbers(_notebook("Claim: 0.5.", ""), {"0.5": "a definition"})


def test_stored_images_are_small():
    """Each stored figure stays under about 300 KB, so that notebooks open quickly on GitHub and Colab."""
    too_big = []
    for path in NOTEBOOKS:
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            for output in cell.get("outputs", []):
                for mime, data in output.get("data", {}).items():
                    if mime.startswith("image/") and len(data) * 3 // 4 > 300_000:
                        too_big.append(f"{path.name} cell {index}: {len(data) * 3 // 4 // 1024} KB {mime}")
    assert not too_big, "figures over 300 KB (show photos with utils.show_as_jpeg):\n" + "\n".join(too_big)
