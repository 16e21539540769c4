"""Storage layer: the types that cross layer boundaries, ids, errors, the catalog and the Qdrant store.

Nothing here imports another vidrag layer; everything above builds on these pieces.
"""

from vidrag.storage.errors import (
    BackendUnavailable,
    Forbidden,
    InputError,
    ModelMissing,
    NotFound,
    TooLarge,
    VidragError,
)
from vidrag.storage.types import Citation, Clip, Hit, VideoRecord

__all__ = [
    "BackendUnavailable",
    "Citation",
    "Clip",
    "Forbidden",
    "Hit",
    "InputError",
    "ModelMissing",
    "NotFound",
    "TooLarge",
    "VideoRecord",
    "VidragError",
]
