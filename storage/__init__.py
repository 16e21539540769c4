"""Storage layer: the types that cross layer boundaries, ids, errors, the catalog and the Qdrant store.

Nothing here imports another vidrag layer; everything above builds on these pieces.
"""

from vidrag.storage.errors import (
    BackendUnavailable,
    InputError,
    ModelMissing,
    NotFound,
    VidragError,
)
from vidrag.storage.types import Citation, Clip, Hit, VideoRecord

__all__ = [
    "BackendUnavailable",
    "Citation",
    "Clip",
    "Hit",
    "InputError",
    "ModelMissing",
    "NotFound",
    "VideoRecord",
    "VidragError",
]
