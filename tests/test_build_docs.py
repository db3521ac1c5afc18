"""tools/build_docs.py: the setup cell it writes into every notebook, and the COURSE_COMMIT it records.

The setup cell is run the way Jupyter runs it (an IPython shell) in a subprocess, in a temporary folder
where the course's `utils` is not importable, with the network, pip and torch replaced by fakes.
"""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_docs  # noqa: E402

WEEK1 = ROOT / "notebooks" / "week01_introduction.ipynb"
ARCHIVE_FOLDER = "cnn-computer-vision-pytorch-{commit}"  # how GitHub names the folder inside its archive

# Runs the cell in an IPython shell after replacing urlopen, subprocess.run and find_spec("torch")
# with fakes driven by the JSON plan in SETUP_TEST_PLAN; every download and command goes to plan["calls"].
RUNNER = r'''
import importlib.util, json, os, pathlib, subprocess, sys, urllib.error, urllib.request
from IPython.core.interactiveshell import InteractiveShell

plan = json.loads(os.environ["SETUP_TEST_PLAN"])
calls = pathlib.Path(plan["calls"])
real_find_spec = importlib.util.find_spec


def log(line):
    with calls.open("a") as f:
        f.write(line + "\n")


def fake_urlopen(url, *args, **kwargs):
    log(f"download {url}")
    if "archive" not in plan:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    return open(plan["archive"], "rb")


def fake_run(args, *rest, **kwargs):
    log("run " + " ".join(map(str, args)))
    for module in plan.get("pip_installs", []):
        pathlib.Path(plan["site"], module + ".py").write_text("")
    return subprocess.CompletedProcess(args, plan.get("pip_returncode", 0), "", plan.get("pip_stderr", ""))


def fake_find_spec(name, *args, **kwargs):
    return None if name == "torch" and plan.get("no_torch") else real_find_spec(name, *args, **kwargs)


shell = InteractiveShell.instance()
urllib.request.urlopen, subprocess.run, importlib.util.find_spec = fake_urlopen, fake_run, fake_find_spec
result = shell.run_cell(pathlib.Path(plan["cell"]).read_text())
sys.exit(0 if result.success else 1)
'''

# A stand-in for the course's utils: imports a package the course needs (so pip has work to do when
# `needs` is given) and says where it was started from.
FAKE_UTILS = '''{imports}
import pathlib


def start_notebook(notebook):
    print(f"started {{notebook}} from {{pathlib.Path(__file__).parent.parent.name}}")
'''


def setup_cell_source() -> str:
    nb = nbformat.read(WEEK1, as_version=4)
    return next(cell.source for cell in nb.cells if cell.cell_type == "code")


def recorded_commit() -> str:
    return build_docs.recorded_commit(setup_cell_source(), WEEK1)


def write_course(folder: Path, needs: str | None = None) -> Path:
    """A minimal course (utils/ and requirements-colab.txt) in ``folder``."""
    (folder / "utils").mkdir(parents=True)
    (folder / "utils" / "__init__.py").write_text(FAKE_UTILS.format(imports=f"import {needs}" if needs else ""))
    (folder / "utils" / "course.py").write_text("")
    (folder / "requirements-colab.txt").write_text("torchmetrics>=1.4\n")
    return folder


def github_archive(path: Path, commit: str, extra: dict[str, bytes] | None = None, needs: str | None = None) -> Path:
    """A .tar.gz laid out like GitHub's archive of ``commit`` (one top folder), plus ``extra`` members."""
    source = write_course(path.parent / "archive-source", needs=needs)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname=ARCHIVE_FOLDER.format(commit=commit))
        for name, data in (extra or {}).items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def run_setup_cell(tmp_path: Path, cwd: Path, **plan) -> tuple[int, str, list[str]]:
    """Run week 1's setup cell in ``cwd``; return its exit status, its output and the calls it made."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (tmp_path / "cell.py").write_text(setup_cell_source())
    (tmp_path / "runner.py").write_text(RUNNER)
    plan = {"cell": str(tmp_path / "cell.py"), "calls": str(tmp_path / "calls.log"), "site": str(site), **plan}
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "PYTHONPATH": str(site),
        "SETUP_TEST_PLAN": json.dumps(plan),
    }
    result = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py")], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    calls = (tmp_path / "calls.log").read_text().splitlines() if (tmp_path / "calls.log").exists() else []
    return result.returncode, (result.stdout + result.stderr).strip(), calls


def assert_one_sentence(output: str, *phrases: str) -> None:
    assert "Traceback" not in output and "Error" not in output.split(":")[0], output
    assert len(output.splitlines()) == 1 and output.startswith("Setup stopped: ") and output.endswith("."), output
    for phrase in phrases:
        assert phrase in output, output


@pytest.fixture
def work(tmp_path) -> Path:
    """An empty folder, as on Colab: the course's utils is not importable there."""
    folder = tmp_path / "content"
    folder.mkdir()
    return folder


