"""The Jupyter server's configuration, read outside a server: ``jupyter_server_config`` (``.py``
and ``.json``) from the Jupyter config path, as ``jupyter lab`` reads it.

Used where jupyter-jobs runs with no server: a standalone remote kernel (any jupyter_client
process, :mod:`jupyter_jobs.kernels.host`) and the runner sending a job's notification itself
(:func:`jupyter_jobs.notify.send_at_end`)."""

from __future__ import annotations

from jupyter_core.application import JupyterApp
from traitlets.config import Config


class ServerConfig(JupyterApp):
    """Loads ``jupyter_server_config`` (``.py`` and ``.json``) from the Jupyter config path."""

    name = "jupyter-jobs-config"
    description = "reads the Jupyter server's configuration for jupyter-jobs outside a server"
    config_file_name = "jupyter_server_config"  # type: ignore[assignment]


def load() -> Config:
    """The configuration a server started here would read."""
    app = ServerConfig()
    app.load_config_file()
    return app.config
