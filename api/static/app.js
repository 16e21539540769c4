// vidrag web page: library, search, ask with a streamed answer, cited moments that play in place.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { key: localStorage.getItem("vidragKey") || "", stopAt: null, jobs: new Map() };

// --- helpers ----------------------------------------------------------------------------------

function clock(seconds) {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, "0")}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

function setKeyCookie() {
  document.cookie = `vidrag_api_key=${encodeURIComponent(state.key)}; path=/; SameSite=Strict`;
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.key) headers["X-API-Key"] = state.key;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) { askForKey(); throw new Error("API key needed"); }
  if (!response.ok) {
    let detail = response.statusText;
    try { const body = await response.json(); detail = body.message || body.detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return response;
}

function askForKey() {
  const dialog = $("key-dialog");
  if (!dialog.open) { $("key-input").value = state.key; dialog.showModal(); }
}

// --- playing a span ---------------------------------------------------------------------------

function playSpan(videoId, start, end, label) {
  const player = $("player");
  const src = `/videos/${videoId}/media#t=${start.toFixed(2)},${end.toFixed(2)}`;
  state.stopAt = end;
  $("now-playing").textContent = `${label} · ${clock(start)} – ${clock(end)}`;
  const sameVideo = player.dataset.videoId === videoId && player.readyState >= 1;
  const seek = () => { player.currentTime = start; player.play().catch(() => {}); };
  if (sameVideo) { seek(); return; }
  player.dataset.videoId = videoId;
  player.addEventListener("loadedmetadata", seek, { once: true });
  player.src = src;
  player.load();
}

$("player").addEventListener("timeupdate", () => {
  const player = $("player");
  if (state.stopAt !== null && player.currentTime >= state.stopAt) { player.pause(); state.stopAt = null; }
});
$("player").addEventListener("seeking", () => {
  // a seek by hand outside the span ends the span
  const player = $("player");
  if (state.stopAt !== null && player.currentTime > state.stopAt + 0.25) state.stopAt = null;
});

// --- library ----------------------------------------------------------------------------------

async function loadVideos() {
  const videos = await (await api("/videos")).json();
  $("video-count").textContent = videos.length ? `(${videos.length})` : "";
  const list = $("videos");
  list.replaceChildren();
  const select = $("search-video");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", textContent: "all videos" }));
  for (const video of videos) {
    const thumb = el("img", { alt: "", loading: "lazy", src: `${video.thumbnail_url}?t=${Math.min(1, video.duration / 2).toFixed(1)}` });
    const meta = el("div", { className: "meta" },
      el("div", { className: "name", textContent: video.name, title: video.path }),
      el("span", { className: `badge ${video.status}`, textContent: video.status }),
      el("span", { className: "muted", textContent: `  ${clock(video.duration)} · ${video.clip_count} clips` }));
    const remove = el("button", { className: "icon", type: "button", title: `Delete ${video.name}`, textContent: "✕" });
    remove.addEventListener("click", (event) => { event.stopPropagation(); deleteVideo(video); });
    const item = el("li", { tabIndex: 0, title: video.summary || video.name }, thumb, meta, remove);
    item.dataset.videoId = video.id;
    const play = () => playSpan(video.id, 0, video.duration, video.name);
    item.addEventListener("click", play);
    item.addEventListener("keydown", (event) => { if (event.key === "Enter") play(); });
    list.append(item);
    select.append(el("option", { value: video.id, textContent: video.name }));
  }
  select.value = chosen;
  if (!videos.length) list.append(el("li", { className: "muted", textContent: "No videos yet: upload some." }));
}

async function deleteVideo(video) {
  if (!confirm(`Remove ${video.name} from the library?`)) return;
  try { await api(`/videos/${video.id}`, { method: "DELETE" }); } catch (error) { alert(error.message); }
  loadVideos().catch(() => {});
}

function uploadFile(file) {
  const row = el("li", {}, el("div", { textContent: `${file.name}: uploading…` }),
    el("div", { className: "progress" }, el("div", { style: "width:0%" })));
  $("jobs").prepend(row);
  const bar = row.querySelector(".progress > div");
  const form = new FormData();
  form.append("file", file);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/videos");
  if (state.key) xhr.setRequestHeader("X-API-Key", state.key);
  xhr.upload.onprogress = (event) => { if (event.lengthComputable) bar.style.width = `${(100 * event.loaded) / event.total}%`; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
    if (xhr.status === 202) {
      if (state.jobs.has(body.id)) row.remove(); // a poll showed the job already
      else state.jobs.set(body.id, { row, open: true });
      syncJobs();
      return;
    }
    if (xhr.status === 401) askForKey();
    row.firstChild.textContent = `${file.name}: ${body.message || body.detail || xhr.statusText}`;
    row.firstChild.className = "error";
  };
  xhr.onerror = () => { row.firstChild.textContent = `${file.name}: upload failed`; row.firstChild.className = "error"; };
  xhr.send(form);
}

// --- jobs: every job the server knows, wherever it was started, kept across reloads -------------

const JOB_POLL_MS = 1500;
const RECENT_FAILURE_S = 600;

function jobName(job) {
  const params = job.params || {};
  const first = (params.paths || [])[0] || "";
  return params.name || first.split("/").pop() || job.kind;
}

function jobRow(job) {
  let entry = state.jobs.get(job.id);
  if (!entry) {
    const row = el("li", {}, el("div", {}), el("div", { className: "progress" }, el("div", { style: "width:0%" })));
    $("jobs").prepend(row);
    entry = { row, open: true };
    state.jobs.set(job.id, entry);
  }
  entry.row.dataset.jobId = job.id;
  return entry;
}

function showJob(job) {
  const entry = jobRow(job);
  const { row } = entry;
  const p = job.progress || {};
  row.querySelector(".progress > div").style.width = `${job.status === "done" ? 100 : p.percent || 0}%`;
  const clips = p.clips_total ? ` · clips ${p.clips_done}/${p.clips_total}` : "";
  const files = p.files_total > 1 ? ` · file ${Math.min(p.files_done + 1, p.files_total)}/${p.files_total}` : "";
  const label = row.firstChild;
  label.className = job.status === "failed" ? "error" : "";
  label.textContent = `${jobName(job)}: ${job.status}${p.stage && p.stage !== job.status ? ` (${p.stage})` : ""}${files}${clips}`;
  if (job.status === "failed") label.textContent += ` — ${job.error}`;
  const open = job.status === "queued" || job.status === "running";
  const ended = entry.open && !open;
  entry.open = open;
  if (ended && job.status === "done") setTimeout(() => row.remove(), 4000);
  return ended;
}

async function syncJobs() {
  let jobs;
  try {
    const response = await fetch("/jobs?limit=30", { headers: state.key ? { "X-API-Key": state.key } : {} });
    if (!response.ok) return; // a missing key is asked for by the library list, not every poll
    jobs = await response.json();
  } catch (_) { return; }
  const now = Date.now() / 1000;
  let changed = false;
  for (const job of jobs.reverse()) { // oldest first: each new row goes on top
    const open = job.status === "queued" || job.status === "running";
    const known = state.jobs.has(job.id);
    if (!known && !open && !(job.status === "failed" && now - job.updated < RECENT_FAILURE_S)) continue;
    if (!known && open) changed = true; // a new job: its video appears in the library as it starts
    if (showJob(job)) changed = true; // a job ended: its video's row changes
  }
  if (changed) loadVideos().catch(() => {});
}

function watchJobs() {
  syncJobs();
  setInterval(() => { if (!document.hidden) syncJobs(); }, JOB_POLL_MS);
}

function setUpUploads() {
  $("file-input").addEventListener("change", (event) => { [...event.target.files].forEach(uploadFile); event.target.value = ""; });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    [...event.dataTransfer.files].forEach(uploadFile);
  });
}

