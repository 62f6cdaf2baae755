"""A thin adapter over ``kubernetes_asyncio``: plain dicts in and out, our errors, one pod watch.

:class:`KubeClient` makes exactly the calls the Kubernetes backend needs (Jobs create/get/delete,
Pods get/list/watch by label, pod log with follow, Secrets) and turns failures into the domain
errors: unreachable → :class:`EngineUnavailable`, 404 → :class:`NotFound`, 409 →
:class:`AlreadyExists`, 403 → :class:`EngineForbidden` (this server's account lacks an RBAC
permission: the admin's to grant, logged with the API server's words), other refusals (4xx) →
:class:`BadRequest` with the API server's message, anything else → :class:`EngineError`. Responses are read raw
(``_preload_content=False``) and parsed as JSON, so no model objects are built per event.

:class:`PodReflector` is the one list+watch of a namespace's pods (label-selected) that the
spawner answers ``poll`` from: it resumes from the last ``resourceVersion`` (bookmarks included)
when a watch ends or drops, and relists only on ``410 Gone``.

The ``kubernetes_asyncio`` import happens when a client is made, never when this module is
imported, and the ``ApiClient`` is created inside the running loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, Callable

from ..exceptions import (
    AlreadyExists,
    BadRequest,
    EngineError,
    EngineForbidden,
    EngineUnavailable,
    NotFound,
)

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

log = logging.getLogger("jupyter_jobs.kubernetes")


class Gone(Exception):
    """The watch's resourceVersion is too old (410): the reflector must relist."""


def find_config(kubeconfig: str = "") -> tuple[str | None, str]:
    """``("kubeconfig", path)``, ``("incluster", SA_DIR)`` or ``(None, why not)``."""
    candidates = [kubeconfig] if kubeconfig else []
    env = os.environ.get("KUBECONFIG", "")
    candidates += [p for p in env.split(os.pathsep) if p]
    candidates.append(os.path.expanduser("~/.kube/config"))
    for path in candidates:
        if os.path.isfile(path):
            return "kubeconfig", path
    if os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.isfile(os.path.join(SA_DIR, "token")):
        return "incluster", SA_DIR
    return None, (
        "no Kubernetes credentials found: no kubeconfig (KUBECONFIG, ~/.kube/config) and not "
        "running in a pod with a service account"
    )


def in_cluster_namespace() -> str | None:
    try:
        with open(os.path.join(SA_DIR, "namespace")) as f:
            return f.read().strip() or None
    except OSError:
        return None


def forbidden(op: str, message: str, body: bytes) -> EngineForbidden:
    """A 403 of the API server: this server's account may not ``op``. The user is told to ask
    their admin for the permission; the API server's own words are logged for the admin."""
    log.warning("jupyter-jobs: Kubernetes refused %s (403, RBAC): %s", op, message)
    try:
        details = json.loads(body).get("details") or {}
    except (ValueError, AttributeError):
        details = {}
    verb = op.split()[0]
    resource = str(details.get("kind") or op.partition(" ")[2] or "it")
    group = details.get("group")
    what = f"{resource}.{group}" if group else resource
    return EngineForbidden(
        f"the Kubernetes cluster refused to {op}: this server's account may not {verb} {what}."
        f" Ask your Kubernetes admin to grant it (RBAC); the server's log has the details"
    )


