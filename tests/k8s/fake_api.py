"""A loopback fake of the Kubernetes API server: exactly the endpoints jupyter-jobs uses.

Tornado on 127.0.0.1, driven by the real ``kubernetes_asyncio`` client. Implemented:

- ``batch/v1`` Jobs: create (a fake Job controller makes its one pod; an Indexed Job's, at
  most ``parallelism`` pods, ``fake_indexed.py``), get, delete (with
  ``propagationPolicy``; Foreground deletes the pod first, and owned Secrets are collected);
- Pods: get, list and watch by ``labelSelector`` (equality and existence terms), watches resumed
  from ``resourceVersion`` (``410 Gone`` once history is compacted), bookmarks, ``timeoutSeconds``;
- the pod log, with ``follow`` streaming what the test appends until the container ends;
- Secrets: create, get, delete.

Tests drive the cluster side: pod phases and container states, the scheduler's message,
appended log lines, dropped watches, compaction (410), and the whole server going away. Every
request is counted by operation in :attr:`FakeKube.calls` (for assertions and the benchmark).
Requests need ``Authorization: Bearer <token>``, as a real API server does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import tornado.httpserver
import tornado.iostream
import tornado.web

try:
    from .fake_cluster import FakeCluster, matches, merge_patch, status_body
except ImportError:  # run as a script
    from fake_cluster import FakeCluster, matches, merge_patch, status_body  # type: ignore[no-redef]

TOKEN = "fake-token"


def flag(value: str | None) -> bool:
    """A boolean query parameter, read as Go's ``strconv.ParseBool`` does (the client: True)."""
    return (value or "") in ("1", "t", "T", "true", "TRUE", "True")


