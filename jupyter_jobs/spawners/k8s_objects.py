"""Pure builders of the Kubernetes objects a launcher job needs, and readers of what comes back.

No I/O and no client: every function takes plain values and returns plain camelCase dicts (the form
``kubectl`` and the API use), so the manifests can be unit-tested and validated against the official
schemas without a cluster. ``extra_pod_config`` / ``extra_container_config`` follow kubespawner's
``update_k8s_model`` semantics: top-level keys (camelCase or snake_case) replace the generated
value; an unknown key is an error.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any

from ..models import (
    CANCELLED,
    COMPLETED,
    FAILED,
    LOST,
    QUEUED,
    RUNNING,
    JobUpdate,
    parse_time,
)

#: every object we create carries this label; the watch selects on it
MANAGED_BY = ("app.kubernetes.io/managed-by", "jupyter-jobs")
LABEL_JOB_ID = "jupyter-jobs.jupyter.org/job-id"
LABEL_USER = "jupyter-jobs.jupyter.org/user"
LABEL_COMPONENT = "app.kubernetes.io/component"
ANNOTATION_USER = "jupyter-jobs.jupyter.org/user"
ANNOTATION_NAME = "jupyter-jobs.jupyter.org/job-name"
ANNOTATION_JOB_DIR = "jupyter-jobs.jupyter.org/job-dir"
ANNOTATION_RUNNER = "jupyter-jobs.jupyter.org/runner"
CONTAINER = "job"
#: where a kernel's connection file (from its Secret) is mounted, read-only
KERNEL_MOUNT = "/etc/jupyter-jobs/kernel"
KERNEL_CONNECTION_FILE = "kernel.json"
#: a writable emptyDir where the kernel container copies its connection file (ipykernel may
#: rewrite the file it is given; the Secret's mount is read-only)
KERNEL_RUNTIME = "/tmp/jupyter-jobs-kernel"
KERNEL_RUNTIME_FILE = f"{KERNEL_RUNTIME}/{KERNEL_CONNECTION_FILE}"
#: the kernel container's shell script: a fixed string with no user input in it; the kernel's
#: argv follows as positional parameters (``exec "$@"``), never parsed by the shell
KERNEL_SCRIPT = (
    f"cp {KERNEL_MOUNT}/{KERNEL_CONNECTION_FILE} {KERNEL_RUNTIME_FILE}"
    f' && chmod 600 {KERNEL_RUNTIME_FILE} && exec "$@"'
)
#: where Kubernetes takes a container's last words from (``state.terminated.message``)
TERMINATION_LOG = "/dev/termination-log"
#: exit code of a kernel that ended itself because no server held it for its grace period
KERNEL_GUARD_EXIT = 86
#: the grace rule inside a kernel pod, which sees neither the job root nor the servers' leases:
#: run by the kernel's own Python as ``python -c KERNEL_GUARD GRACE TERMINATION_LOG -m
#: ipykernel_launcher -f FILE``, it starts a thread, then runs the kernel in the same process.
#: While a Jupyter server (or any client) holds the kernel, a TCP connection to one of the
#: kernel's ports is established (jupyter_server keeps the kernel's iopub connected for activity
#: tracking). When none has been for GRACE seconds, the kernel writes why to the termination log
#: and exits with KERNEL_GUARD_EXIT. A fixed string with no user input in it.
KERNEL_GUARD = """\
import json, os, runpy, socket, struct, sys, threading, time
limit, termlog, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
grace = float(limit)
info = json.load(open(rest[rest.index("-f") + 1]))
ports = {int(info[k]) for k in info if k.endswith("_port")}
ip = info.get("ip") or "0.0.0.0"

def held():
    # a TCP connection from another process to one of our ports (the kernel connects to some
    # of its own ports: those do not count)
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            mine.add(link[8:-1])
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows += [r.split() for r in open(table).read().splitlines()[1:]]
        except OSError:
            if not table.endswith("6"):
                return True  # cannot tell: never end the kernel for it
    own_ends = {r[1] for r in rows if r[9] in mine}
    for r in rows:
        addr, port = r[1].rsplit(":", 1)
        if r[3] != "01" or int(port, 16) not in ports or r[2] in own_ends:
            continue
        if ip == "0.0.0.0" or (len(addr) == 8 and
                socket.inet_ntoa(struct.pack("<I", int(addr, 16))) == ip):
            return True
    return False

