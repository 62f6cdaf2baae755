"""Finds spawner classes through the ``jupyter_jobs.spawners`` entry-point group.

Modelled on jupyter_client's provisioning factory: the lookup is one method tests can patch.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from traitlets.config import LoggingConfigurable

from ..exceptions import BadRequest

GROUP = "jupyter_jobs.spawners"

BUILTIN = {
    "local": "jupyter_jobs.spawners.local:LocalSpawner",
    "slurm": "jupyter_jobs.spawners.slurm:SlurmSpawner",
    "kubernetes": "jupyter_jobs.spawners.kubernetes:KubernetesSpawner",
}


class SpawnerFactory(LoggingConfigurable):
    """Maps backend names to spawner classes."""

    def _entry_points(self) -> dict[str, str]:
        found = dict(BUILTIN)
        for ep in entry_points(group=GROUP):
            found[ep.name] = ep.value
        return found

    def names(self) -> list[str]:
        return list(self._entry_points())

    def get_class(self, name: str) -> type:
        target = self._entry_points().get(name)
        if target is None:
            raise BadRequest(f"unknown backend {name!r}; known: {', '.join(self.names())}")
        module, _, attr = target.partition(":")
        mod = __import__(module, fromlist=[attr])
        return getattr(mod, attr)