def test_setup_cell_is_short_and_records_slug_commit_and_notebook():
    source = setup_cell_source()
    assert len(source.splitlines()) <= 40
    assert 'GITHUB_SLUG = "int3414-course/cnn-computer-vision-pytorch"' in source
    assert f'COURSE_COMMIT = "{recorded_commit()}"' in source
    assert 'NOTEBOOK = "week01_introduction"' in source


def test_setup_cell_without_network_says_one_sentence(tmp_path, work):
    status, output, calls = run_setup_cell(tmp_path, work)
    assert status == 1
    assert_one_sentence(output, "could not download", "check the internet connection and run this cell again")
    assert calls == [f"download https://github.com/int3414-course/cnn-computer-vision-pytorch/archive/{recorded_commit()}.tar.gz"]
    assert list((work / "course").iterdir()) == [], "no half-unpacked folder is left behind"


def test_setup_cell_downloads_the_notebooks_commit_then_installs_colab_requirements(tmp_path, work):
    commit = recorded_commit()
    archive = github_archive(tmp_path / "course.tar.gz", commit, needs="course_dependency")
    status, output, calls = run_setup_cell(tmp_path, work, archive=str(archive), pip_installs=["course_dependency"])
    assert status == 0, output
    assert output == f"started week01_introduction from {commit}"
    downloaded = work / "course" / commit
    assert calls == [
        f"download https://github.com/int3414-course/cnn-computer-vision-pytorch/archive/{commit}.tar.gz",
        f"run {sys.executable} -m pip install -q -r {downloaded / 'requirements-colab.txt'}",
    ]
    assert (downloaded / "utils" / "course.py").exists()


@pytest.mark.parametrize("layout", ["downloaded before", "a clone"])
def test_setup_cell_with_an_importable_course_neither_downloads_nor_installs(tmp_path, work, layout):
    if layout == "a clone":
        write_course(work)
        cwd = work / "notebooks"
        cwd.mkdir()
    else:
        write_course(work / "course" / recorded_commit())
        cwd = work
    status, output, calls = run_setup_cell(tmp_path, cwd)
    assert status == 0, output
    assert output.startswith("started week01_introduction from ")
    assert calls == []


def test_setup_cell_installs_again_when_import_utils_fails(tmp_path, work):
    """The course was downloaded, but pip failed last time: this run installs again."""
    course = write_course(work / "course" / recorded_commit(), needs="course_dependency")
    status, output, calls = run_setup_cell(tmp_path, work, pip_installs=["course_dependency"])
    assert status == 0, output
    assert output == f"started week01_introduction from {recorded_commit()}"
    assert calls == [f"run {sys.executable} -m pip install -q -r {course / 'requirements-colab.txt'}"]


def test_setup_cell_when_pip_fails_says_one_sentence(tmp_path, work):
    write_course(work / "course" / recorded_commit(), needs="course_dependency")
    stderr = "Collecting torchmetrics>=1.4\nERROR: No matching distribution found for torchmetrics>=1.4\n"
    status, output, calls = run_setup_cell(tmp_path, work, pip_returncode=1, pip_stderr=stderr)
    assert status == 1
    assert_one_sentence(
        output,
        "pip could not install requirements-colab.txt (ERROR: No matching distribution found for torchmetrics>=1.4)",
        "run this cell again",
    )


def test_setup_cell_never_installs_torch(tmp_path, work):
    """Without torch, pip would pull the CUDA build in as torchmetrics' dependency: the cell stops first."""
    write_course(work / "course" / recorded_commit(), needs="course_dependency")
    status, output, calls = run_setup_cell(tmp_path, work, no_torch=True)
    assert status == 1
    assert_one_sentence(output, "PyTorch is missing", "install torch and torchvision")
    assert calls == []


def test_setup_cell_refuses_an_archive_that_writes_outside_its_folder(tmp_path, work):
    archive = github_archive(tmp_path / "evil.tar.gz", recorded_commit(), extra={"../escaped.txt": b"x"})
    status, output, _ = run_setup_cell(tmp_path, work, archive=str(archive))
    assert status == 1
    assert_one_sentence(output, "could not download")
    assert not list(work.rglob("escaped.txt"))
    assert not (work / "course" / recorded_commit()).exists()