def guard():
    seen = time.monotonic()
    while True:
        time.sleep(min(5.0, grace / 4))
        if held():
            seen = time.monotonic()
        elif time.monotonic() - seen > grace:
            why = ("its Jupyter server has been gone for more than " + limit +
                   " s (no client connected): the kernel ended itself")
            try:
                with open(termlog, "w") as f:
                    f.write(why)
            except OSError:
                pass
            sys.stderr.write("jupyter-jobs: " + why + "\\n")
            sys.stderr.flush()
            os._exit(EXIT_CODE)

threading.Thread(target=guard, name="jupyter-jobs-guard", daemon=True).start()
if rest[0] == "-m":
    sys.argv = rest[1:]
    runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = rest
    runpy.run_path(rest[0], run_name="__main__")
""".replace("EXIT_CODE", str(KERNEL_GUARD_EXIT))
#: injected by the ServiceAccount admission plugin into every pod: never copy it from the server pod
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


# ---------------------------------------------------------------- names and labels


def job_object_name(job_id: str) -> str:
    """The Job's name: DNS-1123, short enough for the Job controller's pod names and labels."""
    safe = re.sub(r"[^a-z0-9]", "", job_id.lower())[:32] or "x"
    return f"jupyter-job-{safe}"


def kernel_secret_name(job_id: str) -> str:
    return job_object_name(job_id) + "-kernel"


def label_value(value: str) -> str:
    """``value`` made a valid label value (≤ 63 characters, alphanumeric at both ends).

    Characters that are not allowed become ``-``; a value that had to be changed or shortened gets
    a hash suffix, so two different users never share a label value.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", value).strip("-_.")
    if cleaned == value and len(value) <= 63:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{cleaned[:54].rstrip('-_.')}-{digest}".lstrip("-")


def is_dns1123_label(name: str) -> bool:
    return len(name) <= 63 and bool(_DNS1123_LABEL.match(name))


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def selector(labels: dict[str, str]) -> str:
    """An equality-based label selector (``a=b,c=d``)."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def base_labels(user: str) -> dict[str, str]:
    """The labels that select all of one user's jobs (what the watch asks for)."""
    return {MANAGED_BY[0]: MANAGED_BY[1], LABEL_USER: label_value(user)}


# ---------------------------------------------------------------- quantities


def memory_quantity(n: int) -> str:
    """Bytes as an exact Kubernetes quantity: the largest binary suffix that divides them
    (``4Gi``, ``1536Mi``), else plain bytes (never rounded: the limit is what was asked)."""
    for suffix, size in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