class FakeKube(FakeCluster):
    """The fake cluster served over HTTP on 127.0.0.1 (``url``, ``write_kubeconfig``)."""

    def __init__(self, validate: bool = True):
        super().__init__()
        #: validate created objects against the official schema (as admission would refuse)
        self.validate = validate
        #: the nodes ``GET /api/v1/nodes`` lists (None: 404); ``nodes_forbidden``: 403 (RBAC)
        self.nodes: list[dict[str, Any]] | None = None
        self.nodes_forbidden = False
        self.port = 0
        self.server: tornado.httpserver.HTTPServer | None = None

    # ------------------------------------------------------------------ lifecycle

    def app(self) -> tornado.web.Application:
        ns = r"/namespaces/([^/]+)"
        return tornado.web.Application(
            [
                (rf"/apis/batch/v1{ns}/jobs", JobsHandler, {"kube": self}),
                (rf"/apis/batch/v1{ns}/jobs/([^/]+)", JobHandler, {"kube": self}),
                (rf"/apis/batch/v1{ns}/cronjobs", CronJobsHandler, {"kube": self}),
                (rf"/apis/batch/v1{ns}/cronjobs/([^/]+)", CronJobHandler, {"kube": self}),
                (rf"/api/v1{ns}/pods", PodsHandler, {"kube": self}),
                (rf"/api/v1{ns}/pods/([^/]+)", PodHandler, {"kube": self}),
                (rf"/api/v1{ns}/pods/([^/]+)/log", LogHandler, {"kube": self}),
                (rf"/api/v1{ns}/secrets", SecretsHandler, {"kube": self}),
                (rf"/api/v1{ns}/secrets/([^/]+)", SecretHandler, {"kube": self}),
                (r"/api/v1/nodes", NodesHandler, {"kube": self}),
                (r".*", NotFoundHandler, {"kube": self}),
            ]
        )

    async def start(self) -> None:
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        self.server = tornado.httpserver.HTTPServer(self.app())
        self.server.listen(self.port, "127.0.0.1")

    async def stop(self) -> None:
        """Stop listening and cut every open connection (watches and log streams included)."""
        if self.server is not None:
            self.server.stop()
            for h in list(self._watch_handlers):
                h.abort()
            await self.server.close_all_connections()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: str, namespace: str = "default") -> str:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": TOKEN}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "fake", "namespace": namespace},
                }
            ],
            "current-context": "fake",
        }
        with open(path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        return path


class BaseHandler(tornado.web.RequestHandler):
    op = ""

    def initialize(self, kube: FakeKube) -> None:
        self.kube = kube

    def prepare(self) -> None:
        if self.request.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.fail(401, "Unauthorized", "Unauthorized")
            return
        self.kube.calls[f"{self.request.method} {self.op_name()}"] += 1

    def op_name(self) -> str:
        return self.op

    def fail(self, code: int, reason: str, message: str) -> None:
        self.set_status(code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(status_body(code, reason, message)))

    def send(self, obj: Any, code: int = 200) -> None:
        self.set_status(code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(obj))

    def body(self) -> dict[str, Any]:
        try:
            return json.loads(self.request.body or b"{}")
        except ValueError:
            return {}

    def check_valid(self, obj: dict[str, Any]) -> bool:
        if not self.kube.validate:
            return True
        import kubernetes_validate

        try:
            kubernetes_validate.validate(obj, "1.37.0", strict=True)
        except Exception as e:
            self.fail(422, "Invalid", f"{obj.get('kind')} is invalid: {getattr(e, 'message', e)}")
            return False
        return True


class StreamingHandler(BaseHandler):
    """A long answer (watch, log follow) that the client, or a test dropping it, can cut."""

    _closed = False

    def on_connection_close(self) -> None:
        self._closed = True

    def abort(self) -> None:
        self._closed = True
        stream = self.request.connection.stream
        if not stream.closed():
            stream.close()


class NotFoundHandler(BaseHandler):
    op = "unknown"

    def get(self) -> None:
        self.fail(404, "NotFound", f"the server could not find {self.request.path}")

    post = delete = put = patch = get


class NodesHandler(BaseHandler):
    op = "nodes"

    def get(self) -> None:
        if self.kube.nodes_forbidden:
            self.fail(
                403, "Forbidden", 'nodes is forbidden: User "alice" cannot list resource "nodes"'
            )
        elif self.kube.nodes is None:
            self.fail(404, "NotFound", "the server could not find the requested resource")
        else:
            self.send({"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                       "items": self.kube.nodes})  # fmt: skip


class JobsHandler(BaseHandler):
    op = "jobs"

    def post(self, ns: str) -> None:
        body = self.body()
        if not self.check_valid(body):
            return
        name = body.get("metadata", {}).get("name")
        if (ns, name) in self.kube.jobs:
            self.fail(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
            return
        self.send(self.kube.create_job(ns, body), 201)

    def get(self, ns: str) -> None:
        selector = self.get_query_argument("labelSelector", None)
        items = [
            j
            for (n, _), j in sorted(self.kube.jobs.items())
            if n == ns and matches(j["metadata"].get("labels") or {}, selector)
        ]
        self.send({"kind": "JobList", "apiVersion": "batch/v1",
                   "metadata": {"resourceVersion": str(self.kube.rv)}, "items": items})  # fmt: skip


class CronJobsHandler(BaseHandler):
    op = "cronjobs"

    def post(self, ns: str) -> None:
        body = self.body()
        if not self.check_valid(body):
            return
        name = body.get("metadata", {}).get("name")
        if (ns, name) in self.kube.cronjobs:
            self.fail(409, "AlreadyExists", f'cronjobs.batch "{name}" already exists')
            return
        self.send(self.kube.create_cronjob(ns, body), 201)


class CronJobHandler(BaseHandler):
    op = "cronjob"

    def missing(self, name: str) -> None:
        self.fail(404, "NotFound", f'cronjobs.batch "{name}" not found')

    def get(self, ns: str, name: str) -> None:
        cronjob = self.kube.cronjobs.get((ns, name))
        if cronjob is None:
            self.missing(name)
        else:
            self.send(cronjob)

    def put(self, ns: str, name: str) -> None:
        body = self.body()
        if not self.check_valid(body):
            return
        cronjob = self.kube.replace_cronjob(ns, name, body)
        if cronjob is None:
            self.missing(name)
        else:
            self.send(cronjob)

    def patch(self, ns: str, name: str) -> None:
        kind = self.request.headers.get("Content-Type", "")
        if "merge-patch+json" not in kind:
            self.fail(415, "UnsupportedMediaType", f"the fake takes merge patches, not {kind}")
            return
        old = self.kube.cronjobs.get((ns, name))
        if old is None:
            self.missing(name)
            return
        merged = json.loads(json.dumps(old))
        merge_patch(merged, self.body())
        meta = merged["metadata"]
        check = {
            **{k: v for k, v in merged.items() if k != "status"},
            "metadata": {
                k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta
            },
        }
        if not self.check_valid(check):  # admission checks the patched object
            return
        self.send(self.kube.patch_cronjob(ns, name, self.body()))

    def delete(self, ns: str, name: str) -> None:
        cronjob = self.kube.delete_cronjob(ns, name)
        if cronjob is None:
            self.missing(name)
        else:
            self.send(cronjob)


class JobHandler(BaseHandler):
    op = "job"

    def get(self, ns: str, name: str) -> None:
        job = self.kube.jobs.get((ns, name))
        if job is None:
            self.fail(404, "NotFound", f'jobs.batch "{name}" not found')
        else:
            self.send(job)

    def delete(self, ns: str, name: str) -> None:
        policy = self.get_query_argument("propagationPolicy", None)
        policy = self.body().get("propagationPolicy", policy)
        job = self.kube.delete_job(ns, name, policy)
        if job is None:
            self.fail(404, "NotFound", f'jobs.batch "{name}" not found')
        else:
            self.send(job)


class PodsHandler(StreamingHandler):
    def op_name(self) -> str:
        return "pods (watch)" if flag(self.get_query_argument("watch", None)) else "pods"

    async def get(self, ns: str) -> None:
        selector = self.get_query_argument("labelSelector", None)
        if not flag(self.get_query_argument("watch", None)):
            items = [
                p
                for (n, _), p in sorted(self.kube.pods.items())
                if n == ns and matches(p["metadata"].get("labels") or {}, selector)
            ]
            self.send(
                {
                    "kind": "PodList",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(self.kube.rv)},
                    "items": items,
                }
            )
            return
        await self.watch(ns, selector)

    async def watch(self, ns: str, selector: str | None) -> None:
        kube = self.kube
        rv_arg = self.get_query_argument("resourceVersion", "") or str(kube.rv)
        timeout = float(self.get_query_argument("timeoutSeconds", "0") or 0) or 1800.0
        bookmarks = flag(self.get_query_argument("allowWatchBookmarks", None))
        self.set_header("Content-Type", "application/json")
        self._closed = False
        rv = int(rv_arg)
        if rv < kube.compacted_rv:
            err = status_body(
                410, "Expired", f"too old resource version: {rv} ({kube.compacted_rv})"
            )
            self.write(json.dumps({"type": "ERROR", "object": err}) + "\n")
            self.finish()
            return
        kube._watch_handlers.add(self)
        await self.flush()  # the API server answers 200 at once, then streams events
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + (kube.bookmark_every or 1e9)
        try:
            while not self._closed and loop.time() < deadline:
                sent = False
                for erv, kind, pod in list(kube.history):
                    if erv <= rv:
                        continue
                    rv = erv
                    meta = pod["metadata"]
                    if meta["namespace"] != ns or not matches(meta.get("labels") or {}, selector):
                        continue
                    self.write(json.dumps({"type": kind, "object": pod}) + "\n")
                    sent = True
                if bookmarks and kube.bookmark_every and loop.time() >= next_bookmark:
                    mark = {
                        "kind": "Pod",
                        "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(kube.rv)},
                    }
                    self.write(json.dumps({"type": "BOOKMARK", "object": mark}) + "\n")
                    rv = max(rv, kube.rv)
                    next_bookmark = loop.time() + kube.bookmark_every
                    sent = True
                if sent:
                    await self.flush()
                await kube.changed(min(0.5, max(0.0, deadline - loop.time())))
            if not self._closed:
                self.finish()
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            kube._watch_handlers.discard(self)


class PodHandler(BaseHandler):
    op = "pod"

    def get(self, ns: str, name: str) -> None:
        pod = self.kube.pods.get((ns, name))
        if pod is None:
            self.fail(404, "NotFound", f'pods "{name}" not found')
        else:
            self.send(pod)


class LogHandler(StreamingHandler):
    def op_name(self) -> str:
        return "log (follow)" if flag(self.get_query_argument("follow", None)) else "log"

    async def get(self, ns: str, name: str) -> None:
        kube = self.kube
        pod = kube.pods.get((ns, name))
        if pod is None:
            self.fail(404, "NotFound", f'pods "{name}" not found')
            return
        state = ((pod["status"].get("containerStatuses") or [{}])[0]).get("state") or {}
        if "running" not in state and "terminated" not in state:
            container = pod["spec"]["containers"][0]["name"]
            self.fail(
                400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start'
            )
            return
        self.set_header("Content-Type", "text/plain")
        key = (ns, name)
        sent = 0
        self._closed = False
        kube._watch_handlers.add(self)
        try:
            while not self._closed:
                data = bytes(kube.logs.get(key, b""))
                if len(data) > sent:
                    self.write(data[sent:])
                    sent = len(data)
                    await self.flush()
                pod = kube.pods.get(key)
                done = pod is None or "terminated" in (
                    (pod["status"].get("containerStatuses") or [{}])[0].get("state") or {}
                )
                if not flag(self.get_query_argument("follow", None)) or (
                    done and len(kube.logs.get(key, b"")) == sent
                ):
                    break
                await kube.changed(0.5)
            if not self._closed:
                self.finish()
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            kube._watch_handlers.discard(self)


class SecretsHandler(BaseHandler):
    op = "secrets"

    def post(self, ns: str) -> None:
        body = self.body()
        if not self.check_valid(body):
            return
        name = body.get("metadata", {}).get("name")
        if (ns, name) in self.kube.secrets:
            self.fail(409, "AlreadyExists", f'secrets "{name}" already exists')
            return
        secret = json.loads(json.dumps(body))
        secret["metadata"] = self.kube._new_meta(ns, secret.get("metadata") or {})
        data = dict(secret.pop("data", {}) or {})
        for k, v in (secret.pop("stringData", {}) or {}).items():
            data[k] = base64.b64encode(v.encode()).decode()
        secret["data"] = data
        self.kube.secrets[(ns, name)] = secret
        self.send(secret, 201)


class SecretHandler(BaseHandler):
    op = "secret"

    def get(self, ns: str, name: str) -> None:
        secret = self.kube.secrets.get((ns, name))
        if secret is None:
            self.fail(404, "NotFound", f'secrets "{name}" not found')
        else:
            self.send(secret)

    def delete(self, ns: str, name: str) -> None:
        secret = self.kube.secrets.pop((ns, name), None)
        if secret is None:
            self.fail(404, "NotFound", f'secrets "{name}" not found')
        else:
            self.send(status_body(200, "", "") | {"status": "Success"})


def main() -> None:  # pragma: no cover - manual use: python tests/k8s/fake_api.py
    async def serve() -> None:
        kube = FakeKube()
        await kube.start()
        path = kube.write_kubeconfig(os.path.abspath("fake-kubeconfig.json"))
        print(f"fake Kubernetes API on {kube.url}; KUBECONFIG={path}")
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":  # pragma: no cover
    main()
