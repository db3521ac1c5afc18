import json

import pytest

import utils
from utils import results


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


def test_results_dir_default_separates_fast_runs(monkeypatch):
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    monkeypatch.setattr(results, "FAST", True)
    assert results.results_dir() == results.RESULTS_DIR / "fast"
    monkeypatch.setattr(results, "FAST", False)
    assert results.results_dir() == results.RESULTS_DIR


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


def test_check_prints_verdicts(capsys):
    assert utils.check("sum", 3, 3)
    assert not utils.check("sum", 4, 3)
    assert not utils.check("sum", None, 3)
    import torch

    assert utils.check("tensor", torch.ones(2), torch.ones(2) + 1e-9)
    assert not utils.check("tensor", torch.ones(3), torch.ones(2))
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and out.count("❌") == 2 and "not attempted" in out


def test_colab_url():
    assert utils.colab_url("notebooks/a.ipynb", slug="me/course") == (
        "https://colab.research.google.com/github/me/course/blob/main/notebooks/a.ipynb"
    )
    with pytest.raises(ValueError):
        utils.colab_url("notebooks/a.py")
    with pytest.raises(ValueError):
        utils.colab_url("a.ipynb", slug="no-slash")