def make_resources(
    cpus: int | None,
    memory: int | None,
    gpus: int | None,
    gpu_resource_key: str = "nvidia.com/gpu",
    extra_limits: dict[str, Any] | None = None,
    extra_guarantees: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``cpus``/``memory`` become equal requests and limits; ``gpus`` a limit on the GPU key."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if cpus:
        requests["cpu"] = limits["cpu"] = str(cpus)
    if memory:
        requests["memory"] = limits["memory"] = memory_quantity(memory)
    if gpus:
        limits[gpu_resource_key] = str(gpus)
    for key, value in (extra_guarantees or {}).items():
        requests[key] = str(value)
    for key, value in (extra_limits or {}).items():
        limits[key] = str(value)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


# ---------------------------------------------------------------- kubespawner's merge


def _model_keys(kind: str) -> dict[str, str] | None:
    """snake_case → camelCase of a pod spec or container, from kubernetes_asyncio's models."""
    try:
        from kubernetes_asyncio.client import models
    except ImportError:
        return None
    model: Any = models.V1PodSpec if kind == "pod" else models.V1Container
    return dict(model.attribute_map)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def merge_extra(
    target: dict[str, Any], changes: dict[str, Any] | None, kind: str, what: str
) -> dict[str, Any]:
    """Apply ``extra_pod_config`` (kind ``pod``) or ``extra_container_config`` (``container``).

    As kubespawner's ``update_k8s_model``: each top-level key replaces the generated value
    (no deep merge); keys may be camelCase or snake_case; an unknown key raises ValueError.
    """
    if not changes:
        return target
    keys = _model_keys(kind)
    out = dict(target)
    for key, value in changes.items():
        if keys is not None:
            if key in keys:
                camel = keys[key]
            elif key in keys.values():
                camel = key
            else:
                raise ValueError(f"{what}: {key!r} is not a field of a {kind} spec")
        else:
            camel = _camel(key)
        out[camel] = value
    return out


# ---------------------------------------------------------------- the Job


def make_job(
    *,
    name: str,
    namespace: str,
    image: str,
    command: list[str],
    job_id: str,
    user: str,
    display_name: str = "",
    component: str = "job",
    env: dict[str, str] | None = None,
    working_dir: str | None = None,
    cpus: int | None = None,
    memory: int | None = None,
    gpus: int | None = None,
    gpu_resource_key: str = "nvidia.com/gpu",
    extra_resource_limits: dict[str, Any] | None = None,
    extra_resource_guarantees: dict[str, Any] | None = None,
    time_limit: int | None = None,
    ttl_seconds_after_finished: int | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    volume_mounts: list[dict[str, Any]] | None = None,
    service_account: str | None = None,
    automount_service_account_token: bool = False,
    image_pull_policy: str | None = None,
    image_pull_secrets: list[str] | None = None,
    pod_security_context: dict[str, Any] | None = None,
    container_security_context: dict[str, Any] | None = None,
    ports: dict[str, int] | None = None,
    extra_labels: dict[str, str] | None = None,
    extra_annotations: dict[str, str] | None = None,
    job_dir: str | None = None,
    runner: bool = False,
    extra_pod_config: dict[str, Any] | None = None,
    extra_container_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``batch/v1`` Job that runs ``command`` once in ``image`` (``backoffLimit: 0``).

    ``time_limit`` (seconds) becomes ``activeDeadlineSeconds``; the labels identify the user and
    the job (the watch selects on them), the annotations carry what labels cannot hold.
    """
    labels = {
        **(extra_labels or {}),
        **base_labels(user),
        LABEL_JOB_ID: label_value(job_id),
        LABEL_COMPONENT: component,
    }
    annotations = {**(extra_annotations or {}), ANNOTATION_USER: user}
    if display_name:
        annotations[ANNOTATION_NAME] = display_name
    if job_dir:
        annotations[ANNOTATION_JOB_DIR] = job_dir
    annotations[ANNOTATION_RUNNER] = "true" if runner else "false"

    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "command": [str(a) for a in command],
        "env": [{"name": str(k), "value": str(v)} for k, v in (env or {}).items()],
    }
    if working_dir:
        container["workingDir"] = working_dir
    resources = make_resources(
        cpus, memory, gpus, gpu_resource_key, extra_resource_limits, extra_resource_guarantees
    )
    if resources:
        container["resources"] = resources
    if volume_mounts:
        container["volumeMounts"] = list(volume_mounts)
    if image_pull_policy:
        container["imagePullPolicy"] = image_pull_policy
    if container_security_context:
        container["securityContext"] = dict(container_security_context)
    if ports:
        container["ports"] = [
            {"name": n.replace("_", "-")[:15], "containerPort": int(p), "protocol": "TCP"}
            for n, p in ports.items()
        ]
    container = merge_extra(
        container, extra_container_config, "container", "extra_container_config"
    )

    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "automountServiceAccountToken": bool(automount_service_account_token),
    }
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    if node_selector:
        pod_spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        pod_spec["tolerations"] = list(tolerations)
    if volumes:
        pod_spec["volumes"] = list(volumes)
    if image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": s} for s in image_pull_secrets]
    if pod_security_context:
        pod_spec["securityContext"] = dict(pod_security_context)
    pod_spec = merge_extra(pod_spec, extra_pod_config, "pod", "extra_pod_config")

    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "template": {
            "metadata": {"labels": dict(labels), "annotations": dict(annotations)},
            "spec": pod_spec,
        },
    }
    if time_limit:
        spec["activeDeadlineSeconds"] = int(time_limit)
    if ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = int(ttl_seconds_after_finished)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    }


def owner_reference(job: dict[str, Any]) -> dict[str, Any]:
    """An ownerReference to a created Job (its uid is known only after the create)."""
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "uid": meta["uid"],
        "blockOwnerDeletion": True,
    }


def make_secret(
    *,
    name: str,
    namespace: str,
    string_data: dict[str, str],
    labels: dict[str, str],
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Opaque Secret, garbage-collected with its ``owner`` Job."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if owner:
        meta["ownerReferences"] = [owner]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": meta,
        "stringData": dict(string_data),
    }


def make_kernel_secret(
    job_id: str,
    namespace: str,
    user: str,
    connection: dict[str, Any],
    ports: dict[str, int],
    owner_job: dict[str, Any],
) -> dict[str, Any]:
    """The kernel's connection file (its key, the fixed ports, listening on all addresses) in a
    Secret owned by the created Job, so Kubernetes deletes it with the Job."""
    keep = ("key", "signature_scheme", "transport", "kernel_name")
    info = {**{k: connection[k] for k in keep if k in connection}, "ip": "0.0.0.0", **ports}
    return make_secret(
        name=kernel_secret_name(job_id),
        namespace=namespace,
        string_data={KERNEL_CONNECTION_FILE: json.dumps(info)},
        labels={**base_labels(user), LABEL_JOB_ID: label_value(job_id)},
        owner=owner_reference(owner_job) if (owner_job.get("metadata") or {}).get("uid") else None,
    )


def kernel_volume(secret_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The volume and mount that put a kernel's connection file at ``KERNEL_MOUNT``.

    Mode 0444: the container may run as any user (z2jh: uid 1000) and a kernel pod has one
    container; the key never leaves the pod and the Secret.
    """
    volume = {
        "name": "jupyter-jobs-kernel",
        "secret": {"secretName": secret_name, "defaultMode": 0o444},
    }
    mount = {"name": "jupyter-jobs-kernel", "mountPath": KERNEL_MOUNT, "readOnly": True}
    return volume, mount


def kernel_runtime_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """A small in-memory emptyDir at ``KERNEL_RUNTIME`` (writable even on a read-only root)."""
    volume = {"name": "jupyter-jobs-kernel-runtime", "emptyDir": {"medium": "Memory"}}
    mount = {"name": "jupyter-jobs-kernel-runtime", "mountPath": KERNEL_RUNTIME}
    return volume, mount


def connection_file_arg(argv: list[str]) -> int:
    """Index in a kernel's argv of its connection file (the argument after ``-f``)."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "-f":
            return i + 1
    raise ValueError("a kernel's argv must give its connection file as '-f FILE'")


def kernel_command(argv: list[str], server_grace: float = 0.0) -> list[str]:
    """The kernel container's command: copy the mounted connection file to a writable place,
    then exec the kernel's argv with ``-f`` pointing at the copy (no shell parsing of argv).
    ``server_grace`` > 0: the kernel's Python runs it under :data:`KERNEL_GUARD`."""
    kernel = list(argv)
    kernel[connection_file_arg(kernel)] = KERNEL_RUNTIME_FILE
    if server_grace > 0 and len(kernel) > 1:
        python, *rest = kernel
        kernel = [python, "-c", KERNEL_GUARD, f"{server_grace:g}", TERMINATION_LOG, *rest]
    return ["sh", "-c", KERNEL_SCRIPT, "jupyter-jobs-kernel", *kernel]


def kernel_guard_update(pod: dict[str, Any], update: JobUpdate) -> JobUpdate:
    """A kernel pod whose guard ended it (no server for its grace period) ends ``cancelled``
    with the guard's reason, as a SLURM kernel's runner does."""
    if update.status != FAILED or update.exit_code != KERNEL_GUARD_EXIT:
        return update
    labels = (pod.get("metadata") or {}).get("labels") or {}
    term = (_container_status(pod).get("state") or {}).get("terminated") or {}
    if labels.get(LABEL_COMPONENT) != "kernel" or not term.get("message"):
        return update
    update.status, update.reason = CANCELLED, str(term["message"])[:500]
    return update


# ---------------------------------------------------------------- the server's own pod


def inherit_from_pod(pod: dict[str, Any], container_name: str = "notebook") -> dict[str, Any]:
    """What a job takes from the Jupyter server's own pod so it sees the same files and packages.

    Image, pull policy and secrets, volumes and mounts, security contexts. Never the environment
    (it holds the server's API tokens) and never the service-account token volume that admission
    injects (the job pod gets its own, and a copy would collide with it).
    """
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        raise ValueError("the server pod has no containers")
    chosen = next((c for c in containers if c.get("name") == container_name), containers[0])
    mounts = [
        m
        for m in chosen.get("volumeMounts") or []
        if not str(m.get("mountPath", "")).startswith(SA_MOUNT)
    ]
    mounted = {m["name"] for m in mounts}
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") in mounted]
    out: dict[str, Any] = {
        "image": chosen.get("image"),
        "volumes": volumes,
        "volume_mounts": mounts,
    }
    if chosen.get("imagePullPolicy"):
        out["image_pull_policy"] = chosen["imagePullPolicy"]
    if spec.get("imagePullSecrets"):
        out["image_pull_secrets"] = [s["name"] for s in spec["imagePullSecrets"] if s.get("name")]
    if spec.get("securityContext"):
        out["pod_security_context"] = spec["securityContext"]
    if chosen.get("securityContext"):
        out["container_security_context"] = chosen["securityContext"]
    return out


# ---------------------------------------------------------------- reading pods back

#: waiting reasons a user can act on (the image name, the config); the pod stays Pending with them
ACTIONABLE_WAITING = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "CrashLoopBackOff",
    }
)


