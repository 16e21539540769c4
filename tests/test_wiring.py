"""Configuration reaches the right parts, and unavailable backends fail fast with a clear message."""

import importlib
import inspect
import socket
import time

import pytest

from vidrag.api.settings import Settings
from vidrag.api.wiring import make_captioner, make_transcriber, open_library, qdrant_client
from vidrag.indexing.asr import Transcriber
from vidrag.indexing.captioners import CAPTIONERS
from vidrag.indexing.captioners.openai_server import OpenAICaptioner
from vidrag.indexing.describe import Describer
from vidrag.indexing.embed import Embedder
from vidrag.storage.errors import BackendUnavailable, InputError, ModelMissing


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_settings_read_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDRAG_HOME", str(tmp_path))
    monkeypatch.setenv("VIDRAG_SEGMENT__MAX_CLIP", "6.5")
    monkeypatch.setenv("VIDRAG_QDRANT_URL", "http://qdrant:6333")
    settings = Settings()
    assert (settings.home, settings.segment.max_clip, settings.qdrant_url) == (tmp_path, 6.5, "http://qdrant:6333")


def test_an_unreachable_qdrant_server_is_named(tmp_path):
    settings = Settings(home=tmp_path, qdrant_url=f"http://127.0.0.1:{_closed_port()}")
    started = time.time()
    with pytest.raises(BackendUnavailable, match="VIDRAG_QDRANT_URL"):
        open_library(settings)
    assert time.time() - started < 30


def test_a_second_process_on_the_same_local_store_is_told_why(tmp_path):
    settings = Settings(home=tmp_path)
    first = qdrant_client(settings)
    try:
        with pytest.raises(BackendUnavailable, match="in use by another vidrag process"):
            qdrant_client(settings)
    finally:
        first.close()


def test_missing_models_fail_fast_naming_the_model():
    started = time.time()
    with pytest.raises(ModelMissing, match="no-such-org/no-such-model"):
        Embedder("no-such-org/no-such-model").dense(["hello"])
    with pytest.raises(ModelMissing, match="'large-v3'.*huggingface-cli download"):
        Transcriber("large-v3")._load()
    assert time.time() - started < 20


@pytest.mark.parametrize("name", sorted(CAPTIONERS))
def test_each_captioner_takes_settings_its_constructor_has(name):
    module, cls = CAPTIONERS[name].target.split(":")
    parameters = inspect.signature(getattr(importlib.import_module(module), cls)).parameters
    assert set(CAPTIONERS[name].takes) <= set(parameters)


def test_the_captioner_settings_reach_the_captioner_they_name():
    settings = Settings(
        captioner="openai", captioner_url="http://vlm:8000/v1", captioner_api_key="k", captioner_fps=1.0
    )
    captioner = make_captioner(settings)
    assert isinstance(captioner, OpenAICaptioner)
    assert (captioner.model, captioner.fps) == (settings.captioner_model, 1.0)
    assert isinstance(make_captioner(Settings(captioner_fps=1.0)), Describer)  # takes no fps
    with pytest.raises(InputError, match="known captioners: describer, minicpm, openai, vllm"):
        make_captioner(Settings(captioner="gpt-vision"))


def test_the_minicpm_vision_setting_reaches_the_captioner(monkeypatch):
    from vidrag.indexing.captioners.minicpm import MiniCPMCaptioner

    monkeypatch.setenv("VIDRAG_CAPTIONER_VISION", "compiled")
    captioner = make_captioner(Settings(captioner="minicpm", captioner_device="cpu"))
    assert isinstance(captioner, MiniCPMCaptioner)
    assert captioner.describe()["vision_attention"] == "compiled"
    assert make_captioner(Settings(captioner="minicpm", captioner_vision=None)).vision_attention == "auto"
    with pytest.raises(InputError, match="'auto', 'sdpa', 'eager', 'compiled'"):
        make_captioner(Settings(captioner="minicpm", captioner_vision="flash"))


def test_the_asr_batch_setting_reaches_the_transcriber_and_names_its_transcripts(monkeypatch):
    monkeypatch.setenv("VIDRAG_ASR_BATCH", "4")
    transcriber = make_transcriber(Settings())
    assert (transcriber.batch, transcriber.variant) == (4, "base-batch4")
    monkeypatch.setenv("VIDRAG_ASR_BATCH", "-1")
    with pytest.raises(ValueError, match="asr_batch"):
        Settings()