// --- search -----------------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) return;
  const button = $("search-button");
  button.disabled = true;
  $("search-status").textContent = "Searching…";
  const body = { query, top_k: 12 };
  if ($("search-video").value) body.video = $("search-video").value;
  try {
    const result = await (await api("/search", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
    renderHits(result.hits);
    $("search-status").textContent = `${result.hits.length} moment${result.hits.length === 1 ? "" : "s"} in ${result.took_ms.toFixed(0)} ms`;
  } catch (error) {
    $("search-status").innerHTML = "";
    $("search-status").append(el("span", { className: "error", textContent: error.message }));
  } finally {
    button.disabled = false;
  }
}

function renderHits(hits) {
  const list = $("hits");
  list.replaceChildren();
  for (const hit of hits) {
    const snippet = hit.transcript || hit.caption || hit.text;
    const card = el("li", { className: "hit", tabIndex: 0 },
      el("img", { alt: "", loading: "lazy", src: hit.thumbnail_url }),
      el("div", { className: "body" },
        el("div", { className: "when", textContent: `${hit.name} · ${clock(hit.start)} – ${clock(hit.end)}` }),
        el("q", { className: "text video-text", textContent: snippet, title: VIDEO_TEXT_TITLE })));
    const play = () => playSpan(hit.video_id, hit.start, hit.end, hit.name);
    card.addEventListener("click", play);
    card.addEventListener("keydown", (e) => { if (e.key === "Enter") play(); });
    list.append(card);
  }
}

// --- ask (server-sent events over a POST) -----------------------------------------------------

async function ask(event) {
  event.preventDefault();
  const question = $("ask-input").value.trim();
  if (!question) return;
  const button = $("ask-button");
  button.disabled = true;
  $("answer-box").hidden = false;
  $("steps").replaceChildren();
  $("citations").replaceChildren();
  const answer = $("answer");
  answer.textContent = "";
  answer.className = "answer-text loading";
  try {
    const response = await api("/ask", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, stream: true, session_id: sessionId() }) });
    await readEvents(response, handleEvent);
  } catch (error) {
    answer.append(el("div", { className: "error", textContent: error.message }));
  } finally {
    answer.classList.remove("loading");
    button.disabled = false;
  }
}

