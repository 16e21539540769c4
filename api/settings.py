"""The one place configuration is read: environment variables with the prefix `VIDRAG_`.

Nested groups use `__` (e.g. `VIDRAG_SEGMENT__MAX_CLIP=8`). Lower layers never read settings; they
take keyword arguments, so notebooks and tests build anything directly.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vidrag.indexing.analysis import ANALYSIS_FPS
from vidrag.indexing.segment import MAX_CLIP, MIN_CLIP, SHOT_THRESHOLD


class SegmentSettings(BaseModel):
    max_clip: float = Field(MAX_CLIP, description="Longest clip, seconds.")
    min_clip: float = Field(MIN_CLIP, description="Clips shorter than this are merged into a neighbour.")
    shot_threshold: float = Field(SHOT_THRESHOLD, description="PySceneDetect ContentDetector threshold.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDRAG_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(Path("vidrag-data"), description="Data folder: catalog, embedded Qdrant, caches.")
    qdrant_url: str | None = Field(None, description="Qdrant server URL; unset = the embedded store.")
    store: str = Field(
        "edge", description="Embedded store: edge (Qdrant Edge engine) | local (qdrant-client local mode)."
    )
    qdrant_api_key: str | None = None
    collection: str = "vidrag_clips"
    # A collection vidrag creates on a Qdrant server or cluster (unset: the server's default)
    qdrant_shards: int | None = Field(None, description="Shards of a new server collection.")
    qdrant_replication: int | None = Field(None, description="Copies of each shard (2+ survives a node loss).")
    qdrant_write_consistency: int | None = Field(None, description="Replicas that must confirm a write.")
    # How the vectors are indexed (vidrag.storage.index_policy; unset: the policy's defaults)
    index_exact_below: int | None = Field(
        None, ge=1, description="Clips a segment holds before it gets an HNSW index (default 20,000)."
    )
    index_hnsw_ef: int | None = Field(None, ge=1, description="HNSW candidates per search (recall against speed).")
    index_quantization: str | None = Field(
        None,
        pattern="^(int8|none)$",
        description="int8 (default): scalar-quantised vectors for the HNSW search; none: float32 only.",
    )
    ray_address: str | None = Field(None, description="Ray cluster for `ingest --ray`: auto | ray://host:10001.")

    embedder: str = Field("all-MiniLM-L6-v2", description="sentence-transformers model name or path.")
    asr_model: str = Field("base", description="faster-whisper model: base or tiny.en (both bundled), size or path.")
    asr_language: str | None = Field(None, description="Force a spoken language; unset = detect.")
    asr_batch: int = Field(
        0,
        ge=0,
        le=64,
        description="Speech chunks decoded together (faster-whisper's batched pipeline; 0: one after another).",
    )
    ocr: str = Field(
        "tesseract", description="On-screen text reader: tesseract | rapidocr | off (true/false also accepted)."
    )
    ocr_lang: str = Field("eng", description="tesseract languages, e.g. eng+deu.")
    analysis_fps: float = Field(ANALYSIS_FPS, description="Frames per second examined for OCR and description.")
    segment: SegmentSettings = SegmentSettings()
    search_mode: str = Field("hybrid", description="hybrid | dense | sparse")

    captioner: str = Field("describer", description="describer | minicpm | openai | vllm")
    captioner_url: str | None = None
    captioner_model: str = "openbmb/MiniCPM-V-4_5"
    captioner_api_key: str | None = None
    captioner_fps: float | None = None
    captioner_packing: int = 3
    captioner_batch: int = Field(
        0, description="Clips per captioner call; 0 = automatic (minicpm: from free GPU memory, 16-64)."
    )
    captioner_device: str = Field(
        "cuda", description="minicpm: cuda | cuda:N | cpu (float32, slow: for checks with small models)."
    )
    captioner_vision: str | None = Field(
        None,
        description="minicpm: SigLIP attention: auto (default: compiled on a GPU, sdpa if torch.compile fails "
        "or on a CPU) | sdpa | eager | compiled (torch.compile per layer: SigLIP 190 -> 160 ms for 64 frames "
        "on an H200 after a ~10 s compile; a compile failure is an error).",
    )
    captioner_max_new_tokens: int | None = Field(
        None, description="minicpm, vllm: caption token limit (minicpm 192, vllm 384 by default)."
    )

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
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the server answers to (DNS-rebinding guard); unset = the loopback names, "
        "or any name once VIDRAG_API_KEY is set; * = any.",
    )

    @field_validator("ocr", mode="before")
    @classmethod
    def _ocr_backend(cls, value: object) -> str:
        """Accept a backend name, or the older on/off booleans (on = the default backend)."""
        from vidrag.indexing.ocr import OCR_BACKENDS

        name = str(value).strip().lower()
        name = {
            "true": "tesseract",
            "1": "tesseract",
            "yes": "tesseract",
            "on": "tesseract",
            "false": "off",
            "0": "off",
            "no": "off",
            "none": "off",
        }.get(name, name)
        if name not in OCR_BACKENDS:
            raise ValueError(f"unknown OCR backend {value!r}; use one of {', '.join(OCR_BACKENDS)}")
        return name

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.sqlite"

    @property
    def qdrant_path(self) -> Path:
        return self.home / "qdrant"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"
