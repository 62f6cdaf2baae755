"""Job backends: the Spawner base class, the entry-point factory and the built-in spawners."""

from .base import LogReader, Spawner
from .factory import SpawnerFactory

__all__ = ["LogReader", "Spawner", "SpawnerFactory"]
