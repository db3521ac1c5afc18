"""`make setup` and `make lab` as a newcomer runs them: pip's progress shown, a CPU-only torch on request,
JupyterLab started as root too, and a server that serves the course's notebooks.

The server test runs the real `make lab` in a fresh clone, reusing this test run's virtual environment
(VENV=..., with its install stamp taken as up to date) so that nothing is installed.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
STAMP = VENV / ".installed-requirements"  # the Makefile's STAMP for VENV
TOKEN = "course-test-token"
START_SECONDS = 60

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def clone(tmp_path) -> Path:
    """A fresh clone of the repository with this checkout's Makefile (in CI's clone, the same file)."""
    target = tmp_path / "course"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True, timeout=60)
    shutil.copy2(ROOT / "Makefile", target / "Makefile")
    return target


@pytest.mark.parametrize("torch_build", ["", "cpu"])
def test_setup_shows_pips_progress_and_installs_the_cpu_build_on_request(tmp_path, torch_build):
    commands = make("-n", "setup", f"VENV={tmp_path / 'venv'}", f"TORCH={torch_build}").stdout.splitlines()
    pip = [line for line in commands if " -m pip install " in line]
    assert pip[-1].endswith("-m pip install -r requirements.txt -c constraints.txt"), "the tested builds, pinned"
    assert not [line for line in pip if "--quiet" in line or " -q " in line], "pip's progress is shown"
    cpu_torch = "-m pip install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu"
    if torch_build:
        assert len(pip) == 2 and pip[0].endswith(cpu_torch), "the pinned CPU-only torch before the rest"
    else:
        assert len(pip) == 1
    assert "several GB" in "\n".join(commands), "say that the first install is large"


def fake_venv(tmp_path: Path) -> Path:
    """A VENV whose bin/jupyter prints its arguments; its stamp is newer than requirements.txt."""
    venv = tmp_path / "fake-venv"
    (venv / "bin").mkdir(parents=True)
    jupyter = venv / "bin" / "jupyter"
    jupyter.write_text('#!/bin/sh\necho "jupyter $*"\n')
    jupyter.chmod(0o755)
    return venv


@pytest.mark.parametrize("uid", ["0", "1000"])
def test_lab_adds_allow_root_only_as_root_and_passes_lab_args(tmp_path, uid):
    venv = fake_venv(tmp_path)
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (fake_bin / "id").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    result = make("-o", str(venv / ".installed-requirements"), "lab", f"VENV={venv}", "LAB_ARGS=--no-browser --port=1", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    if uid == "0":
        assert result.stdout.splitlines() == [
            "Running as root: starting JupyterLab with --allow-root.",
            "jupyter lab --allow-root --no-browser --port=1 notebooks",
        ]
    else:
        assert result.stdout.splitlines() == ["jupyter lab --no-browser --port=1 notebooks"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(opener: urllib.request.OpenerDirector, url: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with opener.open(request, timeout=10) as response:
        return json.load(response)


def wait_for_server(opener: urllib.request.OpenerDirector, base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"make lab ended with status {server.returncode}:\n{log.read_text()}")
        try:
            get_json(opener, f"{base}/api/status")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {START_SECONDS} s:\n{log.read_text()}")


def stop(server: subprocess.Popen) -> None:
    """End make and the Jupyter server it started (its whole process group)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


@pytest.mark.skipif(not STAMP.exists(), reason="run inside the .venv that `make setup` made")
def test_make_lab_on_a_fresh_clone_serves_the_notebooks(tmp_path, clone):
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
    }
    lab_args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --ServerApp.token={TOKEN}"
    command = ["make", "--no-print-directory", "-o", str(STAMP), "lab", f"VENV={VENV}", f"LAB_ARGS={lab_args}"]
    planned = subprocess.run([*command[:2], "-n", *command[2:]], cwd=clone, env=env, capture_output=True, text=True)
    assert "pip install" not in planned.stdout and "-m venv" not in planned.stdout, "must not touch the shared venv"
    log = tmp_path / "make-lab.log"
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=clone, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never goes through a proxy
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(opener, base, server, log)
        served = get_json(opener, f"{base}/api/contents/week01_introduction.ipynb?content=1")
    finally:
        stop(server)
    assert served["type"] == "notebook" and served["name"] == "week01_introduction.ipynb"
    on_disk = nbformat.read(clone / "notebooks" / "week01_introduction.ipynb", as_version=4)
    assert [cell["source"] for cell in served["content"]["cells"]] == [cell.source for cell in on_disk.cells]
    if os.getuid() == 0:
        assert "Running as root: starting JupyterLab with --allow-root." in log.read_text()


def test_make_test_lints_first_and_lab_stays_without_the_dev_tools(tmp_path):
    venv = f"VENV={tmp_path / 'venv'}"
    test_commands = make("-n", "test", venv).stdout
    checks = ["-m ruff check utils tools", "-m ruff format --check utils tools", "-m mypy utils tools", "-m pytest"]
    positions = [test_commands.find(check) for check in checks]
    assert -1 not in positions and positions == sorted(positions), "ruff, the format check and mypy run before pytest"
    assert "requirements-dev.txt -c constraints.txt" in test_commands
    assert "requirements-dev.txt" not in make("-n", "lab", venv).stdout, "students' make lab installs no dev tools"

