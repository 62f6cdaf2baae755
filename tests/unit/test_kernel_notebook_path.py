"""The notebook a remote kernel was started for, from jupyter_server's ``JPY_SESSION_NAME``."""

from __future__ import annotations

import os

import pytest

from jupyter_jobs.kernel_jobs import notebook_path


@pytest.mark.parametrize(
    ("session_name", "expected"),
    [
        ("/srv/root/work/analysis.ipynb", "work/analysis.ipynb"),
        ("/srv/root/analysis.ipynb", "analysis.ipynb"),
        ("work/analysis.ipynb", "work/analysis.ipynb"),  # an API path (a session without a name)
        ("/elsewhere/analysis.ipynb", None),  # outside the root: not a path the UI can open
        ("/srv/root-other/analysis.ipynb", None),
        ("../analysis.ipynb", None),
        ("/srv/root", None),
        ("", None),
        (None, None),
    ],
)
def test_the_notebook_is_its_path_under_the_server_root(tmp_path, session_name, expected):
    root = tmp_path / "srv" / "root"
    root.mkdir(parents=True)
    if session_name and os.path.isabs(session_name):
        session_name = str(tmp_path) + session_name
    assert notebook_path(session_name, str(root)) == expected
