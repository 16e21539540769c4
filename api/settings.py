"""The one place configuration is read: environment variables with the prefix `VIDRAG_`.

Nested groups use `__` (e.g. `VIDRAG_SEGMENT__MAX_CLIP=8`). Lower layers never read settings; they
take keyword arguments, so notebooks and tests build anything directly.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SegmentSettings(BaseModel):
    max_clip: float = Field(10.0, description="Longest clip, seconds.")
    min_clip: float = Field(2.0, description="Clips shorter than this are merged into a neighbour.")
    shot_threshold: float = Field(27.0, description="PySceneDetect ContentDetector threshold.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDRAG_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(Path("vidrag-data"), description="Data folder: catalog, embedded Qdrant, caches.")
    qdrant_url: str | None = Field(None, description="Qdrant server URL; unset = the embedded store.")
    store: str = Field("edge", description="Embedded store: edge (Qdrant Edge engine) | local (qdrant-client local mode).")
    qdrant_api_key: str | None = None
    collection: str = "vidrag_clips"

    embedder: str = Field("all-MiniLM-L6-v2", description="sentence-transformers model name or path.")
    asr_model: str = Field("base", description="faster-whisper model: base or tiny.en (both bundled), size or path.")
    asr_language: str | None = Field(None, description="Force a spoken language; unset = detect.")
    ocr: bool = True
    ocr_lang: str = "eng"
    analysis_fps: float = Field(1.0, description="Frames per second examined for OCR and description.")
    segment: SegmentSettings = SegmentSettings()
    search_mode: str = Field("hybrid", description="hybrid | dense | sparse")

    captioner: str = Field("describer", description="describer | minicpm | openai")
    captioner_url: str | None = None
    captioner_model: str = "openbmb/MiniCPM-V-4_5"
    captioner_api_key: str | None = None
    captioner_fps: float | None = None
    captioner_packing: int = 3
    captioner_batch: int = Field(0, description="Clips per captioner call; 0 = automatic (minicpm: from free GPU memory, 16-64).")
    captioner_device: str = Field("cuda", description="minicpm: cuda | cuda:N | cpu (float32, slow: for checks with small models).")
    captioner_max_new_tokens: int | None = Field(None, description="minicpm: caption token limit (default 192).")

    llm_url: str | None = Field(None, description="OpenAI-compatible LLM for the agent; unset = no-LLM mode.")
    llm_model: str = "Qwen/Qwen3-8B"
    llm_api_key: str | None = None
    llm_function_calling: bool = True
    llm_timeout: float = Field(120.0, description="Seconds to wait for the LLM server (per read while streaming).")
    llm_retries: int = Field(2, description="Retries on 429/5xx/connection errors (openai client backoff).")

    api_key: str | None = None
    allowed_roots: list[Path] = Field(default_factory=list)
    max_upload_mb: int = 2048
    cors_origins: list[str] = Field(default_factory=list)

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.sqlite"

    @property
    def qdrant_path(self) -> Path:
        return self.home / "qdrant"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"
