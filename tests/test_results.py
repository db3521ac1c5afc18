import importlib.util
import json
from pathlib import Path

import pytest

import utils
from utils import results

RUN_NOTEBOOKS = Path(__file__).resolve().parent.parent / "tools" / "run_notebooks.py"


@pytest.fixture(scope="module")
def run_notebooks():
    """tools/run_notebooks.py imported by path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("run_notebooks", RUN_NOTEBOOKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_writes_flat_json_and_table(results_in_tmp):
    utils.record("week99_demo", "accuracy", 0.75)
    utils.record("week99_demo", "epochs", 3)
    stored = json.loads((results_in_tmp / "week99_demo.json").read_text())
    assert stored == {"accuracy": 0.75, "epochs": 3}
    table = utils.results_table()
    assert table.to_dict("records") == [
        {"notebook": "week99_demo", "key": "accuracy", "value": 0.75},
        {"notebook": "week99_demo", "key": "epochs", "value": 3},
    ]


def test_only_the_maintainer_run_writes_the_committed_figures(monkeypatch):
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    monkeypatch.setattr(results, "FAST", True)
    assert results.results_dir() == results.RESULTS_DIR / "fast"
    monkeypatch.setattr(results, "FAST", False)  # a student's full run (make lab, Colab)
    assert results.results_dir() == results.RESULTS_DIR / "local"
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(results.course_results_dir()))  # make notebooks
    assert results.results_dir() == results.RESULTS_DIR


def test_course_results_dir_is_the_committed_folder(monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", "/somewhere/else")
    assert results.course_results_dir() == results.RESULTS_DIR
    assert (results.course_results_dir() / "week01_introduction.json").exists()


def test_generated_folders_are_git_ignored():
    ignored = (results.RESULTS_DIR.parent.parent / ".gitignore").read_text().splitlines()
    assert "notebooks/results/fast/" in ignored and "notebooks/results/local/" in ignored


def test_time_goal_met(results_in_tmp, capsys):
    assert results.time_goal("week99_demo", "lenet5_train_seconds", 211.04, 300, label="LeNet-5 training") is True
    assert capsys.readouterr().out == "LeNet-5 training: 211 s, goal ≤ 300 s\n"
    assert utils.load_results("week99_demo") == {"lenet5_train_seconds": 211.0, "lenet5_train_seconds_goal": 300}


def test_time_goal_exceeded_carries_on(results_in_tmp, capsys):
    assert results.time_goal("week99_demo", "gan_seconds", 317.26, 300) is False
    out = capsys.readouterr().out
    assert out == "gan_seconds: 317 s, goal ≤ 300 s — over the goal on this machine; the results still hold\n"
    assert utils.load_results("week99_demo") == {"gan_seconds": 317.3, "gan_seconds_goal": 300}


def test_time_goal_judges_the_recorded_figure(results_in_tmp, capsys):
    assert results.time_goal("week99_demo", "step_seconds", 4.04, 4) is True  # recorded as 4.0
    assert capsys.readouterr().out == "step_seconds: 4.0 s, goal ≤ 4.0 s\n"


@pytest.mark.parametrize("key,seconds,goal,error", [
    ("x_seconds", "12", 300, TypeError),
    ("x_seconds", 12, None, TypeError),
    ("x_seconds", True, 300, TypeError),
    ("x_seconds", float("nan"), 300, ValueError),
    ("x_seconds", -1.0, 300, ValueError),
    ("x_seconds", 12, float("inf"), ValueError),
    ("x_seconds_goal", 12, 300, ValueError),
    ("", 12, 300, ValueError),
])
def test_time_goal_bad_input(results_in_tmp, key, seconds, goal, error):
    with pytest.raises(error):
        results.time_goal("week99_demo", key, seconds, goal)
    assert utils.load_results("week99_demo") == {}


@pytest.mark.parametrize("notebook,key,value,error", [
    ("week99_demo", "x", "0.9", TypeError),
    ("week99_demo", "x", True, TypeError),
    ("week99_demo", "x", float("nan"), ValueError),
    ("week99_demo", "", 1.0, ValueError),
    ("week99_demo.ipynb", "x", 1.0, ValueError),
    ("../escape", "x", 1.0, ValueError),
])
def test_record_bad_input(results_in_tmp, notebook, key, value, error):
    with pytest.raises(error):
        utils.record(notebook, key, value)


def test_make_notebooks_sends_full_runs_to_the_committed_folder(run_notebooks):
    environ = {}
    run_notebooks.use_committed_results(environ, fast=False)
    assert environ == {"COURSE_RESULTS_DIR": str(results.RESULTS_DIR)}
    environ = {}
    run_notebooks.use_committed_results(environ, fast=True)  # fast runs stay in fast/
    assert environ == {}
    environ = {"COURSE_RESULTS_DIR": "/tmp/try"}  # the maintainer's own choice is kept
    run_notebooks.use_committed_results(environ, fast=False)
    assert environ == {"COURSE_RESULTS_DIR": "/tmp/try"}


def test_exceeded_goals(run_notebooks):
    figures = {"gan_seconds": 317.3, "gan_seconds_goal": 300, "lenet_seconds": 211.0, "lenet_seconds_goal": 300,
               "accuracy": 0.99, "notebook_seconds": 712.0}
    assert run_notebooks.exceeded_goals(figures) == [
        "gan_seconds: 317 s > goal 300 s",
        "notebook_seconds: 712 s > goal 600 s",
    ]
    assert run_notebooks.exceeded_goals({"x_seconds": 300.0, "x_seconds_goal": 300, "notebook_seconds": 599.9}) == []
    assert run_notebooks.exceeded_goals({"x_seconds_goal": 300}) == []  # a goal without its figure


def test_notebook_report_and_summary(run_notebooks):
    figures = {"gan_seconds": 317.3, "gan_seconds_goal": 300, "notebook_seconds": 35.2}
    assert run_notebooks.notebook_report("notebooks/week08.ipynb", 37.4, figures) == [
        "notebooks/week08.ipynb: 37 s (notebook_seconds 35 s, goal ≤ 600 s)",
        "  over its time goal: gan_seconds: 317 s > goal 300 s",
    ]
    assert "no notebook_seconds recorded" in run_notebooks.notebook_report("a.ipynb", 3.0, {})[0]
    summary = run_notebooks.summary({"week01": [], "week08": ["gan_seconds: 317 s > goal 300 s"]})
    assert summary == "time goals exceeded (1):\n  week08: gan_seconds: 317 s > goal 300 s"
    assert run_notebooks.summary({"week01": [], "week02": []}) == "every time goal met"


def test_main_reports_each_notebook_then_the_summary(run_notebooks, results_in_tmp, monkeypatch, capsys):
    def fake_run(path):
        results.time_goal(path.stem, "train_seconds", 317.0, 300)
        results.record(path.stem, "notebook_seconds", 330.0)
        return 331.0

    monkeypatch.setattr(run_notebooks, "run_notebook", fake_run)
    monkeypatch.setattr(run_notebooks, "FAST", False)
    assert run_notebooks.main(["notebooks/week98_a.ipynb", "notebooks/week99_b.ipynb"]) == 0
    out = capsys.readouterr().out
    assert "notebooks/week98_a.ipynb: 331 s (notebook_seconds 330 s, goal ≤ 600 s)" in out
    assert out.rstrip().endswith(
        "time goals exceeded (2):\n  week98_a: train_seconds: 317 s > goal 300 s\n  week99_b: train_seconds: 317 s > goal 300 s"
    )


def test_start_and_finish_notebook(results_in_tmp, capsys):
    utils.record("week99_demo", "stale", 1.0)
    utils.start_notebook("week99_demo")
    assert "torch" in capsys.readouterr().out
    utils.record("week99_demo", "accuracy", 0.5)
    table = utils.finish_notebook("week99_demo")
    assert set(table.index) == {"accuracy", "notebook_seconds"}  # the stale figure is gone
    assert table.loc["notebook_seconds", "value"] >= 0


def test_finish_without_start():
    with pytest.raises(RuntimeError, match="run the setup cell"):
        utils.finish_notebook("week98_never_started")


def test_colab_url():
    assert utils.colab_url("notebooks/a.ipynb", slug="me/course") == (
        "https://colab.research.google.com/github/me/course/blob/main/notebooks/a.ipynb"
    )
    with pytest.raises(ValueError):
        utils.colab_url("notebooks/a.py")
    with pytest.raises(ValueError):
        utils.colab_url("a.ipynb", slug="no-slash")
