"""The parsers and the check of jupyter_jobs.spawners.slurm_limits, on scontrol's own output
(captured from the test cluster, SLURM 22.05, and variants with caps and several node sizes)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jupyter_jobs.exceptions import BadRequest
from jupyter_jobs.spawners.slurm_limits import cluster_limits, gpu_count, parse_time_limit

PARTITIONS = (
    "PartitionName=debug AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES"
    " QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO"
    " MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED"
    " Nodes=localhost PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO"
    " OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=4 TotalNodes=1"
    " SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED"
    " TRES=cpu=4,mem=24105M,node=1,billing=4\n"
    "PartitionName=short AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO"
    " QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO"
    " MaxNodes=UNLIMITED MaxTime=00:10:00 MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED"
    " Nodes=localhost PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO"
    " OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=4 TotalNodes=1"
    " SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED"
    " TRES=cpu=4,mem=24105M,node=1,billing=4\n"
)
NODES = (
    "NodeName=localhost Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=4 CPUTot=4 CPULoad=6.15"
    " AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:2 NodeAddr=127.0.0.1"
    " NodeHostName=localhost Version=22.05.8 OS=Linux 6.18.44-fc-v857 #1 SMP PREEMPT_DYNAMIC @0 "
    " RealMemory=24105 AllocMem=0 FreeMem=18711 Sockets=4 Boards=1 State=IDLE ThreadsPerCore=1"
    " TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=debug,short "
    " BootTime=2026-12-01T21:46:13 CfgTRES=cpu=4,mem=24105M,billing=4 AllocTRES= CapWatts=n/a\n"
)
#: two node sizes; gpu has caps per node and a day's MaxTime; cpu's nodes have no GPUs
BIG_PARTITIONS = (
    "PartitionName=cpu Default=YES MaxNodes=4 MaxTime=2-00:00:00 MaxCPUsPerNode=UNLIMITED"
    " Nodes=c[01-02] MaxMemPerNode=UNLIMITED\n"
    "PartitionName=gpu Default=NO MaxNodes=UNLIMITED MaxTime=1-00:00:00 MaxCPUsPerNode=16"
    " Nodes=g01 MaxMemPerNode=65536\n"
    "PartitionName=tiny Default=NO MaxTime=30 DefaultTime=10 MaxCPUsPerNode=UNLIMITED Nodes=c01"
    " MaxMemPerCPU=1024\n"
)
BIG_NODES = (
    "NodeName=c01 CPUTot=8 RealMemory=32000 Gres=(null) Partitions=cpu,tiny State=IDLE\n"
    "NodeName=c02 CPUTot=64 RealMemory=256000 Gres=(null) Partitions=cpu State=DOWN+DRAIN\n"
    "NodeName=g01 CPUTot=32 CPUEfctv=30 RealMemory=128000 Gres=gpu:a100:4(S:0-1),mps:100"
    " Partitions=gpu State=MIXED\n"
)


def refusal(limits, resources, default=""):
    with pytest.raises(BadRequest) as e:
        limits.check(resources, default_partition=default)
    return e.value.message, e.value.field


def test_the_test_clusters_limits():
    limits = cluster_limits(PARTITIONS, NODES)
    assert limits.to_dict() == {
        "debug": {
            "cpus": 4,
            "memory_bytes": 24105 * 1024**2,
            "gpus": 2,
            "max_time_seconds": None,
            "max_nodes": None,
            "default": True,
        },
        "short": {
            "cpus": 4,
            "memory_bytes": 24105 * 1024**2,
            "gpus": 2,
            "max_time_seconds": 600,
            "max_nodes": None,
            "default": False,
        },
    }
    assert limits.default_partition == "debug"


def test_impossible_requests_say_the_largest_possible():
    limits = cluster_limits(PARTITIONS, NODES)
    assert refusal(limits, {"cpus": 8}) == (
        "no node in partition debug has 8 CPUs; the largest has 4",
        "resources.cpus",
    )
    assert refusal(limits, {"memory": 100 * 1024**3}) == (
        "no node in partition debug has 100G of memory; the largest has 23.5G",
        "resources.memory",
    )
    assert refusal(limits, {"gpus": 3, "partition": "short"}) == (
        "no node in partition short has 3 GPUs; the largest has 2",
        "resources.gpus",
    )
    assert refusal(limits, {"partition": "short", "time_limit": 3600}) == (
        "the time limit 01:00:00 is more than partition short allows (00:10:00)",
        "resources.time_limit",
    )
    assert refusal(limits, {"partition": "nosuch"}) == (
        "there is no partition 'nosuch' on this cluster; the partitions are: debug, short",
        "resources.partition",
    )
    assert refusal(limits, {"queue": "nosuch"})[1] == "resources.queue"
    # the admin's default partition counts when the request names none
    assert "partition short" in refusal(limits, {"time_limit": 3600}, default="short")[0]


def test_requests_that_fit_pass():
    limits = cluster_limits(PARTITIONS, NODES)
    for fits in (
        {},
        {"cpus": 4, "memory": 24105 * 1024**2, "gpus": 2},
        {"partition": "short", "time_limit": 600},
        {"time_limit": 365 * 86400},  # debug has no MaxTime
        {"partition": "debug,short", "cpus": 64},  # several partitions: SLURM picks
    ):
        limits.check(fits)


def test_caps_and_several_node_sizes():
    limits = cluster_limits(BIG_PARTITIONS, BIG_NODES, "gpu")
    cpu, gpu, tiny = (limits.partitions[n] for n in ("cpu", "gpu", "tiny"))
    # the largest node counts (a drained node may come back); no GPUs anywhere in cpu
    assert (cpu.cpus, cpu.memory_bytes, cpu.gpus) == (64, 256000 * 1024**2, 0)
    assert (cpu.max_time_seconds, cpu.max_nodes) == (2 * 86400, 4)
    # MaxCPUsPerNode and MaxMemPerNode cap the node; CPUEfctv (cores left for jobs) wins
    assert (gpu.cpus, gpu.memory_bytes, gpu.gpus, gpu.max_time_seconds) == (
        16,
        65536 * 1024**2,
        4,
        86400,
    )
    # MaxMemPerCPU times the CPUs; a bare MaxTime is minutes
    assert (tiny.cpus, tiny.memory_bytes, tiny.max_time_seconds) == (8, 8 * 1024 * 1024**2, 1800)
    assert tiny.default_time_seconds == 600 and cpu.default_time_seconds is None
    assert limits.partition_of({"partition": "tiny"}) is tiny
    assert limits.partition_of({}) is cpu and limits.partition_of({}, "gpu") is gpu
    assert limits.partition_of({"partition": "cpu,gpu"}) is None
    assert limits.partition_of({"queue": "nosuch"}) is None
    assert refusal(limits, {"gpus": 1}) == (
        "no node in partition cpu has 1 GPU; none has any",
        "resources.gpus",
    )
    assert refusal(limits, {"partition": "gpu", "cpus": 17})[0] == (
        "no node in partition gpu has 17 CPUs; the largest has 16"
    )
    only_a100 = cluster_limits(BIG_PARTITIONS, BIG_NODES, "gpu:h100")
    assert only_a100.partitions["gpu"].gpus == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("UNLIMITED", None),
        ("INFINITE", None),
        ("00:10:00", 600),
        ("10:00", 600),
        ("1-00:00:00", 86400),
        ("2-12:30:00", 2 * 86400 + 12 * 3600 + 1800),
        ("45", 2700),
    ],
)
def test_time_limits(text, seconds):
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize(
    ("gres", "name", "count"),
    [
        ("gpu:2", "gpu", 2),
        ("(null)", "gpu", 0),
        ("gpu:a100:4(S:0-1),mps:100", "gpu", 4),
        ("gpu:a100:2,gpu:v100:1", "gpu", 3),
        ("gpu:a100:2,gpu:v100:1", "gpu:v100", 1),
        ("gpu", "gpu", 1),
        ("mps:100", "gpu", 0),
    ],
)
def test_gpu_counts(gres, name, count):
    assert gpu_count(gres, name) == count


def test_kubernetes_quantities_and_node_sizes():
    from jupyter_jobs.spawners.k8s_limits import cluster_limits as k8s_limits
    from jupyter_jobs.spawners.k8s_limits import quantity

    assert quantity("3920m") == Decimal("3.92") and quantity("2") == 2
    assert quantity("16Gi") == 16 * 1024**3 and quantity("1e3") == 1000
    assert quantity("lots") is None and quantity(None) is None
    nodes = [
        {"status": {"allocatable": {"cpu": "3920m", "memory": "15Gi"}}},
        {"status": {"allocatable": {"cpu": "8", "memory": "30Gi", "amd.com/gpu": "4"}}},
    ]
    limits = k8s_limits(nodes, "amd.com/gpu")
    assert limits is not None
    assert limits.to_dict()[""] == {
        "cpus": 8,
        "memory_bytes": 30 * 1024**3,
        "gpus": 4,
        "max_time_seconds": None,
        "max_nodes": None,
        "default": True,
    }
    assert refusal(limits, {"cpus": 9})[0] == "no node of the cluster has 9 CPUs; the largest has 8"
    assert k8s_limits([], "nvidia.com/gpu") is None
