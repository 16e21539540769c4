"""A library behind a running `vidrag serve`: the same calls as `Library`, sent over the REST API.

`open_library()` is what the CLI, `vidrag mcp` and `vidrag.open_library` call: when a live server
owns the home (see `vidrag.api.discovery`) it returns a `RemoteLibrary`, else it opens the library in
this process as `vidrag.api.wiring.open_library` does. A `RemoteLibrary` answers with the same types
(`VideoRecord`, `Hit`, `IngestResult`, the agent's answer dict) and raises the same errors (NotFound,
InputError, BackendUnavailable) as the in-process library, so the CLI prints the same output and
exits with the same codes either way.

It covers what the front ends use: videos, search, ingest (as server jobs, with progress), delete and
ask. What needs the models in this process (reading frames, cutting clips, evaluation) says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from typing_extensions import TypeIs

from vidrag.api import discovery
from vidrag.storage.errors import BackendUnavailable, InputError, NotFound, VidragError
from vidrag.storage.jobs import Job
from vidrag.storage.types import JSON, Hit, VideoRecord

if TYPE_CHECKING:
    import httpx
    from _typeshed import DataclassInstance
    from llama_index.core.llms import LLM

    from vidrag.agent.answer import Answer
    from vidrag.api.settings import Settings
    from vidrag.indexing.pipeline import IngestResult
    from vidrag.tools.library import Library

JOB_POLL_S = 0.25
D = TypeVar("D", bound="DataclassInstance")
Stream = Callable[[dict[str, JSON]], None]


def open_library(
    settings: Settings | None = None, *, for_ingest: bool = False, server: bool | None = None
) -> Library | RemoteLibrary:
    """The library at `settings.home`: a client of the server that owns it, else opened in this process.

    Args:
        settings: configuration (default: from the environment).
        for_ingest: in process, also build the indexer and its models.
        server: True: the server must be running (BackendUnavailable if not); False: open in process
            (fails if a server holds the embedded store); None (default): whichever applies.
    """
    from vidrag.api.settings import Settings

    settings = settings or Settings()
    if server is not False:
        info = discovery.find_server(settings.home)
        if info is not None:
            return RemoteLibrary(info)
        if server:
            raise BackendUnavailable(f"No vidrag server is running for {settings.home}; start one with `vidrag serve`.")
    from vidrag.api.wiring import open_library as open_here

    return open_here(settings, for_ingest=for_ingest)


def answer_question(
    library: Library | RemoteLibrary,
    question: str,
    *,
    session: str | None = None,
    llm: LLM | None = None,
    stream: Stream | None = None,
    top_k: int | None = None,
) -> Answer | dict[str, JSON]:
    """`vidrag.agent.answer_question`, or the server's `/ask` for a `RemoteLibrary` (which answers with
    the server's LLM settings: `llm` is not sent; `top_k` None is the answerer's default, 5)."""
    if is_remote(library):
        return library.ask(question, session=session, stream=stream, top_k=top_k)
    from vidrag.agent import answer_question as answer_here

    if top_k is None:
        return answer_here(library, question, session=session, llm=llm, stream=stream)
    return answer_here(library, question, session=session, llm=llm, stream=stream, top_k=top_k)


def is_remote(library: object) -> TypeIs[RemoteLibrary]:
    return isinstance(library, RemoteLibrary)


def _from_dict(cls: type[D], data: Mapping[str, object]) -> D:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


class RemoteLibrary:
    """The library of a running vidrag server, through its REST API (see the module docstring)."""

    def __init__(self, server: discovery.ServerInfo, *, timeout: float = 120.0) -> None:
        import httpx

        self.server = server
        self.home = Path(server.home)
        self._http = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=timeout, trust_env=False
        )

    def __repr__(self) -> str:
        return f"RemoteLibrary({self.server.url}, pid {self.server.pid})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteLibrary:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # transport ---------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **options: Any) -> httpx.Response:  # Any: httpx's keywords
        import httpx

        try:
            response = self._http.request(method, path, **options)
        except httpx.HTTPError as err:
            raise BackendUnavailable(
                f"The vidrag server at {self.server.url} (pid {self.server.pid}) did not answer: {err}."
            ) from err
        raise_for(response)
        return response

    # videos ------------------------------------------------------------------------------------

    def videos(self) -> list[VideoRecord]:
        return [_from_dict(VideoRecord, row) for row in self._request("GET", "/videos").json()]

    def video_by_id(self, video_id: str) -> VideoRecord:
        return _from_dict(VideoRecord, self._request("GET", f"/videos/{video_id}").json())

    def video(self, key: str) -> VideoRecord:
        """A video by id, id prefix, path or file name, matched as the catalog matches it.

        Raises:
            NotFound: nothing matches, or several do.
        """
        records = self.videos()
        rows = [r for r in records if key in (r.id, r.path)]
        if not rows:
            rows = [r for r in records if r.id.startswith(key) or r.path.endswith(f"/{key}")]
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise NotFound(f"Unknown video {key!r}; `vidrag videos` lists the library.")
        names = ", ".join(f"{r.id} ({r.path})" for r in rows[:5])
        raise NotFound(f"Video {key!r} is ambiguous: it matches {names}; give the full id.")

    def delete(self, key: str) -> VideoRecord:
        record = self.video(key)
        self._request("DELETE", f"/videos/{record.id}")
        return record

    # search ------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        video: str | list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        mode: str | None = None,
        kind: str = "clip",
    ) -> list[Hit]:
        """The server's search, with the in-process checks and messages.

        Raises:
            InputError: empty query, k < 1, or start >= end.
            NotFound: an unknown video.
        """
        if not query.strip():
            raise InputError("The search query is empty; give some words to search for.")
        if k < 1:
            raise InputError(f"top-k must be at least 1, got {k}.")
        if start is not None and end is not None and start >= end:
            raise InputError(f"The time range is empty: start {start} >= end {end}.")
        keys = [video] if isinstance(video, str) else list(video or [])
        body: dict[str, JSON] = {"query": query, "top_k": k, "kind": kind, "start": start, "end": end, "mode": mode}
        if keys:
            body["videos"] = [self.video(key).id for key in keys]
        data = self._request("POST", "/search", json={k: v for k, v in body.items() if v is not None}).json()
        return [_from_dict(Hit, hit) for hit in data["hits"]]

    # ingest ------------------------------------------------------------------------------------

    def ingest(self, paths: Iterable[str | Path], progress: Callable[..., None] | None = None) -> list[IngestResult]:
        """Ingest files or folders as server jobs, one per path, waiting for each; `progress` is called
        as in process (path, stage, done, total)."""
        from vidrag.indexing.pipeline import IngestResult

        results: list[IngestResult] = []
        for raw in paths:
            path = Path(raw).resolve()
            if not path.exists():
                results.append(IngestResult(str(raw), "failed", error=f"{raw}: no such file or folder."))
                continue
            try:
                job = self._request("POST", "/videos", json={"path": str(path)}).json()
            except InputError as err:
                if str(err) == "no video files found":  # a folder without videos: nothing to do, as in process
                    continue
                raise
            job = self.wait(job["id"], progress)
            files = cast("list[dict[str, object]]", (job.get("result") or {}).get("files", []))  # IngestResult rows
            results.extend(_from_dict(IngestResult, row) for row in files)
            if job["status"] == "failed" and not (job.get("result") or {}).get("files"):
                raise VidragError(f"The server's ingest of {path} failed: {job.get('error')}")
        return results

    def wait(self, job_id: str, progress: Callable[..., None] | None = None) -> Job:
        """Poll a job until it ends; its last state."""
        import time

        while True:
            job: Job = self._request("GET", f"/jobs/{job_id}").json()
            state = job.get("progress") or {}
            if progress is not None and state.get("file") and state.get("stage") not in ("queued", "done", "failed"):
                done, total = cast(float, state.get("done", 0)), cast(float, state.get("total", 0))  # numbers, as sent
                progress(state["file"], state["stage"], float(done), float(total))
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(JOB_POLL_S)

    def ingest_on_ray(self, *args: object, **kwargs: object) -> NoReturn:
        raise self.needs_local("ingest --ray")

    # answers -----------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        session: str | None = None,
        stream: Stream | None = None,
        top_k: int | None = None,
    ) -> dict[str, JSON]:
        """The server's answer, in the shape `vidrag.agent.answer_question` returns; `stream` gets the
        same step and token events."""
        if not question or not question.strip():
            raise InputError("The question is empty; ask something about the videos.")
        body: dict[str, JSON] = {"question": question, "session_id": session, "stream": stream is not None}
        if top_k is not None:
            body["top_k"] = top_k
        if stream is None:
            return agent_result(self._request("POST", "/ask", json=body, timeout=None).json())
        return self._ask_streaming(body, stream)

    def _ask_streaming(self, body: dict[str, JSON], stream: Stream) -> dict[str, JSON]:
        import httpx

        try:
            with self._http.stream("POST", "/ask", json=body, timeout=None) as response:  # an agent may take minutes
                if response.status_code >= 400:
                    response.read()
                    raise_for(response)
                event = ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data = json.loads(line[5:])
                        if event == "token":
                            stream({"type": "token", "delta": data.get("delta", data.get("text", ""))})
                        elif event == "step":
                            stream(data)
                        elif event == "answer":
                            return agent_result(data)
                        elif event == "error":
                            raise error_for(int(data.get("status", 500)), data)
        except httpx.HTTPError as err:
            raise BackendUnavailable(f"The vidrag server at {self.server.url} did not answer: {err}.") from err
        raise BackendUnavailable(f"The vidrag server at {self.server.url} closed the answer stream early.")

    # what needs the library in this process ----------------------------------------------------

    def needs_local(self, what: str) -> BackendUnavailable:
        return BackendUnavailable(
            f"{what} needs the library in this process, but the vidrag server at {self.server.url} "
            f"({discovery.describe_process(self.server.pid)}) owns it; stop the server and run it again."
        )

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(name)
        raise self.needs_local(f"Library.{name}")


def agent_result(data: dict[str, Any]) -> dict[str, JSON]:  # Any: the server's JSON as httpx's .json() reads it
    """An `/ask` answer in the shape `answer_question` returns (citations without the API's links)."""
    keep = ("video", "video_id", "start", "end", "quote")
    result: dict[str, JSON] = {
        "answer": data.get("answer", ""),
        "citations": [{k: c.get(k) for k in keep} for c in data.get("citations", [])],
        "outcome": data.get("outcome", "answered"),
        "mode": data.get("mode", ""),
        "steps": data.get("steps", []),
        "removed_citations": data.get("removed_citations", []),
        "seconds": data.get("seconds") or 0.0,
    }
    for marked in ("parts", "answer_marked"):  # untrusted video text, marked as in process
        if marked in data:
            result[marked] = data[marked]
    if data.get("session_id"):
        result["session"] = data["session_id"]
    return result


def error_for(status: int, body: Mapping[str, object]) -> VidragError:
    """The vidrag error for an HTTP error status and its JSON body."""
    message = str(body.get("message") or body.get("detail") or f"HTTP {status}")
    if status == 404:
        return NotFound(message)
    if status in (400, 403, 409, 413, 415, 422):
        return InputError(message if isinstance(body.get("detail"), str) else f"bad input: {body.get('detail')}")
    if status == 401:
        return BackendUnavailable(f"The vidrag server refused the key in its server.json ({message}).")
    if status == 503:
        return BackendUnavailable(message)
    return VidragError(f"The vidrag server failed: {message}")


def raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:300]}
    if not isinstance(body, dict):
        body = {"detail": str(body)}
    raise error_for(response.status_code, body)
