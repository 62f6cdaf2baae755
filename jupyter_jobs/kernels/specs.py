"""Kernel specs for remote kernels: one per profile that offers kernels, on every backend whose
spawner supports kernels (SLURM allocations, Kubernetes pods, …).

The server keeps them in ``<job_root>/kernelspecs/<host>`` and puts that directory first on its
kernel-spec path, so "Python 3 — SLURM: GPU 1\N{MULTIPLICATION SIGN}, 8 CPUs, 32G, 04:00:00" is
in the Launcher and the kernel picker with no manual step. It re-checks the backends every
:attr:`RemoteKernelSpecs.refresh_interval` seconds: specs of a backend that became available
appear, those of one that became unavailable (or of profiles that went away) are removed.
``jupyter jobs kernelspec install`` writes the same specs where other frontends look.

A profile chooses the kernel's Python with ``"python": "/opt/envs/ml/bin/python"`` and adds
environment variables with ``"kernel_env": {...}``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

from traitlets import Float, List, Unicode, default
from traitlets.config import LoggingConfigurable

from ..models import normalize_resources
from ..spawners.base import Spawner
from ..spawners.factory import SpawnerFactory
from ..units import format_bytes, format_duration

PROVISIONER_NAME = "jupyter-jobs-provisioner"
#: marks a spec as ours (so stale ones can be removed and others are never touched)
MARK = "jupyter_jobs"
NAME_PREFIX = "jupyter-jobs-"
TIMES = "\N{MULTIPLICATION SIGN}"


def kernel_name(backend: str, profile: str) -> str:
    """``jupyter-jobs-slurm-gpu``: lower case, letters, digits, ``-`` ``.`` ``_`` only."""
    raw = f"{NAME_PREFIX}{backend}-{profile}".lower()
    return re.sub(r"[^a-z0-9._-]+", "-", raw).strip("-")[:120]


def resource_summary(resources: dict[str, Any]) -> str:
    """``GPU 1\N{MULTIPLICATION SIGN}, 8 CPUs, 32G, 04:00:00`` (empty when the profile asks for nothing)."""
    r = normalize_resources(resources or {})
    parts = []
    if r.get("gpus"):
        parts.append(f"GPU {r['gpus']}{TIMES}")
    if r.get("cpus"):
        parts.append(f"{r['cpus']} CPU" + ("s" if r["cpus"] != 1 else ""))
    if r.get("memory"):
        parts.append(format_bytes(r["memory"]))
    if r.get("time_limit"):
        parts.append(format_duration(r["time_limit"]))
    if r.get("partition") or r.get("queue"):
        parts.append(str(r.get("partition") or r.get("queue")))
    return ", ".join(parts)


def display_name(language: str, backend_display: str, profile: dict[str, Any], first: bool) -> str:
    """``Python 3 — SLURM: GPU 1\N{MULTIPLICATION SIGN}, 8 CPUs, 32G, 04:00:00``; the first
    profile asking for nothing is plain ``Python 3 — SLURM``; otherwise the profile's name stands in for the resources."""
    summary = resource_summary(profile.get("resources") or {})
    if summary:
        return f"{language} — {backend_display}: {summary}"
    if first:
        return f"{language} — {backend_display}"
    return f"{language} — {backend_display}: {profile.get('display_name') or profile['name']}"


def build_spec(
    spawner: Spawner, profile: dict[str, Any], *, language: str = "Python 3", first: bool = False
) -> dict[str, Any]:
    """The ``kernel.json`` of one profile (pure)."""
    python = profile.get("python") or spawner.interpreter(profile, "python")
    env = profile.get("kernel_env") or {}
    if not isinstance(env, dict):
        raise ValueError(f"profile {profile['name']!r}: kernel_env must be a dict")
    backend_display = spawner.display_name or spawner.name
    return {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name(language, backend_display, profile, first),
        "language": "python",
        "interrupt_mode": "message",
        "env": {str(k): str(v) for k, v in env.items()},
        "metadata": {
            "debugger": True,
            "kernel_provisioner": {
                "provisioner_name": PROVISIONER_NAME,
                "config": {"backend": spawner.name, "profile": profile["name"]},
            },
            MARK: {"backend": spawner.name, "profile": profile["name"]},
        },
    }


