"""Server configuration for the browser tests (used by scripts/ui-tests.sh).

Galata's helper sets an empty token, no XSRF check and a temporary root dir; we add a free port, a
job root inside the test root, two local profiles with limits (so the dialog has something to
validate), and settings overrides that keep the "news" toast out of screenshots.
"""

import json
import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

configure_jupyter_server(c)

root = os.environ.get("JUPYTERLAB_GALATA_ROOT_DIR") or c.ServerApp.root_dir
c.ServerApp.root_dir = root
# scripts/ui-tests.sh adds the build output when the extension is not installed (editable install)
extra = os.environ.get("JUPYTER_JOBS_UI_EXTRA_LABEXTENSIONS")
if extra:
    current = c.LabServerApp.extra_labextensions_path
    current = [current] if isinstance(current, str) else list(current or [])
    c.LabServerApp.extra_labextensions_path = [*current, extra]
c.ServerApp.port = int(os.environ.get("JUPYTER_JOBS_UI_PORT", "8888"))
c.ServerApp.allow_root = True
c.ServerApp.open_browser = False

c.JobsApp.job_root = os.environ.get("JUPYTER_JOBS_UI_JOB_ROOT") or os.path.join(
    tempfile.mkdtemp(prefix="jobs-ui-"), "jobs"
)
c.LocalSpawner.max_concurrent = 4
# kernel specs follow the backends quickly (tests/kernelspecs-follow.spec.ts: Kubernetes credentials
# appear, the fake API server goes away)
c.RemoteKernelSpecs.refresh_interval = 1.0
c.KubernetesSpawner.max_retry_delay = 1.0
c.KubernetesSpawner.retry_delay = 0.2
c.LocalSpawner.profiles = [
    {
        "name": "default",
        "display_name": "Default",
        "description": "Runs next to the Jupyter server",
        "resources": {"cpus": 1},
        "max_resources": {"cpus": 2, "memory": "4G"},
    },
    {
        "name": "large",
        "display_name": "Large",
        "description": "More memory for bigger runs",
        "resources": {"cpus": 2, "memory": "2G"},
        "max_resources": {"cpus": 2, "memory": "8G"},
    },
]

# settings overrides: no news toast; the first notification must be ours
settings_dir = tempfile.mkdtemp(prefix="jobs-ui-settings-")
with open(os.path.join(settings_dir, "overrides.json"), "w") as f:
    json.dump({"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}, f)
c.LabServerApp.app_settings_dir = settings_dir
