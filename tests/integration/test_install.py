"""``pip install .`` and ``pip install -e .`` of this tree into a fresh venv: no warning of ours,
and JupyterLab finds the extension afterwards.

The venv sees the test environment's site-packages through a ``.pth`` file, so pip installs only
jupyter-jobs itself (``--no-deps``); the build runs as a user's does (pip's build isolation, the
setuptools it fetches). The tree is copied first: a build writes ``build/`` and ``*.egg-info``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LABEXTENSION = REPO / "jupyter_jobs" / "labextension"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (LABEXTENSION / "package.json").exists(),
        reason="the JupyterLab extension is not built (npm run build:prod)",
    ),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to list the tree"),
]


def copy_tree(dest: Path) -> Path:
    """The files git knows (tracked, and new ones not ignored) and the built labextension."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    shutil.copytree(LABEXTENSION, dest / "jupyter_jobs" / "labextension")
    return dest


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def env_for(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON"))}
    env.update(HOME=str(tmp / "home"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def our_warnings(output: str) -> list[str]:
    """Warning lines from the build (setuptools, distutils) that name this project's files."""
    lines = output.splitlines()
    warn = re.compile(r"warn", re.IGNORECASE)
    ours = re.compile(r"jupyter_jobs|jupyter-jobs|MANIFEST|LICENSE|package_data|packages")
    # pip's own notes about the machine's index configuration are not ours
    return [
        line
        for line in lines
        if warn.search(line) and ours.search(line) and "byte-compiling is disabled" not in line
    ]


@pytest.mark.parametrize("editable", [False, True], ids=["install", "editable"])
def test_a_clean_install_prints_no_warning_and_lab_finds_the_extension(tmp_path, editable):
    src = copy_tree(tmp_path / "src")
    python = make_venv(tmp_path / "venv")
    env = env_for(tmp_path)
    cmd = [str(python), "-m", "pip", "install", "-v", "--no-deps"]
    r = subprocess.run(
        [*cmd, *(["-e"] if editable else []), str(src)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    output = r.stdout + r.stderr
    assert r.returncode == 0, output[-4000:]
    assert "Building" in output  # -v shows the build backend's output: what we check below
    assert our_warnings(output) == [], "\n".join(our_warnings(output))

    venv_share = tmp_path / "venv" / "share" / "jupyter" / "labextensions"
    if editable:
        # an editable wheel carries no data files: scripts/start.sh and scripts/test-all.sh link
        # the built extension into the venv (what `jupyter labextension develop` did), this way
        venv_share.mkdir(parents=True, exist_ok=True)
        (venv_share / "jupyter-jobs").symlink_to(src / "jupyter_jobs" / "labextension")
    # `jupyter labextension list`, run by the new venv's interpreter (its own share/jupyter)
    r = subprocess.run(
        [str(python), "-m", "jupyterlab.labextensions", "list"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    listing = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout + r.stderr)
    assert str(venv_share) in listing, listing
    assert re.search(r"jupyter-jobs v\S+ enabled\s+OK", listing), listing
    if not editable:  # the server extension is enabled by the install too
        config = tmp_path / "venv" / "etc" / "jupyter" / "jupyter_server_config.d"
        assert (config / "jupyter_jobs.json").is_file()
