"""Domain errors, one type per kind of failure. Nothing is ever told apart by its message.

The HTTP answer of each type (status and JSON body) is decided in one place,
:func:`jupyter_jobs.handlers.base.error_answer`; these classes know nothing of HTTP.
"""


class JobsError(Exception):
    """Base class: a failure with a message in the user's words."""

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


class NotFound(JobsError):
    """No such job, file or engine object."""


class Conflict(JobsError):
    """The job is in a state that does not allow the operation (e.g. delete while running)."""


class AlreadyExists(Conflict):
    """The engine already has an object of that name (a retried create)."""


class PayloadTooLarge(JobsError):
    """The request body is larger than ``JobsApp.max_body_size``."""


class UnsupportedMediaType(JobsError):
    """The body is not sent as ``application/json``."""


class EngineError(JobsError):
    """The engine (sbatch, the Kubernetes API) answered with an error that is not the user's fault."""


class EngineUnavailable(JobsError):
    """The engine cannot be reached right now (controller down, API server unreachable)."""


class NotInstalled(EngineUnavailable):
    """What the backend needs is not installed on this host (``sbatch`` not on PATH, the
    ``[kubernetes]`` extra): the backend is unavailable until an admin installs it."""


class EngineForbidden(EngineUnavailable):
    """The engine refused this server's own account (a Kubernetes 403: RBAC). Not the user's
    fault and not theirs to mend: the message asks them to have an admin grant the permission;
    the engine's own words go to the server's log."""


class StorageFull(JobsError):
    """The job root's filesystem (or quota) is full: nothing of the job was kept."""