def _time(value: Any) -> datetime | None:
    return parse_time(value) if isinstance(value, str) else None


def _container_status(pod: dict[str, Any]) -> dict[str, Any]:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == CONTAINER:
            return cs
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return statuses[0] if statuses else {}


def pod_ip(pod: dict[str, Any]) -> str | None:
    return (pod.get("status") or {}).get("podIP") or None


def pod_update(
    pod: dict[str, Any],
    runner_status: dict[str, Any] | None = None,
    memory: str | None = None,
) -> JobUpdate:
    """What a pod says about its job, as a JobUpdate.

    ``runner_status`` is the runner's ``status.json`` when the job ran under the runner: the
    runner always exits 0, so the command's exit code and reason come from there. ``memory`` is
    the limit shown in an OOMKilled reason.
    """
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    node = (pod.get("spec") or {}).get("nodeName")
    cs = _container_status(pod)
    state = cs.get("state") or {}
    ip = pod_ip(pod)
    extra_state = {"pod": (pod.get("metadata") or {}).get("name"), "pod_ip": ip}
    if phase == "Pending":
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in ACTIONABLE_WAITING:
            msg = waiting.get("message") or ""
            return JobUpdate(
                status=QUEUED,
                reason=f"{waiting['reason']}: {msg}".rstrip(": "),
                host=node,
                state=extra_state,
            )
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                msg = cond.get("message") or ""
                return JobUpdate(
                    status=QUEUED,
                    reason=f"{cond.get('reason') or 'Unschedulable'}: {msg}".rstrip(": "),
                    state=extra_state,
                )
        return JobUpdate(status=QUEUED, clear_reason=True, host=node, state=extra_state)
    if phase == "Running" or (phase not in ("Succeeded", "Failed") and "running" in state):
        running = state.get("running") or {}
        return JobUpdate(
            status=RUNNING,
            host=node,
            started_at=_time(running.get("startedAt")) or _time(status.get("startTime")),
            clear_reason=True,
            state=extra_state,
        )
    if phase not in ("Succeeded", "Failed"):  # Unknown: the node stopped reporting
        return JobUpdate(
            status=RUNNING,
            host=node,
            reason=f"pod phase {phase}: node not reporting",
            state=extra_state,
        )
    term = state.get("terminated") or {}
    started = _time(term.get("startedAt")) or _time(status.get("startTime"))
    finished = _time(term.get("finishedAt"))
    if runner_status and runner_status.get("state") in (COMPLETED, FAILED, CANCELLED):
        return JobUpdate(
            status=runner_status["state"],
            exit_code=runner_status.get("exit_code"),
            reason=runner_status.get("reason"),
            host=node,
            started_at=_time(runner_status.get("started_at")) or started,
            finished_at=_time(runner_status.get("finished_at")) or finished,
            clear_reason=runner_status.get("reason") is None,
            state=extra_state,
        )
    code = term.get("exitCode")
    reason = term.get("reason")
    if reason == "OOMKilled":
        limit = f" of {memory}" if memory else ""
        text = f"OOMKilled: the job used all its memory{limit} and was killed"
    elif not term and status.get("reason"):  # Evicted, DeadlineExceeded (pod-level)
        text = f"{status['reason']}: {status.get('message') or ''}".rstrip(": ")
    elif code:
        text = f"exit code {code}" + (f" ({reason})" if reason and reason != "Error" else "")
    else:
        text = None
    ok = phase == "Succeeded" and not code
    return JobUpdate(
        status=COMPLETED if ok else FAILED,
        exit_code=code if code is not None else (0 if ok else None),
        reason=None if ok else (text or f"pod {phase}"),
        clear_reason=ok,
        host=node,
        started_at=started,
        finished_at=finished,
        state=extra_state,
    )


