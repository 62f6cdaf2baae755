"""Domain errors. Handlers turn them into HTTP answers in one place (handlers.JobsHandler)."""


class JobsError(Exception):
    """Base class: ``status_code`` is the HTTP status a handler answers with."""

    status_code = 500

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        #: the request field the error is about (``resources.cpus``), for the dialog to show it in place
        self.field = field

    def to_dict(self) -> dict:
        """The JSON answer; text UTF-8 cannot carry (a lone surrogate) is escaped."""
        body = {"message": _utf8(self.message)}
        if self.field:
            body["field"] = _utf8(self.field)
        return body


def _utf8(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class BadRequest(JobsError):
    """The request is invalid: the message says what to fix."""

    status_code = 400


class Forbidden(JobsError):
    status_code = 403


class NotFound(JobsError):
    status_code = 404


class Conflict(JobsError):
    """The job is in a state that does not allow the operation (e.g. delete while running)."""

    status_code = 409


class PayloadTooLarge(JobsError):
    status_code = 413


class EngineError(JobsError):
    """The engine (sbatch, the Kubernetes API) answered with an error that is not the user's fault."""

    status_code = 502


class EngineUnavailable(JobsError):
    """The engine cannot be reached right now (controller down, API server unreachable)."""

    status_code = 503


class UnsupportedMediaType(JobsError):
    """The body is not sent as ``application/json``."""

    status_code = 415
