"""One error hierarchy for vidrag.

Each boundary translates these once: the CLI to an exit code and a message on stderr, the API to an
HTTP status, the agent's tools to text an LLM can act on. Messages say what happened, the value
involved, and the fix.
"""


class VidragError(Exception):
    """Base class of every error vidrag raises on purpose."""


class InputError(VidragError):
    """The caller gave something unusable: a bad file, a bad argument (HTTP 422)."""


class NotFound(VidragError):
    """A video, clip, job or session id that the library does not hold (HTTP 404)."""


class BackendUnavailable(VidragError):
    """A model server, Qdrant server or other backend could not be reached (HTTP 503)."""


class ModelMissing(BackendUnavailable):
    """Model weights are not present locally; the message names the model and how to get it."""


class Forbidden(VidragError):
    """The server's configuration does not allow it: a path outside the allowed roots (HTTP 403)."""


class TooLarge(InputError):
    """An upload over the configured size limit (HTTP 413)."""


class MediaMissing(NotFound):
    """The catalog knows the video but its file is gone (moved or deleted) (HTTP 404)."""