def job_failure(job: dict[str, Any]) -> str | None:
    """Why a Job failed (``DeadlineExceeded``, ``BackoffLimitExceeded``…), from its conditions."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Failed" and cond.get("status") == "True":
            reason = cond.get("reason") or "Failed"
            if reason == "DeadlineExceeded":
                return "time limit exceeded (activeDeadlineSeconds): the Job was stopped"
            return f"{reason}: {cond.get('message') or ''}".rstrip(": ")
    return None


def update_without_pod(
    name: str, job: dict[str, Any] | None, runner_status: dict[str, Any] | None
) -> JobUpdate:
    """A job whose pod is gone or never came: the runner's final status, else the Job's."""
    if isinstance(runner_status, dict) and runner_status.get("state") in (
        COMPLETED,
        FAILED,
        CANCELLED,
    ):
        return JobUpdate(
            status=runner_status["state"],
            exit_code=runner_status.get("exit_code"),
            reason=runner_status.get("reason"),
        )
    if job is None:
        return JobUpdate(
            status=LOST, reason=f"the Kubernetes Job {name} is gone and its result was never seen"
        )
    failure = job_failure(job)
    if failure:
        return JobUpdate(status=FAILED, reason=failure)
    return JobUpdate(status=QUEUED, reason="the Job has no pod yet (see kubectl describe job)")


# ---------------------------------------------------------------- job definitions: the CronJob

LABEL_DEFINITION_ID = "jupyter-jobs.jupyter.org/definition-id"
ANNOTATION_REVISION = "jupyter-jobs.jupyter.org/definition-revision"
#: a CronJob's name may have at most 52 characters (its controller appends 11 to name the Jobs)
CRONJOB_NAME_MAX = 52
#: the overlap policy of a definition → the CronJob's ``concurrencyPolicy``. Kubernetes has no
#: queue: ``Forbid`` skips an occurrence while the previous run goes on, and ``Replace`` would
#: kill the running one — neither waits. ``queue`` is therefore ``Forbid`` (a skipped
#: occurrence, never a killed run) and docs/kubernetes.md says so.
CONCURRENCY_POLICY = {"skip": "Forbid", "queue": "Forbid", "allow": "Allow"}
#: how late (seconds) the CronJob controller may still start an occurrence it missed (its own
#: downtime, a suspended CronJob that is resumed): later ones are skipped, never caught up in bulk
STARTING_DEADLINE = 300


def cronjob_name(definition_id: str) -> str:
    """The CronJob of a job definition: DNS-1123, at most 52 characters."""
    safe = re.sub(r"[^a-z0-9]", "", definition_id.lower())[:32] or "x"
    return f"jupyter-def-{safe}"[:CRONJOB_NAME_MAX]


def concurrency_policy(overlap: str) -> str:
    try:
        return CONCURRENCY_POLICY[overlap]
    except KeyError:
        raise ValueError(f"unknown overlap policy {overlap!r}") from None


def make_cronjob(
    *,
    definition: dict[str, Any],
    namespace: str,
    job: dict[str, Any],
    starting_deadline_seconds: int = STARTING_DEADLINE,
) -> dict[str, Any]:
    """A ``batch/v1`` CronJob that makes ``job`` (a :func:`make_job` manifest: its labels,
    annotations and spec become the ``jobTemplate``) at each occurrence of ``definition``'s
    ``schedule`` in its ``timezone`` (the CronJob's ``timeZone``, an IANA name, Kubernetes ≥ 1.27
    GA). ``overlap`` → ``concurrencyPolicy`` (:data:`CONCURRENCY_POLICY`), ``max_history`` →
    both history limits, a paused definition (``active`` false) → ``suspend: true``. The
    definition's id labels the CronJob, the Jobs and their pods (the server finds the runs by it);
    its revision is an annotation."""
    definition_id = str(definition["id"])
    meta = job.get("metadata") or {}
    labels = {**(meta.get("labels") or {}), LABEL_DEFINITION_ID: label_value(definition_id)}
    labels.pop(LABEL_JOB_ID, None)  # each run is its own job: the Job's name says which
    annotations = {
        **(meta.get("annotations") or {}),
        ANNOTATION_REVISION: str(definition.get("revision") or 1),
    }
    annotations.pop(ANNOTATION_JOB_DIR, None)
    spec = json.loads(json.dumps(job["spec"]))  # a deep copy, the caller's manifest untouched
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_labels = {
        **(template_meta.get("labels") or {}),
        LABEL_DEFINITION_ID: labels[LABEL_DEFINITION_ID],
    }
    template_labels.pop(LABEL_JOB_ID, None)
    template_meta["labels"] = template_labels
    template_annotations = dict(template_meta.get("annotations") or {})
    template_annotations.pop(ANNOTATION_JOB_DIR, None)
    template_meta["annotations"] = template_annotations
    history = max(1, min(int(definition.get("max_history") or 100), 100))
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": cronjob_name(definition_id),
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "schedule": str(definition["schedule"]),
            "timeZone": str(definition.get("timezone") or "UTC"),
            "concurrencyPolicy": concurrency_policy(str(definition.get("overlap") or "skip")),
            "suspend": not bool(definition.get("active", True)),
            "startingDeadlineSeconds": int(starting_deadline_seconds),
            "successfulJobsHistoryLimit": history,
            "failedJobsHistoryLimit": history,
            "jobTemplate": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": spec,
            },
        },
    }


def cronjob_patch(definition: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that brings an existing CronJob to ``definition``'s pause state."""
    return {
        "metadata": {"annotations": {ANNOTATION_REVISION: str(definition.get("revision") or 1)}},
        "spec": {"suspend": not bool(definition.get("active", True))},
    }


