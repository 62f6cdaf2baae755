"""Configuration of the KubernetesSpawner: every option a trait (kubespawner's names).

A mixin, so the spawner module holds only behaviour. ``c.KubernetesSpawner.<name> = …`` sets these
(the spawner inherits them); ``jupyter server --help-all`` lists them with their help.
"""

from __future__ import annotations

import getpass
import os
import socket

from traitlets import Bool, Dict, Float, Integer, List, Unicode, default
from traitlets.config import Configurable

from .k8s_client import in_cluster_namespace

#: dict options where a profile's ``extra`` adds to the spawner's config
MERGED_KEYS = (
    "extra_resource_limits",
    "extra_resource_guarantees",
    "extra_labels",
    "extra_annotations",
    "extra_pod_config",
    "extra_container_config",
)
#: keys a profile's ``resources.extra`` may hold (merged over the spawner's config)
EXTRA_KEYS = (
    "node_selector",
    "tolerations",
    "volumes",
    "volume_mounts",
    "service_account",
    "extra_resource_limits",
    "extra_resource_guarantees",
    "extra_labels",
    "extra_annotations",
    "extra_pod_config",
    "extra_container_config",
    "runner_in_image",
    "environment",
)


class KubernetesConfig(Configurable):
    """The options of :class:`~.kubernetes.KubernetesSpawner`."""

    kubeconfig = Unicode(
        "", help="Path of a kubeconfig; empty: ``KUBECONFIG``, ``~/.kube/config``, then in-cluster."
    ).tag(config=True)
    context = Unicode("", help="kubeconfig context to use; empty: the current one.").tag(
        config=True
    )
    namespace = Unicode(
        help="""Namespace of the jobs. Default: in a pod, the pod's own namespace; else the
        kubeconfig context's; else ``default``. ``c.KubernetesSpawner.namespace = "jobs"``.""",
    ).tag(config=True)
    image = Unicode(
        "",
        help="""Image of the jobs when the profile names none. Empty: the server pod's image
        (with ``inherit_server_pod``).
        ``c.KubernetesSpawner.image = "quay.io/jupyter/scipy-notebook"``.""",
    ).tag(config=True)
    allowed_images = List(
        Unicode(), help="Images users may ask for (``resources.image``); empty: any."
    ).tag(config=True)
    image_pull_policy = Unicode(
        "", help="``IfNotPresent``, ``Always`` or ``Never``; empty: the cluster's default."
    ).tag(config=True)
    image_pull_secrets = List(Unicode(), help="Names of image pull Secrets.").tag(config=True)
    inherit_server_pod = Bool(
        help="""Give jobs the server pod's image (unless ``image`` or a profile says otherwise),
        volumes, mounts, pull secrets and security context, so a job sees the same files and
        packages as the notebook. Default: True when the server runs in a pod.""",
    ).tag(config=True)
    server_pod_name = Unicode(
        help="The server's pod (default: ``POD_NAME`` or the host name)."
    ).tag(config=True)
    server_container_name = Unicode(
        "notebook", help="Container of the server pod to inherit from."
    ).tag(config=True)
    runner_in_image = Bool(
        None,
        allow_none=True,
        help="""Whether the job image has jupyter-jobs installed, so the pod runs the job through
        ``python -m jupyter_jobs.runner`` on the shared job directory (needs ``job_root`` mounted
        at the same path). None: only for the server pod's own image. A profile may say
        ``"extra": {"runner_in_image": true}``.""",
    ).tag(config=True)
    node_selector = Dict(help='``nodeSelector`` of job pods, e.g. ``{"disktype": "ssd"}``.').tag(
        config=True
    )
    tolerations = List(Dict(), help="``tolerations`` of job pods (Kubernetes form).").tag(
        config=True
    )
    volumes = List(
        Dict(), help="Extra pod ``volumes`` (Kubernetes form), added to inherited ones."
    ).tag(config=True)
    volume_mounts = List(Dict(), help="Extra ``volumeMounts`` of the job container.").tag(
        config=True
    )
    service_account = Unicode(
        "",
        help="""``serviceAccountName`` of job pods; empty: the namespace default. Its token is
        not mounted.""",
    ).tag(config=True)
    environment = Dict(help="Environment variables set in every job container.").tag(config=True)
    working_dir = Unicode(
        "",
        help="""``workingDir`` of directly-run jobs; empty: the job's cwd when the server's
        volumes are inherited, else the image's.""",
    ).tag(config=True)
    gpu_resource_key = Unicode(
        "nvidia.com/gpu", help="Extended resource that ``gpus`` asks for (``amd.com/gpu``…)."
    ).tag(config=True)
    extra_resource_limits = Dict(
        help='Extra container limits, e.g. ``{"ephemeral-storage": "10Gi"}``.'
    ).tag(config=True)
    extra_resource_guarantees = Dict(help="Extra container requests.").tag(config=True)
    extra_labels = Dict(help="Labels added to Jobs and pods.").tag(config=True)
    extra_annotations = Dict(help="Annotations added to Jobs and pods.").tag(config=True)
    extra_pod_config = Dict(
        help="""Pod spec fields that replace the generated ones (kubespawner semantics: top-level
        keys, camelCase or snake_case), e.g. ``{"priorityClassName": "batch"}``.""",
    ).tag(config=True)
    extra_container_config = Dict(
        help="Container fields that replace the generated ones (as ``extra_pod_config``)."
    ).tag(config=True)
    ttl_seconds_after_finished = Integer(
        86400,
        allow_none=True,
        help="""``ttlSecondsAfterFinished`` of Jobs: seconds until Kubernetes removes a finished
        Job and its pod. None: never. Results are recorded as soon as a job ends.""",
    ).tag(config=True)
    user_extra_keys = List(
        Unicode(),
        help=f"""Keys of ``resources.extra`` users may set themselves (of
        {", ".join(EXTRA_KEYS)}); profiles may set all of them.""",
    ).tag(config=True)
    user = Unicode(
        help="User name written on jobs (default: ``JUPYTERHUB_USER`` or the login name)."
    ).tag(config=True)
    watch_timeout = Integer(
        300, help="Seconds a watch request lasts before it is resumed (from its resourceVersion)."
    ).tag(config=True)
    retry_delay = Float(
        1.0, help="First delay (s) before reconnecting a failed watch; doubles to 30 s."
    ).tag(config=True)
    max_retry_delay = Float(
        30.0, help="Longest delay (s) between two attempts to reconnect the watch."
    ).tag(config=True)
    request_timeout = Float(30.0, help="Seconds before an API request counts as failed.").tag(
        config=True
    )
    max_log_streams = Integer(
        100,
        help="""At most this many pod logs followed at once (direct jobs); the others are read
        when they end.""",
    ).tag(config=True)
    missing_pod_grace = Float(
        30.0, help="Seconds a Job may have no pod before its status is read."
    ).tag(config=True)
    kernel_ports = Dict(
        {
            "shell_port": 50001,
            "iopub_port": 50002,
            "stdin_port": 50003,
            "control_port": 50004,
            "hb_port": 50005,
        },
        help="Fixed ports of remote kernels (each kernel has its own pod IP).",
    ).tag(config=True)

    @default("user")
    def _default_user(self) -> str:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    @default("inherit_server_pod")
    def _default_inherit(self) -> bool:
        return in_cluster_namespace() is not None and bool(
            os.environ.get("KUBERNETES_SERVICE_HOST")
        )

    @default("server_pod_name")
    def _default_pod_name(self) -> str:
        return os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or socket.gethostname()
