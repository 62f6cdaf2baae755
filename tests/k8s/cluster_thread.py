"""The fake Kubernetes API and its kubelet stand-in on a thread of their own.

For tests (and the benchmark) that run real Jupyter servers as subprocesses against the fake
cluster: the API answers and the kernel pods run while the test's own loop waits or blocks (a
server's start is awaited synchronously). Kernel pods are processes of this test process, so they
outlive the servers, as pods do.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, Callable

from .fake_api import FakeKube
from .fake_kubelet import FakeKubelet


class ClusterThread:
    def __init__(self, workdir: str, namespace: str = "jobs"):
        self.workdir = workdir
        self.namespace = namespace
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fake-k8s", daemon=True)
        self.kube = FakeKube()
        self.kubelet = FakeKubelet(self.kube, os.path.join(workdir, "kubelet"))
        self.kubeconfig = os.path.join(workdir, "kubeconfig")

    def call(self, fn: Callable[[], Any], timeout: float = 30) -> Any:
        """``fn()`` on the cluster's loop (awaited when it returns a coroutine)."""

        async def run() -> Any:
            result = fn()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def start(self) -> ClusterThread:
        os.makedirs(self.workdir, exist_ok=True)
        self._thread.start()
        self.call(self.kube.start)
        self.call(self.kubelet.start)
        self.kube.write_kubeconfig(self.kubeconfig, self.namespace)
        return self

    def stop(self) -> None:
        self.call(self.kubelet.stop)
        self.call(self.kube.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def kernel_pods(self) -> list[str]:
        """Names of the kernel pods whose process runs."""
        return self.call(lambda: sorted(self.kubelet.procs))

    def jobs(self) -> list[str]:
        return self.call(lambda: sorted(name for _, name in self.kube.jobs))
