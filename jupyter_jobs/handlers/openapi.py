"""``openapi.json`` (the API's document) and the JSON 404 for any other URL under the API."""

from __future__ import annotations

import pathlib

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .base import API_PREFIX, JobsHandler, JSONErrorsMixin

OPENAPI_PATH = pathlib.Path(__file__).parent.parent / "openapi.json"


class OpenAPIHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(OPENAPI_PATH.read_bytes())


class NotFoundHandler(JSONErrorsMixin, ExtensionHandlerMixin, JupyterHandler):
    """Any other URL under ``jupyter-jobs/api/``: a JSON 404, whatever the method."""

    SUPPORTED_METHODS = (*JupyterHandler.SUPPORTED_METHODS, "TRACE", "CONNECT")
    # never reached (prepare answers 404), but jupyter_server looks each method up
    trace = connect = web.RequestHandler._unimplemented_method

    def set_default_headers(self) -> None:
        """No page headers: the answer is JSON."""

    async def prepare(self, *, _redirect_to_login: bool = True) -> None:  # type: ignore[override]
        raise web.HTTPError(
            404, f"no such jupyter-jobs API endpoint (see {API_PREFIX}/openapi.json)"
        )
