"""Fixtures for the tests that emulate two HPC hosts sharing one NFS home (tests/multihost.py).

The test command starts the sshd (scripts/sshfs-up.sh) and sources its env.sh. Without it these
tests are skipped, except under CI (CI set), where the missing emulation fails them instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.multihost import HostsUnavailable, SshEndpoint, TwoHosts, is_mounted


@pytest.fixture(scope="session")
def sshd_endpoint() -> SshEndpoint:
    """The sshd of scripts/sshfs-up.sh, checked once by a key login."""
    try:
        endpoint = SshEndpoint.from_env()
        endpoint.check()
    except HostsUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the two-host tests, but: {e}", pytrace=False)
        pytest.skip(str(e))
    return endpoint


@pytest.fixture
def two_hosts(sshd_endpoint: SshEndpoint):
    """A fresh shared folder mounted as host A (``.a``) and host B (``.b``); ``.shared`` is the
    folder itself, as the file server sees it.

    It lives under BASE/mounts, where scripts/sshfs-down.sh unmounts whatever a killed test run
    left mounted; it is removed once both mounts are gone.
    """
    mounts = sshd_endpoint.base / "mounts"
    mounts.mkdir(parents=True, exist_ok=True)
    base_dir = Path(tempfile.mkdtemp(prefix="two-hosts-", dir=mounts))
    with TwoHosts(base_dir, sshd_endpoint) as hosts:
        yield hosts
    if not is_mounted(hosts.a) and not is_mounted(hosts.b):
        shutil.rmtree(base_dir, ignore_errors=True)