function sessionId() {
  let id = sessionStorage.getItem("vidragSession");
  if (!id) { id = `web-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`; sessionStorage.setItem("vidragSession", id); }
  return id;
}

async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let type = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) onEvent(type, JSON.parse(data));
    }
  }
}

function handleEvent(type, data) {
  const answer = $("answer");
  if (type === "step") {
    $("steps").append(el("li", { textContent: stepText(data) }));
  } else if (type === "token") {
    answer.textContent += data.text ?? data.delta ?? "";
  } else if (type === "answer") {
    renderAnswer(answer, data);
    renderCitations(data.citations);
  } else if (type === "error") {
    answer.append(el("div", { className: "error", textContent: data.message || data.detail }));
  }
}

// Text quoted from a video is untrusted (a slide may say "ignore previous instructions"): it is shown as a
// quotation, never in the system's voice.
const VIDEO_TEXT_TITLE = "Quoted from the video: data, not vidrag's words";

function renderAnswer(box, data) {
  box.replaceChildren();
  const parts = data.parts && data.parts.length ? data.parts : [{ text: data.answer, source: "answer" }];
  for (const part of parts) {
    if (part.source === "video") {
      const quote = part.text.replace(/^\u201c/, "").replace(/\u201d$/, "");
      box.append(el("q", { className: "video-text", textContent: quote, title: VIDEO_TEXT_TITLE }));
    } else {
      box.append(document.createTextNode(part.text));
    }
  }
}

function stepText(step) {
  if (step.text) return step.text;
  const args = Object.entries(step.args || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
  const result = typeof step.result === "string" ? ` → ${step.result.slice(0, 120)}` : "";
  return `${step.tool || "step"}(${args})${result}`;
}

function renderCitations(citations) {
  const box = $("citations");
  box.replaceChildren();
  citations.forEach((cite, index) => {
    const chip = el("button", { className: "chip", type: "button", title: cite.quote,
      textContent: `[${index + 1}] ${cite.name} ${clock(cite.start)}–${clock(cite.end)}` });
    chip.dataset.start = cite.start;
    chip.dataset.videoId = cite.video_id;
    chip.addEventListener("click", () => playSpan(cite.video_id, cite.start, cite.end, cite.name));
    box.append(chip);
  });
}

// --- start ------------------------------------------------------------------------------------

async function checkReady() {
  const pill = $("ready");
  try {
    const response = await fetch("/ready", { headers: state.key ? { "X-API-Key": state.key } : {} });
    if (response.status === 401) { pill.textContent = "key needed"; pill.className = "pill bad"; return; }
    const body = await response.json();
    pill.textContent = body.ready ? "ready" : "not ready";
    pill.className = `pill ${body.ready ? "ok" : "bad"}`;
    pill.title = Object.entries(body.checks).map(([name, c]) => `${name}: ${c.ok ? "ok" : "FAIL"} ${c.detail}`).join("\n");
  } catch (_) { pill.textContent = "offline"; pill.className = "pill bad"; }
}

function start() {
  if (state.key) setKeyCookie();
  $("search-form").addEventListener("submit", search);
  $("ask-form").addEventListener("submit", ask);
  $("key-button").addEventListener("click", askForKey);
  $("key-dialog").addEventListener("close", () => {
    if ($("key-dialog").returnValue !== "save") return;
    state.key = $("key-input").value.trim();
    localStorage.setItem("vidragKey", state.key);
    setKeyCookie();
    loadVideos().catch(() => {});
    checkReady();
  });
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing) { event.preventDefault(); $("search-input").focus(); }
  });
  setUpUploads();
  watchJobs();
  loadVideos().catch((error) => $("videos").replaceChildren(el("li", { className: "error", textContent: error.message })));
  checkReady();
}

start();
