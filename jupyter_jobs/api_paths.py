"""Where the jupyter-jobs REST API lives under a Jupyter server's base URL.

One constant for the server's routes (:mod:`jupyter_jobs.handlers`) and for the client
(:mod:`jupyter_jobs.client`); this module imports nothing, so the client stays light.
"""

#: the API's path under the server's ``base_url`` (no leading or trailing slash)
API_PREFIX = "jupyter-jobs/api"
