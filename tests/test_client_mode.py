"""One library, many surfaces: while a server owns a home, the CLI and `vidrag.open_library` are its clients.

The same one-video library (the fakes of `tests.fakes` for the two slow models; decoding, OCR, the
store and the catalog real) is used first in process, then through a real uvicorn server on loopback
that holds it and announces itself in `<home>/server.json`, as `vidrag serve` does. Every command must
print the same output and exit with the same code both ways.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import httpx
import pytest

from tests import fakes, media
from tests.api.conftest import serve
from tests.api.test_browser import CHROMIUM, LAUNCH_ARGS
from tests.test_cli_fast import vidrag
from vidrag.api import discovery
from vidrag.storage.errors import BackendUnavailable

SENTENCE = "We will hire three engineers for the data platform this spring."
QUESTION = "How many engineers will be hired?"


def _ask(run) -> dict:
    result = run.json()
    result.pop("seconds")
    for step in result["steps"]:
        step.pop("seconds", None)
    return result


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The home with the video ingested in process, and what each command printed then."""
    folder = tmp_path_factory.mktemp("client-mode")
    video = media.speech_video(folder, text="Hiring Plan", sentence=SENTENCE)
    bad = media.text_as_mp4(folder)
    home = tmp_path_factory.mktemp("client-mode-home")
    with pytest.MonkeyPatch.context() as patch:
        fakes.install(patch, SENTENCE)
        patch.setenv("VIDRAG_HOME", str(home))
        patch.delenv("VIDRAG_QDRANT_URL", raising=False)
        patch.delenv("VIDRAG_LLM_URL", raising=False)
        assert vidrag("ingest", str(video)).code == 0
        local = {
            "videos": vidrag("videos", "--json"),
            "videos_plain": vidrag("videos"),
            "search": vidrag("search", "hire engineers", "--json"),
            "search_plain": vidrag("search", "hiring plan", "-k", "2"),
            "ask": vidrag("ask", QUESTION, "--json"),
            "unknown_video": vidrag("search", "plan", "--video", "holiday.mp4"),
            "empty": vidrag("search", "   "),
            "bad_file": vidrag("ingest", str(bad), "--json"),
        }
        yield home, video, bad, local, patch


@pytest.fixture(scope="module")
def server(setup):
    """A server that holds the library and announces itself in the home, as `vidrag serve` does."""
    from vidrag.api.app import ApiSettings, create_app
    from vidrag.api.wiring import open_library

    home, *_ = setup
    settings = ApiSettings(home=home, api_key=None, allowed_roots=[], cors_origins=[], llm_url=None)
    library = open_library(settings, for_ingest=True)
    app = create_app(settings, library=library)
    app.state.owner_key = key = discovery.new_owner_key()
    try:
        with serve(app) as url:
            _SERVED[url] = library
            discovery.announce(home, url, key)
            yield url, key
            discovery.withdraw(home)
    finally:
        library.close()


def test_the_server_file_is_private_and_names_a_live_server(setup, server):
    home, *_ = setup
    url, key = server
    path = home / discovery.SERVER_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert (data["url"], data["pid"], data["key"]) == (url, os.getpid(), key)
    found = discovery.find_server(home)
    assert found is not None and (found.url, found.key) == (url, key)


def test_every_command_prints_the_same_through_the_server(setup, server):
    _, _, _, local, _ = setup
    assert vidrag("videos", "--json").stdout == local["videos"].stdout
    assert vidrag("videos").stdout == local["videos_plain"].stdout
    remote_search = vidrag("search", "hire engineers", "--json")
    assert remote_search.json() == local["search"].json() and remote_search.json()
    assert vidrag("search", "hiring plan", "-k", "2").stdout == local["search_plain"].stdout
    remote_ask = vidrag("ask", QUESTION, "--json")
    assert remote_ask.code == 0 and _ask(remote_ask) == _ask(local["ask"])
    assert "three engineers" in remote_ask.json()["answer"]


def test_errors_have_the_same_codes_and_messages_through_the_server(setup, server):
    _, _, bad, local, _ = setup
    for name, args in (("unknown_video", ("search", "plan", "--video", "holiday.mp4")), ("empty", ("search", "  "))):
        remote = vidrag(*args)
        assert (remote.code, remote.stdout, remote.stderr) == (
            local[name].code,
            local[name].stdout,
            local[name].stderr,
        ), name
    assert local["unknown_video"].code == 2 and "holiday.mp4" in local["unknown_video"].stderr
    failed = vidrag("ingest", str(bad), "--json")
    assert failed.code == local["bad_file"].code == 1
    [row] = failed.json()["results"]
    [local_row] = local["bad_file"].json()["results"]
    assert row["status"] == local_row["status"] == "failed" and row["error"] == local_row["error"]


def test_asking_streams_the_steps_through_the_server(setup, server):
    plain = vidrag("ask", QUESTION)
    assert plain.code == 0 and "speech_video.mp4 @ 00:0" in plain.stdout
    assert "→ search_clips(" in plain.stderr and "(extractive," in plain.stderr


