"""KubernetesSpawner: launcher jobs and remote kernels as ``batch/v1`` Jobs, one pod watch.

For JupyterHub on Kubernetes (zero-to-jupyterhub, kubespawner); options (kubespawner's names) are
in :mod:`.k8s_config`. Enabled without config when a kubeconfig or an in-cluster service account
is found; in a pod it inherits the server pod's image and volumes (same files and packages).

- Manifests come from pure builders (:mod:`.k8s_objects`), the API through a thin adapter
  (:mod:`.k8s_client`); nothing connects at import time.
- One watch (:class:`~.k8s_client.PodReflector`) sees all of the user's job pods and pushes every
  change with :attr:`notify`; :meth:`poll` answers from its cache, with no call per job. API
  unreachable → EngineUnavailable: nothing is marked failed.
- With jupyter-jobs in the image (the server's own), the pod runs the runner on the shared job
  directory; otherwise the command runs directly and the pod log is copied to ``output.log``.
- Cancel deletes the Job (foreground). A restarted server re-attaches through the watch's list.
- A job definition is a CronJob; the Jobs it makes are recorded as runs (:mod:`.k8s_schedule`).
- A sweep is one Indexed Job, its pods mapped to the children by completion index
  (:mod:`.k8s_sweep`).
- Kernels: fixed ports, the key in a Secret owned by the Job, the pod IP from the watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import Any

from traitlets import Float, default

from .. import jobfiles
from ..exceptions import AlreadyExists, BadRequest, EngineUnavailable, JobsError, NotInstalled
from ..models import CANCELLED, CANCELLING, FINAL_STATUSES, Job, JobUpdate
from . import k8s_limits, k8s_schedule, k8s_sweep
from . import k8s_objects as objects
from .base import LogReader, Spawner
from .k8s_client import KubeClient, PodReflector, find_config, in_cluster_namespace
from .k8s_config import EXTRA_KEYS, MERGED_KEYS, KubernetesConfig
from .slurm_limits import ClusterLimits

#: the reason given when credentials exist but the client library is not installed
NOT_INSTALLED = (
    "the Kubernetes support is not installed: pip install 'jupyter-jobs[kubernetes]'"
    " and restart the server"
)


def missing_extra() -> str | None:
    """Why ``kubernetes_asyncio`` (the ``[kubernetes]`` extra) cannot be imported, or None."""
    try:
        import kubernetes_asyncio  # noqa: F401
    except ImportError as e:
        return str(e) or "kubernetes_asyncio cannot be imported"
    return None


class KubernetesSpawner(KubernetesConfig, Spawner):  # type: ignore[metaclass]
    """Runs jobs (and remote kernels) as Kubernetes Jobs."""

    name = "kubernetes"
    supported_resources = ("cpus", "memory", "gpus", "time_limit", "image", "extra")
    supports_kernels = True
    addresses_kernels = True
    #: spec.json is always written: the runner uses it when the image has jupyter-jobs
    uses_runner = True

    limits_ttl = Float(
        300.0,
        help="""Seconds the nodes' allocatable CPUs, memory and GPUs (one node list) are kept
        before they are read again, when next needed. Requests no node can hold are refused at
        once; when this server's account may not list nodes, nothing is checked.""",
    ).tag(config=True)

    @default("display_name")
    def _default_display_name(self) -> str:
        return "Kubernetes"

    @default("poll_interval")
    def _default_poll_interval(self) -> float:
        return 5.0  # poll answers from the watch's cache; the watch pushes changes at once

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.client: KubeClient | None = None
        self.reflector: PodReflector | None = None
        self._ns = ""
        self._why_not: str | None = None
        self._inherited: dict[str, Any] | None = None
        self._cancelling: set[str] = set()
        self._sent: dict[str, tuple] = {}
        self._log_tasks: dict[str, asyncio.Task] = {}
        self._log_done: set[str] = set()
        self._job_checks: dict[str, float] = {}
        self._tasks: set[asyncio.Task] = set()
        self._started = False
        self._connect_lock = asyncio.Lock()
        self._last_connect = 0.0
        self._limits: tuple[float, ClusterLimits | None] | None = None
        #: the children of sweeps' Indexed Jobs (:mod:`.k8s_sweep`)
        self.sweeps = k8s_sweep.SweepPods()
        #: job definitions' CronJobs and their runs (:mod:`.k8s_schedule`)
        self.schedules = k8s_schedule.Schedules(self)

    # ------------------------------------------------------------------ lifecycle

    async def check_available(self) -> tuple[bool, str | None]:
        ok, reason, _detail = await self.availability()
        return ok, reason

    async def availability(self) -> tuple[bool, str | None, str | None]:
        if self.client is None:
            kind, why = find_config(self.kubeconfig)
            if kind is None:
                return False, "no Kubernetes credentials found", why
            missing = missing_extra()
            if missing:
                return False, NOT_INSTALLED, missing
            if self._started:
                await self._connect_again()  # credentials appeared since start, or a retry is due
            if self.client is None:
                if self._why_not:
                    return False, "cannot connect to Kubernetes", self._why_not
                return False, "connecting to Kubernetes", None
        if self.reflector is not None and self.reflector.error:
            return False, "the Kubernetes API server does not answer", self.reflector.error
        return True, None, None

    async def _connect_again(self) -> None:
        """Connect when credentials appeared after start (or the first connect failed): at most
        once every ``max_retry_delay`` seconds, one attempt at a time."""
        if self._connect_lock.locked():
            return
        async with self._connect_lock:
            now = time.monotonic()
            if self.client is not None or now - self._last_connect < self.max_retry_delay:
                return
            self._last_connect = now
            await self._connect()
            if self.client is not None:
                self.log.info("jupyter-jobs: Kubernetes backend connected (credentials found)")

    async def start(self) -> None:
        self._started = True
        self._last_connect = time.monotonic()
        await self._connect()

    async def _connect(self) -> None:
        kind, why = find_config(self.kubeconfig)
        if kind is None:
            self._why_not = why
            self.log.info("jupyter-jobs: Kubernetes backend off: %s", why)
            return
        missing = missing_extra()
        if missing:
            self._why_not = f"{NOT_INSTALLED} ({missing})"
            self.log.warning("jupyter-jobs: Kubernetes backend off: %s", self._why_not)
            return
        try:
            self.client = await KubeClient.connect(
                self.kubeconfig, self.context, pool_size=self.max_log_streams + 20
            )
        except EngineUnavailable as e:
            self._why_not = e.message
            return
        self.client.request_timeout = self.request_timeout
        self._ns = (
            self.namespace
            or (in_cluster_namespace() if kind == "incluster" else None)
            or self.client.context_namespace
            or "default"
        )
        self.reflector = PodReflector(
            self.client,
            self._ns,
            objects.selector(objects.base_labels(self.user)),
            self._on_pod_event,
            timeout_seconds=self.watch_timeout,
            retry_delay=self.retry_delay,
            max_retry_delay=self.max_retry_delay,
        )
        self.reflector.start()
        try:
            await asyncio.wait_for(asyncio.shield(self.reflector.synced.wait()), 5)
        except asyncio.TimeoutError:
            self.log.warning(
                "jupyter-jobs: Kubernetes API not answering yet: %s", self.reflector.error
            )

    async def stop(self) -> None:
        self._started = False
        for task in [*self._log_tasks.values(), *self._tasks]:
            task.cancel()
        if self.reflector is not None:
            await self.reflector.stop()
        if self.client is not None:
            await self.client.close()
        self.client = self.reflector = None

    def _api(self) -> KubeClient:
        if self.client is None:
            why = self._why_not or "the Kubernetes backend is not started"
            raise NotInstalled(why) if missing_extra() else EngineUnavailable(why)
        return self.client

    # ------------------------------------------------------------------ profiles

    def default_profiles(self) -> list[dict[str, Any]]:
        same = self.inherit_server_pod and not self.image
        return [
            {
                "name": "default",
                "display_name": "Same image as this server" if same else "Default",
                "description": "A pod with the server's image, files and packages" if same else "",
                "resources": {},
                "kernels": True,
            }
        ]

    def validate_resources(self, profile: dict[str, Any], overrides: Any) -> dict[str, Any]:
        if isinstance(overrides, dict):
            extra = overrides.get("extra")
            if isinstance(extra, dict):
                for key in extra:
                    if key not in self.user_extra_keys:
                        raise BadRequest(
                            f"Extra options: {key} cannot be set by users on this server",
                            field="resources.extra",
                        )
            image = overrides.get("image")
            if image and self.allowed_images and image not in self.allowed_images:
                raise BadRequest(
                    f"image {image!r} is not allowed; allowed: {', '.join(self.allowed_images)}",
                    field="resources.image",
                )
        merged = super().validate_resources(profile, overrides)
        for key in merged.get("extra") or {}:
            if key not in EXTRA_KEYS:
                raise BadRequest(
                    f"unknown Kubernetes option {key!r}; known: {', '.join(EXTRA_KEYS)}",
                    field="resources.extra",
                )
        return merged

    async def cluster_limits(self) -> ClusterLimits | None:
        """The largest node's allocatable CPUs, memory and GPUs, read at most once every
        ``limits_ttl`` seconds; None when the node list cannot be read (RBAC: then the
        scheduler alone decides)."""
        cached = self._limits
        if cached and time.monotonic() - cached[0] < self.limits_ttl:
            return cached[1]
        if self.client is None:
            return None
        try:
            nodes = await self.client.list_nodes()
        except JobsError as e:  # 403 (RBAC), 404, unreachable: skip the check
            self.log.info("jupyter-jobs: no node sizes from Kubernetes: %s", e.message)
            found = None
        else:
            found = k8s_limits.cluster_limits(nodes, self.gpu_resource_key)
        self._limits = (time.monotonic(), found)
        return found

    async def limits(self) -> dict[str, dict[str, Any]] | None:
        found = await self.cluster_limits()
        return found.to_dict() if found else None

    async def check_request(self, resources: dict[str, Any]) -> None:
        found = await self.cluster_limits()
        if found is not None:
            found.check(resources)

    def _image_of(self, resources: dict[str, Any]) -> str | None:
        return resources.get("image") or self.image or (self._inherited or {}).get("image")

    def _runs_runner(self, resources: dict[str, Any]) -> bool:
        extra = resources.get("extra") or {}
        if "runner_in_image" in extra:
            return bool(extra["runner_in_image"])
        if self.runner_in_image is not None and (resources.get("image") or self.image):
            return self.runner_in_image
        # only the server's own image is known to have jupyter-jobs
        return not (resources.get("image") or self.image) and self._inherited is not None

    def interpreter(self, profile: dict[str, Any], language: str) -> str | None:
        if language == "python" and not profile.get("python"):
            own = not ((profile.get("resources") or {}).get("image") or self.image)
            return sys.executable if own and self.inherit_server_pod else "python3"
        return super().interpreter(profile, language)

    def runner_spec(self, job: Job) -> dict[str, Any]:
        res = job.resources
        return {k: res[k] for k in ("time_limit", "memory") if res.get(k)}

    # ------------------------------------------------------------------ building the Job

    async def _inherit(self) -> None:
        if not self.inherit_server_pod or self._inherited is not None:
            return
        pod = await self._api().get_pod(self._ns, self.server_pod_name)
        if pod is None:
            raise EngineUnavailable(
                f"cannot inherit from the server pod: pod {self.server_pod_name!r} not found in"
                f" namespace {self._ns!r} (set c.KubernetesSpawner.server_pod_name)"
            )
        self._inherited = objects.inherit_from_pod(pod, self.server_container_name)

    def build_job(self, job: Job, secret_name: str | None = None) -> dict[str, Any]:
        """The Job manifest for ``job`` (pure, given the inherited server pod)."""
        res = job.resources
        extra = res.get("extra") or {}
        image = self._image_of(res)
        if not image:
            raise BadRequest(
                "no image for this job: set resources.image in the profile or"
                " c.KubernetesSpawner.image",
                field="resources.image",
            )
        inherited = self._inherited or {}
        own_image = image == inherited.get("image")
        kernel = job.kind == "kernel"
        # a kernel runs directly (its connection file comes from a Secret, not the job dir)
        runner = self._runs_runner(res) and not kernel
        if runner:
            command = self.runner_argv(job)
            env = dict(extra.get("environment") or self.environment)
        else:
            command = list(job.argv or [*job.command, *job.args])
            if kernel:
                command = objects.kernel_command(command, self._kernel_grace(job))
            env = {**(extra.get("environment") or self.environment), **job.env}
        working_dir = None
        if not runner:
            working_dir = self.working_dir or (job.state.get("cwd") if inherited else None)
        volumes = [*inherited.get("volumes", []), *self.volumes, *extra.get("volumes", [])]
        mounts = [
            *inherited.get("volume_mounts", []),
            *self.volume_mounts,
            *extra.get("volume_mounts", []),
        ]
        ports = None
        if kernel:
            for volume, mount in (
                objects.kernel_volume(secret_name or objects.kernel_secret_name(job.id)),
                objects.kernel_runtime_volume(),
            ):
                volumes.append(volume)
                mounts.append(mount)
            ports = {k.replace("_port", ""): v for k, v in self.kernel_ports.items()}
        # the profile's dict options are merged over the spawner's
        merged: dict[str, Any] = {k: {**getattr(self, k), **extra.get(k, {})} for k in MERGED_KEYS}
        time_limit = res.get("time_limit")
        if time_limit and runner:
            time_limit += 60  # the runner stops the job first, with its own message
        return objects.make_job(
            name=objects.job_object_name(job.id),
            namespace=self._ns,
            image=image,
            command=command,
            job_id=job.id,
            user=self.user,
            display_name=job.name,
            component="kernel" if kernel else "job",
            env=env,
            working_dir=working_dir,
            cpus=res.get("cpus"),
            memory=res.get("memory"),
            gpus=res.get("gpus"),
            gpu_resource_key=self.gpu_resource_key,
            time_limit=time_limit,
            ttl_seconds_after_finished=self.ttl_seconds_after_finished,
            node_selector=extra.get("node_selector", self.node_selector),
            tolerations=extra.get("tolerations", self.tolerations),
            volumes=volumes,
            volume_mounts=mounts,
            service_account=extra.get("service_account", self.service_account) or None,
            image_pull_policy=self.image_pull_policy
            or (inherited.get("image_pull_policy") if own_image else None),
            image_pull_secrets=[*self.image_pull_secrets, *inherited.get("image_pull_secrets", [])],
            pod_security_context=inherited.get("pod_security_context"),
            container_security_context=inherited.get("container_security_context"),
            ports=ports,
            job_dir=job.job_dir,
            runner=runner,
            **merged,
        )

    # ------------------------------------------------------------------ the engine

    async def submit(self, job: Job) -> JobUpdate:
        api = self._api()
        await self._inherit()
        connection = self._kernel_connection_file(job) if job.kind == "kernel" else None
        try:
            manifest = self.build_job(job)
        except ValueError as e:  # extra_pod_config with an unknown field
            raise BadRequest(str(e), field="resources.extra")
        name = manifest["metadata"]["name"]
        try:
            created = await api.create_job(self._ns, manifest)
        except AlreadyExists:
            created = await api.get_job(self._ns, name) or manifest  # a retried submit
        if connection is not None:
            try:
                await self._create_kernel_secret(job, connection, created)
            except BaseException:
                with contextlib.suppress(Exception):  # no kernel pod without its key
                    await api.delete_job(self._ns, name, "Background")
                raise
        self._job_checks[job.id] = time.monotonic()
        return JobUpdate(
            status="queued",
            backend_ref=f"{self._ns}/{name}",
            state={
                "namespace": self._ns,
                "job_name": name,
                "submitted": time.time(),
                "runner": manifest["spec"]["template"]["metadata"]["annotations"][
                    objects.ANNOTATION_RUNNER
                ]
                == "true",
            },
        )

    def _pods_by_job(self) -> dict[str, dict[str, Any]]:
        """The newest pod of each job in the watch's cache."""
        out: dict[str, dict[str, Any]] = {}
        for pod in self.reflector.pods.values() if self.reflector else ():
            # a sweep's pod: the child at its index; a CronJob's: its Job's uid
            job_id = (
                self.sweeps.job_of(pod) if k8s_sweep.is_sweep_pod(pod) else objects.pod_job_id(pod)
            )
            if not job_id:
                continue
            old = out.get(job_id)
            if old is None or pod["metadata"].get("creationTimestamp", "") >= old["metadata"].get(
                "creationTimestamp", ""
            ):
                out[job_id] = pod
        return out

    def _check_healthy(self) -> PodReflector:
        self._api()
        assert self.reflector is not None
        if not self.reflector.healthy:
            raise EngineUnavailable(
                self.reflector.error or "waiting for the first answer of the Kubernetes API"
            )
        return self.reflector

    async def poll(self, jobs: list[Job]) -> dict[str, JobUpdate]:
        self._check_healthy()
        pods = self._pods_by_job()
        out: dict[str, JobUpdate] = {}
        for job in jobs:
            if job.status == CANCELLING:
                self._cancelling.add(job.id)
            pod = pods.get(job.id)
            if pod is not None:
                update = self._update_for(job.id, pod)
                if update is not None and self._differs(job, update):
                    out[job.id] = update
            else:
                if k8s_sweep.is_array_child(job):
                    update = await k8s_sweep.without_pod(self, job)
                else:
                    update = await self._without_pod(job)
                if update is not None:
                    out[job.id] = update
        return out

    async def reattach(self, job: Job) -> JobUpdate | None:
        if self.reflector is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.reflector.synced.wait()), 5)
            except asyncio.TimeoutError:
                pass
        if job.state.get("submitted") and job.id not in self._job_checks:
            self._job_checks[job.id] = time.monotonic() - self.missing_pod_grace
        update = (await self.poll([job])).get(job.id)
        task = self._log_tasks.get(job.id)
        if update is None and task is not None and self._pod_is_final(job.id):
            # it ended while the server was away: copy its log, then report the end
            try:
                await asyncio.wait_for(asyncio.shield(task), 30)
            except (asyncio.TimeoutError, Exception):
                pass
            update = (await self.poll([job])).get(job.id)
        return update

    def _pod_is_final(self, job_id: str) -> bool:
        pod = self._pods_by_job().get(job_id)
        return pod is not None and pod["status"].get("phase") in ("Succeeded", "Failed")

    async def cancel(self, job: Job) -> JobUpdate | None:
        api = self._api()
        self._cancelling.add(job.id)
        if k8s_sweep.is_array_child(job):  # one index of a sweep's Indexed Job
            return await k8s_sweep.cancel_child(self, job)
        name = job.state.get("job_name") or objects.job_object_name(job.id)
        namespace = job.state.get("namespace") or self._ns
        pod = self._pods_by_job().get(job.id)
        if pod is not None:
            update = objects.pod_update(pod)
            if update.status in FINAL_STATUSES:
                if job.kind == "kernel":  # its Secret (the key) goes with the Job now
                    await api.delete_job(namespace, name, "Background")
                return self._update_for(job.id, pod)  # it ended before the cancel arrived
        existed = await api.delete_job(namespace, name, "Foreground")
        if not existed or pod is None:
            return JobUpdate(status=CANCELLED, reason="cancelled")
        return None  # the watch reports the pod's end

    async def cleanup(self, job: Job) -> None:
        if self.client is None or await k8s_sweep.cleanup(self, job):
            return
        name = job.state.get("job_name") or objects.job_object_name(job.id)
        await self.client.delete_job(job.state.get("namespace") or self._ns, name, "Background")
        self._forget(job.id)

    def _forget(self, job_id: str) -> None:
        self._sent.pop(job_id, None)
        self._cancelling.discard(job_id)
        self._log_done.discard(job_id)
        self._job_checks.pop(job_id, None)

    # ------------------------------------------------------------------ job definitions: CronJobs

    def schedule_capability(self) -> str:
        return "engine"  # a CronJob per definition (:mod:`.k8s_schedule`)

    async def arrange_next_run(self, definition: dict[str, Any], occurrence: Any) -> None:
        await self.schedules.arrange(definition)

    async def withdraw_runs(self, definition: dict[str, Any]) -> None:
        await self.schedules.withdraw(definition)

    async def definition_tick(self, record: dict[str, Any], manager: Any) -> None:
        """Each look at the definitions: the CronJob in step, the runs it made recorded."""
        await self.schedules.tick(record, manager)

    # ------------------------------------------------------------------ sweeps: one Indexed Job

    #: a sweep is one Indexed Job (:mod:`.k8s_sweep`, :mod:`jupyter_jobs.sweeps`)
    supports_arrays = True

    async def submit_array(
        self, sweep: Job, children: list[Job], throttle: int | None
    ) -> dict[str, JobUpdate] | None:
        return await k8s_sweep.submit_array(self, sweep, children, throttle)

    async def cancel_array(self, array_id: str) -> bool:
        return await k8s_sweep.cancel_array(self, array_id)

    # ------------------------------------------------------------------ reading the watch

    @staticmethod
    def _differs(job: Job, update: JobUpdate) -> bool:
        return any(
            getattr(update, f) is not None and getattr(update, f) != getattr(job, f)
            for f in ("status", "exit_code", "reason", "host")
        ) or (update.clear_reason and job.reason is not None)

    def _update_for(self, job_id: str, pod: dict[str, Any]) -> JobUpdate | None:
        """The job's update from its pod; None while a direct job's log is still being copied."""
        ann = pod["metadata"].get("annotations") or {}
        job_dir = self.sweeps.job_dir_of(pod, job_id) or self.schedules.run_dir(pod, job_id)
        runner = ann.get(objects.ANNOTATION_RUNNER) == "true"
        phase = (pod.get("status") or {}).get("phase")
        runner_status = None
        if runner and job_dir and phase in ("Succeeded", "Failed"):
            runner_status = jobfiles.read_status(job_dir)
        limits = (pod["spec"]["containers"][0].get("resources") or {}).get("limits") or {}
        update = objects.kernel_guard_update(
            pod, objects.pod_update(pod, runner_status, limits.get("memory"))
        )
        if job_id in self._cancelling and (
            pod["metadata"].get("deletionTimestamp") or update.status in FINAL_STATUSES
        ):
            update.status, update.reason = CANCELLED, "cancelled"
        if not runner and job_dir and phase != "Pending" and self._owns(job_id):
            self._ensure_log(job_id, pod, job_dir)
            if update.status in FINAL_STATUSES and job_id not in self._log_done:
                return None
        return update

    def _owns(self, job_id: str) -> bool:
        """Whether this server owns the job (only the owner copies a direct pod's log: every
        server of a job root watches the same pods, and two copies would append twice). True
        with no manager (a spawner driven on its own)."""
        manager: Any = self.parent
        active = getattr(manager, "active", None)
        if not isinstance(active, dict):
            return True
        job = active.get(job_id)
        return job is not None and bool(manager.mine(job))

    def _on_pod_event(self, kind: str, pod: dict[str, Any]) -> None:
        job_id = self.sweeps.job_of(pod) if k8s_sweep.is_sweep_pod(pod) else objects.pod_job_id(pod)
        if not job_id or self.notify is None:
            return
        if kind == "DELETED":
            last = self._sent.get(job_id)
            if last and last[0] in FINAL_STATUSES:
                return
            if job_id in self._cancelling:
                self._push(job_id, JobUpdate(status=CANCELLED, reason="cancelled"))
            elif k8s_sweep.is_sweep_pod(pod):
                self._spawn(k8s_sweep.explain_deleted(self, job_id, pod))
            else:  # deleted under us (activeDeadlineSeconds, someone's kubectl): ask the Job why
                self._job_checks[job_id] = float("-inf")
                self._spawn(self._explain_deleted(job_id, pod))
            return
        update = self._update_for(job_id, pod)
        if update is not None:
            self._push(job_id, update)

    def _push(self, job_id: str, update: JobUpdate) -> None:
        key = (update.status, update.exit_code, update.reason, update.host)
        if self._sent.get(job_id) == key:
            return
        self._sent[job_id] = key
        assert self.notify is not None
        self.notify(job_id, update)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _explain_deleted(self, job_id: str, pod: dict[str, Any]) -> None:
        ann = pod["metadata"].get("annotations") or {}
        fake = Job(
            id=job_id,
            name="",
            kind="",
            backend=self.name,
            profile="",
            job_dir=ann.get(objects.ANNOTATION_JOB_DIR, ""),
            state={"job_name": pod["metadata"]["labels"].get("job-name")},
        )
        try:
            update = await self._without_pod(fake)
        except Exception as e:  # the poll will try again
            self.log.warning("jupyter-jobs: reading Job of %s: %s", job_id, e)
            return
        if update is not None:
            self._push(job_id, update)

    async def _without_pod(self, job: Job) -> JobUpdate | None:
        """A job whose pod is not in the cache: read its Job (rarely: once per grace period)."""
        if job.id in self._cancelling:
            return JobUpdate(status=CANCELLED, reason="cancelled")
        last = self._job_checks.get(job.id)
        if last is None:
            self._job_checks[job.id] = time.monotonic()
            return None
        if time.monotonic() - last < self.missing_pod_grace:
            return None
        self._job_checks[job.id] = time.monotonic()
        name = job.state.get("job_name") or objects.job_object_name(job.id)
        k8s_job = await self._api().get_job(job.state.get("namespace") or self._ns, name)
        status = jobfiles.read_status(job.job_dir) if job.job_dir else None
        return objects.update_without_pod(name, k8s_job, status)

    # ------------------------------------------------------------------ logs of direct jobs

    def log_reader(self, job: Job) -> LogReader:
        """Runner jobs write ``output.log`` on the shared volume; direct ones get the pod log
        copied there by :meth:`_follow_log`."""
        return LogReader(os.path.join(job.job_dir, jobfiles.LOG))

    def _ensure_log(self, job_id: str, pod: dict[str, Any], job_dir: str) -> None:
        if job_id in self._log_tasks or job_id in self._log_done:
            return
        final = pod["status"].get("phase") in ("Succeeded", "Failed")
        if len(self._log_tasks) >= self.max_log_streams and not final:
            return  # read once it ends
        task = asyncio.ensure_future(self._follow_log(job_id, pod, job_dir))
        self._log_tasks[job_id] = task

    async def _follow_log(self, job_id: str, pod: dict[str, Any], job_dir: str) -> None:
        """Append the pod's log to ``output.log``, resuming after what is there already."""
        path = os.path.join(job_dir, jobfiles.LOG)
        name = pod["metadata"]["name"]
        delay = self.retry_delay
        try:
            while True:
                try:
                    await self._api().copy_log(self._ns, name, objects.CONTAINER, path)
                except EngineUnavailable as e:
                    self.log.info("jupyter-jobs: log of %s: %s; retrying", name, e.message)
                except BadRequest:
                    pass  # container not started yet, or already removed
                current = self.reflector.pods.get(name) if self.reflector else None
                if current is None or current["status"].get("phase") in ("Succeeded", "Failed"):
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
        finally:
            self._log_tasks.pop(job_id, None)
            self._log_done.add(job_id)
        current = self.reflector.pods.get(name) if self.reflector else None
        update = self._update_for(job_id, current or pod)
        # a pod deleted meanwhile (a cancel): its last state came with the watch's events, and
        # the one this copy started with is stale (running) unless it was final already
        if update is None or (current is None and update.status not in FINAL_STATUSES):
            return
        if self.notify is not None:
            self._push(job_id, update)

    # ------------------------------------------------------------------ remote kernels

    def _kernel_connection_file(self, job: Job) -> dict[str, Any]:
        """The connection file the provisioner wrote (``-f FILE`` in the kernel's argv, under
        ``job_root``): its key and signature scheme go into the Secret; the ports are ours."""
        argv = list(job.argv or job.command)
        try:
            path = os.path.realpath(argv[objects.connection_file_arg(argv)])
        except ValueError as e:
            raise BadRequest(str(e), field="command")
        root = os.path.realpath(self.job_root or job.job_dir)
        info = jobfiles.read_json(path) if path.startswith(root + os.sep) else None
        if not isinstance(info, dict) or not info.get("key"):
            raise BadRequest(
                "a remote kernel needs its connection file (with its key) under the job root",
                field="command",
            )
        return info

    async def _create_kernel_secret(
        self, job: Job, info: dict[str, Any], created: dict[str, Any]
    ) -> str:
        """The kernel's connection file (key included) in a Secret owned by the Job."""
        secret = objects.make_kernel_secret(
            job.id, self._ns, self.user, info, self.kernel_ports, created
        )
        await self._api().create_secret(self._ns, secret)
        return secret["metadata"]["name"]

    @staticmethod
    def _kernel_grace(job: Job) -> float:
        """The kernel's ``server_grace`` (in the job's spec.json, as the runner reads it)."""
        spec = jobfiles.read_json(os.path.join(job.job_dir, jobfiles.SPEC)) if job.job_dir else None
        try:
            return float((spec or {}).get("server_grace") or 0)
        except (TypeError, ValueError):
            return 0.0

    def pod_ip(self, job_id: str) -> str | None:
        """The kernel pod's IP once the watch has seen it (None before)."""
        pod = self._pods_by_job().get(job_id)
        return objects.pod_ip(pod) if pod else None

    def kernel_connection_info(self, job: Job) -> dict[str, Any] | None:
        """Where the kernel of ``job`` listens: its pod IP and the fixed ports (no key)."""
        ip = self.pod_ip(job.id)
        return {"ip": ip, "transport": "tcp", **self.kernel_ports} if ip else None