# --- COURSE_COMMIT: what build_docs records ---------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    config = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *config, "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def commit_file(repo: Path, relative: str, text: str) -> str:
    path = repo / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", relative)
    git(repo, "commit", "-q", "-m", f"change {relative}")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q")
    return folder


def test_course_commit_is_the_last_commit_that_changed_what_notebooks_import(repo):
    first = commit_file(repo, "utils/__init__.py", "")
    commit_file(repo, "notebooks/week01.ipynb", "{}")
    assert build_docs.course_commit(repo) == first, "a notebook-only commit does not move COURSE_COMMIT"
    requirements = commit_file(repo, "requirements-colab.txt", "torchmetrics\n")
    assert build_docs.course_commit(repo) == requirements
    data = commit_file(repo, "data/README.md", "MNIST\n")
    commit_file(repo, "README.md", "course\n")
    assert build_docs.course_commit(repo) == data


def test_course_commit_is_unknown_where_git_history_cannot_tell(repo, tmp_path):
    commit_file(repo, "utils/__init__.py", "")
    commit_file(repo, "README.md", "course\n")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)], check=True)
    assert build_docs.course_commit(shallow) is None, "a shallow clone's only commit would claim utils/"
    commit_file(repo, "course/utils/__init__.py", "")
    assert build_docs.course_commit(repo / "course") is None, "a course unpacked inside a student's own repository"
    outside = tmp_path / "download"
    outside.mkdir()
    assert build_docs.course_commit(outside) is None


def test_uncommitted_course_changes_are_listed(repo):
    commit_file(repo, "utils/__init__.py", "")
    assert build_docs.uncommitted_course_changes(repo) == []
    (repo / "utils" / "new.py").write_text("")
    (repo / "notes.txt").write_text("")
    assert build_docs.uncommitted_course_changes(repo) == ["?? utils/new.py"]


def test_refresh_writes_the_commit_into_the_setup_cell_or_keeps_the_recorded_one():
    commit = "0123456789abcdef0123456789abcdef01234567"
    nb, _ = build_docs.refresh_notebook(WEEK1, commit)
    setup = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert setup.source == build_docs.setup_source("week01_introduction", commit)
    kept, _ = build_docs.refresh_notebook(WEEK1, None)
    assert next(cell for cell in kept.cells if cell.cell_type == "code").source == setup_cell_source()


def test_check_catches_a_stale_course_commit(monkeypatch, capsys):
    before = WEEK1.read_text(encoding="utf-8")
    monkeypatch.setattr(build_docs, "course_commit", lambda root=ROOT: "f" * 40)
    assert build_docs.main(["--check"]) == 1
    assert "notebooks/week01_introduction.ipynb" in capsys.readouterr().out
    assert WEEK1.read_text(encoding="utf-8") == before, "--check writes nothing"


def test_setup_source_wants_a_full_commit():
    with pytest.raises(ValueError, match="40-hex-digit commit"):
        build_docs.setup_source("week01_introduction", "b4a906b")


# --- README's results table ----------------------------------------------------------------------------
def test_results_table_shows_each_time_goal_beside_its_time(tmp_path, monkeypatch):
    (tmp_path / "week02_x.json").write_text(json.dumps({"lenet5_train_seconds": 44.2, "lenet5_train_seconds_goal": 60,
                                                        "lenet5_test_accuracy": 0.9936}))
    monkeypatch.setattr(build_docs, "RESULTS", tmp_path)
    table = build_docs.results_markdown()
    assert "| week02_x | `lenet5_train_seconds` | 44.2 (goal ≤ 60) |" in table
    assert "_goal`" not in table and "| week02_x | `lenet5_test_accuracy` | 0.9936 |" in table


def test_results_table_says_which_figures_depend_on_being_online(tmp_path, monkeypatch):
    (tmp_path / "week10_x.json").write_text(json.dumps({"probe_test_accuracy_imagenet_online": 0.9,
                                                        "probe_test_accuracy_random_weights": 0.6}))
    monkeypatch.setattr(build_docs, "RESULTS", tmp_path)
    table = build_docs.results_markdown()
    assert "| `probe_test_accuracy_imagenet_online` | 0.9 (needs internet: pretrained weights) |" in table
    assert "| `probe_test_accuracy_random_weights` | 0.6 (offline: random weights, no transfer) |" in table


def test_setup_cell_names_the_course_folder_as_the_notebooks_use_it():
    # weeks 10 and 13 build paths from `course_root`; a setup cell that renames it breaks them
    users = [path.name for path in sorted((ROOT / "notebooks").glob("week*.ipynb")) if "course_root /" in path.read_text()]
    assert users, "some notebook uses course_root"
    assert "course_root = " in build_docs.setup_source("week01_introduction", "0" * 40)