def test_the_python_api_is_a_client_of_the_server(setup, server):
    import vidrag as api

    home, video, *_ = setup
    library = api.open_library(api.Settings(home=home))
    try:
        assert type(library).__name__ == "RemoteLibrary"
        [record] = library.videos()
        assert record.path == str(video) and library.video(video.name).id == record.id
        hits = library.search("hire engineers", k=1)
        assert hits[0].video_id == record.id and "engineers" in hits[0].transcript
        answer = api.answer_question(library, QUESTION)
        assert "three engineers" in answer["answer"] and answer["citations"][0]["video_id"] == record.id
        again = library.ingest([video])
        assert [r.status for r in again] == ["unchanged"]
        with pytest.raises(BackendUnavailable, match="owns it"):
            library.frames(record.id, 0.0, 1.0)
    finally:
        library.close()
    url, _ = server
    with pytest.raises(
        BackendUnavailable, match=f"open in another process: the vidrag server at {url}, pid {os.getpid()}"
    ):
        api.open_library(api.Settings(home=home), server=False)


def test_the_owner_key_ingests_any_path_and_other_callers_need_allowed_roots(setup, server):
    _, video, *_ = setup
    url, key = server
    stranger = httpx.post(f"{url}/videos", json={"path": str(video)}, timeout=10)
    assert stranger.status_code == 403
    owner = httpx.post(f"{url}/videos", json={"path": str(video)}, headers={"Authorization": f"Bearer {key}"})
    assert owner.status_code == 202 and owner.json()["params"]["paths"] == [str(video)]


def test_a_stale_server_file_is_ignored(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / discovery.SERVER_FILE).write_text(
        json.dumps({"url": "http://127.0.0.1:9", "pid": int(dead.stdout), "key": "k"})
    )
    assert discovery.find_server(tmp_path) is None
    assert discovery.holder(tmp_path) is None


def test_mcp_over_http_takes_a_bearer_key_and_gives_files_as_urls(setup, server):
    import asyncio

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    url, key = server

    async def session():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
            async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
                names = [tool.name for tool in (await client.list_tools()).tools]
                cut = await client.call_tool("cut_clip", {"video": "speech_video.mp4", "start": 0.5, "end": 2.0})
                resources = (await client.list_resources()).resources
                return names, cut, resources

    names, cut, resources = asyncio.run(session())
    assert "ask" in names and "search_clips" in names
    assert not cut.is_error, cut.content
    data = cut.structured_content
    assert (
        "path" not in data
        and data["url"].startswith(f"{url}/files/clips/speech_video_")
        and data["url"].endswith(".mp4")
    )
    clip = httpx.get(data["url"], headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4" and clip.content[4:8] == b"ftyp"
    assert [r.name for r in resources] == ["speech_video.mp4"]
    assert httpx.get(f"{url}/files/clips/..%2Fcatalog.sqlite", timeout=10).status_code == 404


@pytest.mark.slow  # a `vidrag mcp` process
def test_vidrag_mcp_relays_to_the_running_server(setup, server, tmp_path):
    import asyncio

    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    home, *_ = setup
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "vidrag.api.cli", "mcp"],
        env={**os.environ, "VIDRAG_HOME": str(home)},
        cwd=str(tmp_path),
    )

    async def session():
        async with Client(params, read_timeout_seconds=60) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            found = await client.call_tool("search_clips", {"query": "hire engineers", "k": 1})
            answer = await client.call_tool("ask", {"question": QUESTION})
            cut = await client.call_tool("cut_clip", {"video": "speech_video.mp4", "start": 0.0, "end": 1.5})
            return names, found, answer, cut

    names, found, answer, cut = asyncio.run(session())
    assert names[-1] == "ask" and names[0] == "search_clips"
    assert found.structured_content["results"][0]["video"] == "speech_video.mp4"
    assert "three engineers" in answer.structured_content["answer"]
    path = cut.structured_content["path"]
    assert cut.structured_content["url"].endswith(os.path.basename(path)) and os.path.getsize(path) > 1000


@pytest.fixture
def page():
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is missing: run `apt-get install -y chromium` (CI installs it).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        yield page
        browser.close()


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_shows_jobs_started_elsewhere_across_a_reload(setup, server, page, tmp_path):
    """A job started outside the page (here over HTTP, held at the write lock so it stays running) is
    listed, survives a reload, and when it ends the new video's row shows it indexed."""
    from vidrag.api.jobs import write_lock

    url, key = server
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    video = media.speech_video(tmp_path, text="Budget Review", sentence=SENTENCE)
    page.goto(url + "/")
    page.wait_for_selector("#videos li[data-video-id]")
    library = server_library(url)
    lock = write_lock(library)
    with lock:
        job = httpx.post(f"{url}/videos", json={"path": str(video)}, headers={"Authorization": f"Bearer {key}"})
        assert job.status_code == 202
        row = f"#jobs li[data-job-id='{job.json()['id']}']"
        page.wait_for_selector(row)
        assert "running" in page.inner_text(row) or "queued" in page.inner_text(row)
        page.reload()
        page.wait_for_selector(row)
    page.wait_for_function(
        "dir => [...document.querySelectorAll('#videos li')].some(li => li.title !== undefined &&"
        " li.querySelector('.name')?.title === dir && li.querySelector('.badge')?.textContent === 'indexed')",
        arg=str(video),
    )
    assert "done" in page.inner_text(row) or page.locator(row).count() == 0
    assert not errors, errors


def server_library(url: str):
    """The library object the in-process server at `url` holds (the app's state)."""
    return _SERVED[url]


_SERVED: dict[str, object] = {}


@pytest.mark.slow  # a whole process
def test_a_search_through_the_server_loads_no_model(setup, server):
    from tests.test_cli_usage import loaded_modules

    home, *_ = setup
    loaded, printed = loaded_modules("search", "hire engineers", home=home)
    assert loaded == [] and printed.startswith("1. speech_video.mp4 @ ")