class RemoteKernelSpecs(LoggingConfigurable):
    """Which backends get kernel specs, and how they are named."""

    backends = List(
        Unicode(),
        help="""Backends whose kernel-offering profiles get kernel specs. Default: every backend
        whose spawner supports kernels (SLURM, Kubernetes, third-party ones that say so), e.g.
        ``c.RemoteKernelSpecs.backends = ['slurm']``. Empty: none.""",
    ).tag(config=True)

    @default("backends")
    def _default_backends(self) -> list[str]:
        factory = SpawnerFactory()
        out = []
        for name in factory.names():
            try:
                cls = factory.get_class(name)
            except Exception as e:  # a broken third-party entry point must not stop the server
                self.log.debug("jupyter-jobs: backend %s not loadable: %s", name, e)
                continue
            if getattr(cls, "supports_kernels", False):
                out.append(name)
        return out

    refresh_interval = Float(
        5.0,
        help="""Seconds between two checks of the kernel backends by a running server. Each check
        asks every kernel-capable backend whether it is available (for SLURM: ``scontrol ping``,
        answered from a 5 s cache) and rewrites ``<job_root>/kernelspecs``: the specs of a backend
        that came back (controller up again, credentials appeared) appear, those of a backend that
        went away are removed, and browsers are told at once (event
        ``https://events.jupyter.org/jupyter_jobs/kernelspecs/v1``), so JupyterLab's Launcher
        follows without a reload. Default 5 s, the slowest built-in backend's poll interval
        (Kubernetes). 0: check only at server start.""",
    ).tag(config=True)

    language_display = Unicode("Python 3", help="First part of the kernel's display name.").tag(
        config=True
    )

    def specs(self, spawners: dict[str, Spawner]) -> dict[str, dict[str, Any]]:
        """Kernel name → spec, for every profile with ``"kernels": true``."""
        out: dict[str, dict[str, Any]] = {}
        for name, spawner in spawners.items():
            if name not in self.backends or not spawner.supports_kernels:
                continue
            for i, profile in enumerate(spawner.get_profiles()):
                if not profile.get("kernels"):
                    continue
                try:
                    spec = build_spec(
                        spawner, profile, language=self.language_display, first=(i == 0)
                    )
                except ValueError as e:
                    self.log.warning("jupyter-jobs: no kernel spec: %s", e)
                    continue
                out[kernel_name(name, profile["name"])] = spec
        return out


def _resources_dir() -> str | None:
    try:
        from ipykernel.kernelspec import RESOURCES
    except ImportError:
        return None
    return RESOURCES if os.path.isdir(RESOURCES) else None


def is_ours(spec_dir: str) -> bool:
    try:
        with open(os.path.join(spec_dir, "kernel.json"), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and MARK in (data.get("metadata") or {})


def write_spec_dir(parent: str, name: str, spec: dict[str, Any]) -> str:
    """Write ``parent/name/kernel.json`` (with the Python logos) and return the directory."""
    d = os.path.join(parent, name)
    os.makedirs(d, exist_ok=True)
    resources = _resources_dir()
    if resources:
        for logo in os.listdir(resources):
            if logo.startswith("logo"):
                shutil.copyfile(os.path.join(resources, logo), os.path.join(d, logo))
    tmp = os.path.join(d, ".kernel.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1, ensure_ascii=False)
    os.replace(tmp, os.path.join(d, "kernel.json"))
    return d


def sync_dir(parent: str, specs: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Make ``parent`` hold exactly our ``specs``: write them, remove our stale ones.

    Directories that are not ours (no ``metadata.jupyter_jobs``) are never touched.
    Returns (written, removed) kernel names.
    """
    os.makedirs(parent, exist_ok=True)
    removed = []
    for entry in sorted(os.listdir(parent)):
        d = os.path.join(parent, entry)
        if entry not in specs and os.path.isdir(d) and is_ours(d):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(entry)
    for name, spec in specs.items():
        if not _same_spec(os.path.join(parent, name), spec):
            write_spec_dir(parent, name, spec)
    return sorted(specs), removed


def _same_spec(spec_dir: str, spec: dict[str, Any]) -> bool:
    """Is ``spec`` already there, logos included? (a running server re-syncs every few seconds)"""
    try:
        with open(os.path.join(spec_dir, "kernel.json"), encoding="utf-8") as f:
            if json.load(f) != spec:
                return False
    except (OSError, ValueError):
        return False
    resources = _resources_dir()
    if resources:
        for logo in os.listdir(resources):
            if logo.startswith("logo") and not os.path.exists(os.path.join(spec_dir, logo)):
                return False
    return True
