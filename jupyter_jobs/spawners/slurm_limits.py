"""What a SLURM cluster can ever give one job, and the check of a request against it.

One reading of the cluster (``scontrol show partition -o`` and ``scontrol show node -o``, argv
lists, cached by :class:`~jupyter_jobs.spawners.slurm.SlurmSpawner` for ``limits_ttl`` seconds)
becomes :class:`ClusterLimits`: per partition, the largest node's CPUs, memory and GPUs (capped by
the partition's ``MaxCPUsPerNode``/``MaxMemPerNode``/``MaxMemPerCPU``), its ``MaxTime`` and
``MaxNodes``. A request above them would wait forever as "PartitionConfig"; it is refused before
anything is created, saying the largest possible. Pure parsers: no command runs here (unit-tested
in ``tests/unit/test_slurm_limits.py``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..exceptions import BadRequest
from ..units import format_bytes, format_duration

MB = 1024**2
#: ``scontrol`` prints these for "no limit"
UNLIMITED = frozenset({"UNLIMITED", "INFINITE", "NONE", "N/A", "(null)", ""})
_GRES_RE = re.compile(r"^([^:(]+)(?::([^:(]+))?(?::(\d+))?")


def parse_records(text: str) -> list[dict[str, str]]:
    """``scontrol show … -o`` output (one record a line, ``Key=Value`` words) → dicts.

    Values never hold spaces in the keys used here; a word without ``=`` is glued to the value
    before it (``OS=Linux 6.1 #1 SMP``)."""
    records = []
    for line in text.splitlines():
        if "=" not in line:
            continue
        record: dict[str, str] = {}
        last = None
        for word in line.split():
            key, eq, value = word.partition("=")
            if eq and key:
                record[key] = value
                last = key
            elif last is not None:
                record[last] += " " + word
        records.append(record)
    return records


def parse_time_limit(value: str | None) -> int | None:
    """SLURM's ``MaxTime`` (``UNLIMITED``, ``10:00`` = MM:SS, ``1-00:00:00``, minutes) → seconds."""
    if value is None or value.strip().upper() in UNLIMITED:
        return None
    text = value.strip()
    days = 0
    if "-" in text:
        d, _, text = text.partition("-")
        days = int(d)
    parts = [int(p) for p in text.split(":")] if text else [0]
    if len(parts) == 1:  # plain minutes (SLURM's unit for a bare number)
        seconds = parts[0] * 60
    elif len(parts) == 2:  # MM:SS
        seconds = parts[0] * 60 + parts[1]
    else:
        h, m, s = parts[-3:]
        seconds = h * 3600 + m * 60 + s
    return days * 86400 + seconds


def _number(value: str | None) -> int | None:
    if value is None or value.strip().upper() in UNLIMITED:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def gpu_count(gres: str | None, name: str = "gpu") -> int:
    """GPUs in a node's ``Gres`` (``gpu:2``, ``gpu:a100:4(S:0-1)``, ``gpu:tesla:2,mps:100``)."""
    total = 0
    base = name.split(":")[0]
    for item in (gres or "").split(","):
        m = _GRES_RE.match(item.strip())
        if not m or m.group(1) != base:
            continue
        kind, count = m.group(2), m.group(3)
        if count is None and kind is not None and kind.isdigit():
            kind, count = None, kind
        want = name.split(":")[1] if ":" in name else None
        if want and kind != want:
            continue
        total += int(count) if count is not None else 1
    return total


@dataclasses.dataclass
class PartitionLimits:
    """The most one (single-node) job can get in one partition; None: no limit or unknown."""

    name: str
    cpus: int | None = None
    memory_bytes: int | None = None
    gpus: int = 0
    max_time_seconds: int | None = None
    max_nodes: int | None = None
    default: bool = False
    #: the partition's DefaultTime (what a job that asks for no time limit gets)
    default_time_seconds: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpus": self.cpus,
            "memory_bytes": self.memory_bytes,
            "gpus": self.gpus,
            "max_time_seconds": self.max_time_seconds,
            "max_nodes": self.max_nodes,
            "default": self.default,
        }