def definition_of(obj: dict[str, Any]) -> str | None:
    """The definition id a Job (or pod) made by a definition's CronJob carries, else None."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(LABEL_DEFINITION_ID)
    return str(value) if value else None


#: set by the CronJob controller on each Job it makes: the occurrence it fired (RFC 3339, UTC)
ANNOTATION_SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def run_id_of(k8s_job: dict[str, Any]) -> str | None:
    """The job id of a run made by a definition's CronJob: its Job's ``uid`` without dashes (a
    UUID: 32 hex digits, the shape of every job id). The server that records the run and the
    pod that runs it (``controller-uid`` label, through the downward API) compute the same id
    with no exchange; None without a uid."""
    uid = str((k8s_job.get("metadata") or {}).get("uid") or "").replace("-", "").lower()
    return uid if re.fullmatch(r"[0-9a-f]{32}", uid) else None


def pod_job_id(pod: dict[str, Any]) -> str | None:
    """The job id a pod belongs to: its job-id label (a one-off Job's pod), else, for a pod of
    a definition's CronJob, its Job's uid from the ``controller-uid`` label (:func:`run_id_of`)."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    job_id = labels.get(LABEL_JOB_ID)
    if job_id:
        return str(job_id)
    if not labels.get(LABEL_DEFINITION_ID):
        return None
    uid = labels.get("batch.kubernetes.io/controller-uid") or labels.get("controller-uid")
    return run_id_of({"metadata": {"uid": uid}})


def cronjob_run(k8s_job: dict[str, Any]) -> dict[str, Any] | None:
    """What a Job made by a definition's CronJob says about its run, or None when it is not
    one (no definition label, or no CronJob among its owners): ``definition_id``, ``job_name``
    (its ``backend_ref`` name), ``job_id`` (:func:`run_id_of`), ``cronjob`` (the owner's name),
    ``scheduled_for`` (the controller's annotation, an aware UTC datetime, or None) and
    ``revision`` (the definition revision the template was built from, or None). Pure: the
    building block for recording such Jobs as runs (docs/kubernetes.md, "Schedules")."""
    definition_id = definition_of(k8s_job)
    meta = k8s_job.get("metadata") or {}
    owner = next((o for o in meta.get("ownerReferences") or () if o.get("kind") == "CronJob"), None)
    if not definition_id or owner is None or not meta.get("name"):
        return None
    annotations = meta.get("annotations") or {}
    try:
        scheduled = _time(annotations.get(ANNOTATION_SCHEDULED))
    except ValueError:  # not RFC 3339: the run is still a run, of an unknown occurrence
        scheduled = None
    if scheduled is not None:
        if scheduled.tzinfo is None:
            scheduled = scheduled.replace(tzinfo=timezone.utc)
        scheduled = scheduled.astimezone(timezone.utc)
    try:
        revision: int | None = int(annotations[ANNOTATION_REVISION])
    except (KeyError, TypeError, ValueError):
        revision = None
    return {
        "definition_id": definition_id,
        "job_name": str(meta["name"]),
        "job_id": run_id_of(k8s_job),
        "cronjob": str(owner.get("name") or ""),
        "scheduled_for": scheduled,
        "revision": revision,
    }


# ------------------------------------------------------------------ sweeps: one Indexed Job

#: the pod annotation (and, from Kubernetes 1.28, label) with an Indexed Job pod's index
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def sweep_object_name(sweep_id: str) -> str:
    """The Indexed Job of a sweep: ``jupyter-sweep-<id prefix>``."""
    return f"jupyter-sweep-{sweep_id[:12]}"


def make_indexed_job(
    job: dict[str, Any], *, completions: int, parallelism: int | None, name: str | None = None
) -> dict[str, Any]:
    """A sweep's ``batch/v1`` Job from a one-run Job manifest (:func:`make_job` of the sweep,
    whose command is ``python -m jupyter_jobs.runner --array <sweep_dir>``): ``completionMode:
    Indexed``, ``completions`` = the children, ``parallelism`` = the throttle (all at once
    without one). Each pod gets ``JOB_COMPLETION_INDEX`` from Kubernetes and runs
    ``children[JOB_COMPLETION_INDEX]`` of ``sweep.json``. ``backoffLimit`` stays 0: the runner
    exits 0 when the child's command fails (the child's status says so), so a failed run never
    stops the others; a pod that fails is a runner that could not run at all."""
    if completions < 1:
        raise ValueError("an Indexed Job needs at least one completion")
    out = copy.deepcopy(job)
    if name:
        out["metadata"]["name"] = name
    out["metadata"]["labels"][LABEL_COMPONENT] = "sweep"
    out["spec"]["template"]["metadata"]["labels"][LABEL_COMPONENT] = "sweep"
    out["spec"]["completionMode"] = "Indexed"
    out["spec"]["completions"] = int(completions)
    out["spec"]["parallelism"] = int(min(parallelism or completions, completions))
    return out


def completion_index(pod: dict[str, Any]) -> int | None:
    """The index of an Indexed Job's pod (its annotation, or its label), or None."""
    meta = pod.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(COMPLETION_INDEX) or (meta.get("labels") or {}).get(
        COMPLETION_INDEX
    )
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None
