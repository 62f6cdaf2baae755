"""A test-side stand-in for the kubelet: runs kernel pods of the fake cluster as local processes.

The fake API server cannot run containers. For remote-kernel tests this runs each kernel pod's
container *command* for real, the way a kubelet would:

- the pod gets an IP of its own, a random ``127.x.y.z`` (Linux routes all of 127/8 to loopback),
  so kernels with the same fixed ports can run side by side, as pods do;
- the pod's Secret volume (the connection file with the key) is written to a private directory
  that stands in for its mount, and its ``emptyDir`` gets another one; the container's argv is run
  with those two paths mapped (the script and the kernel's argv are otherwise run verbatim, with
  ``sh``). In the pod, ``0.0.0.0`` means the pod's own address: the mounted file says so here too;
- the container's termination log (``terminationMessagePath``, default ``/dev/termination-log``)
  is a file of its own, mapped the same way; what the container wrote there becomes
  ``state.terminated.message`` when it exits;
- the container's environment is the test's (its "image": the venv's ``python3`` with ipykernel
  first on ``PATH``) plus the pod spec's ``env``;
- stdout and stderr go to the pod log; the container's exit ends the pod (``Succeeded`` or
  ``Failed`` with its exit code); deleting the Job kills the process (SIGTERM, then SIGKILL).

``unschedulable`` keeps new kernel pods Pending with the scheduler's message instead.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import sys
from typing import Any

from jupyter_jobs.spawners import k8s_objects as objects

from .fake_api import FakeKube


class FakeKubelet:
    def __init__(self, kube: FakeKube, workdir: str):
        self.kube = kube
        self.workdir = workdir
        #: a scheduler message: new kernel pods stay Pending, Unschedulable, with it
        self.unschedulable: str | None = None
        #: pod name → its running process
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.ips: dict[str, str] = {}
        self._seen: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.Task | None = None

    def start(self) -> None:
        self._loop = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
        for proc in list(self.procs.values()):
            self._kill(proc, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await proc.wait()
        for task in list(self._tasks):
            task.cancel()

    async def _run(self) -> None:
        while True:
            for (ns, name), pod in list(self.kube.pods.items()):
                labels = pod["metadata"].get("labels") or {}
                if name in self._seen or labels.get(objects.LABEL_COMPONENT) != "kernel":
                    continue
                self._seen.add(name)
                if self.unschedulable:
                    self.kube.schedule_fail(pod, self.unschedulable)
                else:
                    self._spawn(self._run_pod(ns, pod))
            await asyncio.sleep(0.02)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _secrets_exist(self, ns: str, pod: dict[str, Any]) -> bool:
        return all(
            (ns, v["secret"]["secretName"]) in self.kube.secrets
            for v in pod["spec"].get("volumes") or []
            if "secret" in v
        )

    def _mounts(self, ns: str, pod: dict[str, Any], ip: str) -> dict[str, str]:
        """Pod path → local directory of each volume the kernel container mounts."""
        name = pod["metadata"]["name"]
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        out = {}
        for mount in pod["spec"]["containers"][0].get("volumeMounts") or []:
            volume = volumes[mount["name"]]
            local = os.path.join(self.workdir, name, mount["name"])
            os.makedirs(local, exist_ok=True)
            if "secret" in volume:
                secret = self.kube.secrets[(ns, volume["secret"]["secretName"])]
                for key, value in secret["data"].items():
                    data = base64.b64decode(value)
                    if key == objects.KERNEL_CONNECTION_FILE:
                        info = json.loads(data)
                        assert info["ip"] == "0.0.0.0"  # what the pod is given
                        data = json.dumps({**info, "ip": ip}).encode()
                    path = os.path.join(local, key)
                    with open(path, "wb") as f:
                        f.write(data)
                    os.chmod(path, volume["secret"].get("defaultMode", 0o644))
            out[mount["mountPath"]] = local
        return out

    async def _run_pod(self, ns: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        ip = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(2, 254)}"
        self.ips[name] = ip
        key = (ns, name)
        while not self._secrets_exist(ns, pod):  # a kubelet retries the mount (ContainerCreating)
            if key not in self.kube.pods:
                return
            await asyncio.sleep(0.02)
        mounts = self._mounts(ns, pod, ip)
        container = pod["spec"]["containers"][0]
        termlog = os.path.join(self.workdir, name, "termination-log")
        open(termlog, "w").close()
        mounts[container.get("terminationMessagePath") or objects.TERMINATION_LOG] = termlog
        argv = list(container["command"]) + list(container.get("args") or [])
        for pod_path, local in sorted(mounts.items(), key=lambda m: -len(m[0])):
            argv = [a.replace(pod_path, local) for a in argv]
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        env.update({e["name"]: e.get("value", "") for e in container.get("env") or []})
        self.kube.run(pod, node="node-1", ip=ip)  # the container starts before the kernel binds
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=self.workdir,
            start_new_session=True,
        )
        self.procs[name] = proc
        self._spawn(self._copy_log(pod, proc))
        while proc.returncode is None:
            if key not in self.kube.pods:  # the Job was deleted: stop the container
                self._kill(proc, signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except asyncio.TimeoutError:
                    self._kill(proc, signal.SIGKILL)
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 0.05)
        code = await proc.wait()
        self.procs.pop(name, None)
        if key in self.kube.pods:
            await asyncio.sleep(0.1)  # the last log lines first
            with open(termlog) as f:
                message = f.read(4096)
            self.kube.finish(pod, code if code >= 0 else 128 - code, message=message)

    async def _copy_log(self, pod: dict[str, Any], proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            data = await proc.stdout.read(4096)
            if not data:
                return
            self.kube.append_log(pod, data)

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