class KubeClient:
    """Plain-dict access to the few API endpoints used, with counted calls."""

    def __init__(self, api_client: Any, request_timeout: float = 30.0):
        from kubernetes_asyncio import client

        self.api = api_client
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.request_timeout = request_timeout
        #: calls made, by operation (the benchmark and tests read it)
        self.calls: Counter[str] = Counter()
        #: the namespace of the kubeconfig's current context, if any
        self.context_namespace: str | None = None

    @classmethod
    async def connect(
        cls, kubeconfig: str = "", context: str = "", pool_size: int = 100
    ) -> KubeClient:
        """Load credentials (kubeconfig, else in-cluster) and make a client in the running loop."""
        from kubernetes_asyncio import client, config

        kind, where = find_config(kubeconfig)
        if kind is None:
            raise EngineUnavailable(where)
        configuration = client.Configuration()
        namespace = None
        try:
            if kind == "kubeconfig":
                loader = await config.load_kube_config(
                    config_file=where,
                    context=context or None,
                    client_configuration=configuration,
                    persist_config=False,
                )
                ctx = getattr(loader, "current_context", None) or {}
                namespace = (ctx.get("context") or {}).get("namespace") if ctx else None
            else:
                config.load_incluster_config(client_configuration=configuration)
                namespace = in_cluster_namespace()
        except Exception as e:
            raise EngineUnavailable(f"cannot load Kubernetes credentials from {where}: {e}")
        configuration.connection_pool_maxsize = pool_size
        self = cls(client.ApiClient(configuration))
        self.context_namespace = namespace
        return self

    async def close(self) -> None:
        await self.api.close()

    # ------------------------------------------------------------------ plumbing

    async def _call(self, op: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call ``fn`` raw; the response object on 2xx, our error otherwise (None on 404)."""
        import aiohttp

        self.calls[op] += 1
        kw.setdefault("_request_timeout", self.request_timeout)
        try:
            resp = await fn(*args, _preload_content=False, **kw)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise EngineUnavailable(f"the Kubernetes API server is unreachable: {e or type(e)}")
        if 200 <= resp.status < 300:
            return resp
        body = await resp.read()
        resp.release()
        try:
            message = json.loads(body).get("message") or body.decode()
        except (ValueError, AttributeError):
            message = body.decode("utf-8", "replace")
        if resp.status == 403:
            raise forbidden(op, message, body)
        message = f"Kubernetes refused {op}: {message}"
        if resp.status == 404:
            raise NotFound(message)
        if resp.status == 409:
            raise AlreadyExists(message)
        if resp.status == 410:
            raise Gone(message)
        if resp.status in (400, 422):
            raise BadRequest(message)
        if resp.status in (429, 502, 503, 504):
            raise EngineUnavailable(message)
        raise EngineError(message)

    async def _json(self, op: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        resp = await self._call(op, fn, *args, **kw)
        try:
            return json.loads(await resp.read())
        finally:
            resp.release()

    async def _json_or_none(self, op: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await self._json(op, fn, *args)
        except NotFound:
            return None

    # ------------------------------------------------------------------ Jobs

    async def create_job(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("create job", self.batch.create_namespaced_job, namespace, body)

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._json_or_none("get job", self.batch.read_namespaced_job, name, namespace)

    async def delete_job(self, namespace: str, name: str, propagation: str = "Foreground") -> bool:
        """Delete a Job and (Foreground) its pods first; False when it was not there."""
        try:
            await self._json(
                "delete job",
                self.batch.delete_namespaced_job,
                name,
                namespace,
                propagation_policy=propagation,
            )
        except NotFound:
            return False
        return True

    # ------------------------------------------------------------------ CronJobs (job definitions)

    async def create_cronjob(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json(
            "create cronjob", self.batch.create_namespaced_cron_job, namespace, body
        )

    async def get_cronjob(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._json_or_none(
            "get cronjob", self.batch.read_namespaced_cron_job, name, namespace
        )

    async def replace_cronjob(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        return await self._json(
            "replace cronjob", self.batch.replace_namespaced_cron_job, name, namespace, body
        )

    async def patch_cronjob(
        self, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A merge patch (``suspend``, the revision annotation); None when it is not there."""
        try:
            return await self._json(
                "patch cronjob",
                self.batch.patch_namespaced_cron_job,
                name,
                namespace,
                patch,
                _content_type="application/merge-patch+json",
            )
        except NotFound:
            return None

    async def delete_cronjob(self, namespace: str, name: str) -> bool:
        """Delete a CronJob; the Jobs it made stay (``Orphan``: runs are jobs of their own, kept
        and deleted through the job records). False when it was not there."""
        try:
            await self._json(
                "delete cronjob",
                self.batch.delete_namespaced_cron_job,
                name,
                namespace,
                propagation_policy="Orphan",
            )
        except NotFound:
            return False
        return True

    async def list_jobs(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The Jobs that match a label selector (the runs of a definition's CronJob)."""
        data = await self._json(
            "list jobs", self.batch.list_namespaced_job, namespace, label_selector=selector
        )
        return list((data or {}).get("items") or [])

    # ------------------------------------------------------------------ Secrets

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json(
            "create secret", self.core.create_namespaced_secret, namespace, body
        )

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._json_or_none(
            "get secret", self.core.read_namespaced_secret, name, namespace
        )

    # ------------------------------------------------------------------ Nodes

    async def list_nodes(self) -> list[dict[str, Any]]:
        """Every node (for their allocatable resources); many accounts may not (403)."""
        body = await self._json("list nodes", self.core.list_node)
        return list(body.get("items") or [])

    # ------------------------------------------------------------------ Pods

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._json_or_none("get pod", self.core.read_namespaced_pod, name, namespace)

    async def list_pods(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        """The pods matching ``selector`` and the list's resourceVersion (to watch from)."""
        body = await self._json(
            "list pods", self.core.list_namespaced_pod, namespace, label_selector=selector
        )
        return list(body.get("items") or []), str(body["metadata"]["resourceVersion"])

    async def watch_pods(
        self,
        namespace: str,
        selector: str,
        resource_version: str,
        timeout_seconds: int = 300,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """``(type, pod)`` events after ``resource_version`` until the server ends the watch.

        Raises Gone when the version is too old (the server's 410, as an ERROR event or as the
        answer), EngineUnavailable when the connection fails or drops.
        """
        import aiohttp

        resp = await self._call(
            "watch pods",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=selector,
            resource_version=resource_version,
            watch=True,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout_seconds,
            _request_timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.request_timeout, sock_read=timeout_seconds + 30
            ),
        )
        if on_open is not None:
            on_open()
        try:
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(obj.get("message") or "resourceVersion too old")
                    raise EngineError(f"the pod watch failed: {obj.get('message')}")
                yield kind, obj
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as e:
            raise EngineUnavailable(f"the pod watch was cut: {e or type(e).__name__}")
        finally:
            resp.release()

    async def follow_log(
        self, namespace: str, pod: str, container: str, follow: bool = True
    ) -> AsyncIterator[bytes]:
        """The container's log as it grows; ends when the container ends (or the stream drops)."""
        import aiohttp

        resp = await self._call(
            "follow log" if follow else "read log",
            self.core.read_namespaced_pod_log,
            pod,
            namespace,
            container=container,
            follow=follow,
            _request_timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.request_timeout, sock_read=None
            ),
        )
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise EngineUnavailable(f"the log stream of {pod} was cut: {e}")
        finally:
            resp.release()

    async def copy_log(self, namespace: str, pod: str, container: str, path: str) -> None:
        """Append the container's log to ``path`` as it grows, skipping the bytes the file has
        already (a copy resumed after a cut stream or a server restart repeats nothing)."""
        have = os.path.getsize(path) if os.path.exists(path) else 0
        seen = 0
        with open(path, "ab") as out:
            async for chunk in self.follow_log(namespace, pod, container):
                skip = max(0, min(len(chunk), have - seen))
                seen += len(chunk)
                if skip < len(chunk):
                    out.write(chunk[skip:])
                    out.flush()


class PodReflector:
    """One list+watch of the pods matching a selector in a namespace, kept in :attr:`pods`.

    ``on_event(type, pod)`` is called for every change (``ADDED``, ``MODIFIED``, ``DELETED``),
    including those a relist discovers. :attr:`error` holds why the API cannot be reached (None
    while the watch is healthy); :attr:`synced` is set once the first list arrived.
    """

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        selector: str,
        on_event: Callable[[str, dict[str, Any]], None],
        timeout_seconds: int = 300,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
    ):
        self.client = client
        self.namespace = namespace
        self.selector = selector
        self.on_event = on_event
        self.timeout_seconds = timeout_seconds
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.pods: dict[str, dict[str, Any]] = {}
        self.resource_version: str | None = None
        self.error: str | None = None
        self.synced = asyncio.Event()
        self.lists = 0
        self.watches = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    @property
    def healthy(self) -> bool:
        return self.synced.is_set() and self.error is None

    def _apply(self, kind: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        if kind == "DELETED":
            self.pods.pop(name, None)
        else:
            self.pods[name] = pod
        try:
            self.on_event(kind, pod)
        except Exception:
            log.exception("jupyter-jobs: handling a pod event failed")

    async def _relist(self) -> None:
        items, rv = await self.client.list_pods(self.namespace, self.selector)
        self.lists += 1
        fresh = {p["metadata"]["name"]: p for p in items}
        for name, old in list(self.pods.items()):
            if name not in fresh:
                self._apply("DELETED", old)
        for name, pod in fresh.items():
            known = self.pods.get(name)
            if known is None:
                self._apply("ADDED", pod)
            elif known["metadata"].get("resourceVersion") != pod["metadata"].get("resourceVersion"):
                self._apply("MODIFIED", pod)
        self.resource_version = rv
        self.error = None
        self.synced.set()

    def _opened(self) -> None:
        self.error = None

    async def _run(self) -> None:
        delay = self.retry_delay
        while True:
            try:
                if self.resource_version is None:
                    await self._relist()
                self.watches += 1
                async for kind, obj in self.client.watch_pods(
                    self.namespace,
                    self.selector,
                    self.resource_version or "",
                    self.timeout_seconds,
                    on_open=self._opened,
                ):
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if kind != "BOOKMARK":
                        self._apply(kind, obj)
                    if rv:
                        self.resource_version = rv
                delay = self.retry_delay  # a watch that ended normally: resume at once
            except Gone:
                log.info("jupyter-jobs: pod watch expired (410): relisting")
                self.resource_version = None
            except (EngineUnavailable, EngineError, BadRequest, NotFound) as e:
                self.error = e.message
                log.warning("jupyter-jobs: %s; retrying in %.0f s", e.message, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug must not stop the watch for good
                self.error = f"pod watch failed: {e}"
                log.exception("jupyter-jobs: pod watch failed")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