@dataclasses.dataclass
class ClusterLimits:
    partitions: dict[str, PartitionLimits]

    @property
    def default_partition(self) -> str | None:
        for p in self.partitions.values():
            if p.default:
                return p.name
        return None

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: p.to_dict() for name, p in self.partitions.items()}

    def partition_of(
        self, resources: dict[str, Any], default_partition: str = ""
    ) -> PartitionLimits | None:
        """The partition a job with these resources goes to (None: unknown, or several)."""
        name = resources.get("partition") or resources.get("queue") or default_partition
        name = name or self.default_partition
        if name is None or "," in name:
            return None
        return self.partitions.get(name)

    def check(self, resources: dict[str, Any], default_partition: str = "") -> None:
        """Raise BadRequest when no node of the job's partition can ever run ``resources``
        (normalised: ``cpus``, ``memory`` bytes, ``gpus``, ``time_limit`` seconds)."""
        asked = resources.get("partition") or resources.get("queue") or default_partition
        field = (
            "resources.queue"
            if resources.get("queue") and not resources.get("partition")
            else "resources.partition"
        )
        name = asked or self.default_partition
        if name is None:
            return  # no default partition known: SLURM decides
        if "," in name:
            return  # several partitions: SLURM takes the first that fits
        part = self.partitions.get(name)
        if part is None:
            known = ", ".join(sorted(self.partitions)) or "none"
            raise BadRequest(
                f"there is no partition {name!r} on this cluster; the partitions are: {known}",
                field=field,
            )
        where = f"in partition {name}" if name else "of the cluster"
        cpus = resources.get("cpus")
        if cpus and part.cpus is not None and cpus > part.cpus:
            raise BadRequest(
                f"no node {where} has {cpus} CPUs; the largest has {part.cpus}",
                field="resources.cpus",
            )
        memory = resources.get("memory")
        if memory and part.memory_bytes is not None and memory > part.memory_bytes:
            raise BadRequest(
                f"no node {where} has {format_bytes(memory)} of memory;"
                f" the largest has {format_bytes(part.memory_bytes)}",
                field="resources.memory",
            )
        gpus = resources.get("gpus")
        if gpus and gpus > part.gpus:
            largest = f"the largest has {part.gpus}" if part.gpus else "none has any"
            raise BadRequest(
                f"no node {where} has {gpus} GPU{'s' if gpus != 1 else ''}; {largest}",
                field="resources.gpus",
            )
        limit = resources.get("time_limit")
        if limit and part.max_time_seconds is not None and limit > part.max_time_seconds:
            raise BadRequest(
                f"the time limit {format_duration(limit)} is more than partition {name} allows"
                f" ({format_duration(part.max_time_seconds)})",
                field="resources.time_limit",
            )


def cluster_limits(partitions_text: str, nodes_text: str, gres_name: str = "gpu") -> ClusterLimits:
    """:class:`ClusterLimits` from ``scontrol show partition -o`` and ``scontrol show node -o``."""
    nodes_of: dict[str, list[dict[str, str]]] = {}
    for node in parse_records(nodes_text):
        for part in (node.get("Partitions") or "").split(","):
            if part:
                nodes_of.setdefault(part, []).append(node)
    out: dict[str, PartitionLimits] = {}
    for rec in parse_records(partitions_text):
        name = rec.get("PartitionName")
        if not name:
            continue
        nodes = nodes_of.get(name, [])
        node_cpus = [n for n in (_number(x.get("CPUEfctv") or x.get("CPUTot")) for x in nodes) if n]
        node_mem = [n * MB for n in (_number(x.get("RealMemory")) for x in nodes) if n]
        cpus = max(node_cpus) if node_cpus else None
        cap_cpus = _number(rec.get("MaxCPUsPerNode"))
        if cap_cpus is not None:
            cpus = cap_cpus if cpus is None else min(cpus, cap_cpus)
        memory = max(node_mem) if node_mem else None
        cap_mem = _number(rec.get("MaxMemPerNode"))
        per_cpu = _number(rec.get("MaxMemPerCPU"))
        if cap_mem is None and per_cpu is not None and cpus is not None:
            cap_mem = per_cpu * cpus
        if cap_mem is not None:
            memory = cap_mem * MB if memory is None else min(memory, cap_mem * MB)
        gpus = max((gpu_count(x.get("Gres"), gres_name) for x in nodes), default=0)
        out[name] = PartitionLimits(
            name=name,
            cpus=cpus,
            memory_bytes=memory,
            gpus=gpus,
            max_time_seconds=parse_time_limit(rec.get("MaxTime")),
            max_nodes=_number(rec.get("MaxNodes")),
            default=rec.get("Default", "").upper() == "YES",
            default_time_seconds=parse_time_limit(rec.get("DefaultTime")),
        )
    return ClusterLimits(out)
