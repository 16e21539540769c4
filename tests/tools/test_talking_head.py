"""Talking heads through the real FramePack pipeline code, on the CPU with tiny random components.

32x32 frames, 2 steps, latent window 3: a generation takes about a second on 2 cores. Outputs are
noise (random weights), so the tests assert structure, durations, determinism and errors. Needs
ffmpeg and espeak-ng (Debian packages, installed by .ci/setup).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import media
from vidrag.storage.errors import BackendUnavailable, InputError, ModelMissing
from vidrag.tools.talking_head import TalkingHeadRequest, generate_talking_head
from vidrag.tools.talking_head.framepack import (
    BASE_REPO,
    REDUX_REPO,
    VARIANTS,
    apply_memory_mode,
    default_memory_mode,
    load_framepack,
    missing_weights,
    resolve_device,
)
from vidrag.tools.talking_head.media import grab_frame, probe
from vidrag.tools.talking_head.pipeline import CommandLipSync, MotionSettings, TalkingHeadPipeline, run_motion
from vidrag.tools.talking_head.sections import plan_sections
from vidrag.tools.talking_head.tiny import TINY_MODEL_IDS, TINY_PROMPT_TEMPLATE, tiny_pipeline
from vidrag.tools.talking_head.tts import EspeakVoice, TransformersVoice, make_voice, wav_duration

SCRIPT = "Hello, and welcome to the video library."
FAST = {"steps": 2, "latent_window_size": 3, "target_area": 32 * 32, "prompt": "a person talks"}


@pytest.fixture(scope="module")
def tiny():
    return tiny_pipeline(0)


@pytest.fixture(scope="module")
def portrait(tmp_path_factory):
    path = tmp_path_factory.mktemp("portrait") / "face.png"
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)).save(path)
    return path


def maker(load, **kwargs):
    return TalkingHeadPipeline(load, model_ids=TINY_MODEL_IDS, prompt_template=TINY_PROMPT_TEMPLATE, **kwargs)


@pytest.fixture(scope="module")
def made(tiny, portrait, tmp_path_factory):
    calls = []
    out = tmp_path_factory.mktemp("made") / "talk.mp4"
    result = maker(lambda: tiny).generate(
        portrait, SCRIPT, out, MotionSettings(seed=1, **FAST), progress=lambda done, total: calls.append((done, total))
    )
    return result, calls


def test_mp4_has_h264_video_and_aac_audio(made):
    result, _ = made
    info = probe(result.video)
    assert info["video"]["codec"] == "h264"
    assert info["audio"]["codec"] == "aac"
    assert info["video"]["frames"] == result.metadata["frames"]


def test_video_and_audio_durations_match_within_one_frame(made):
    result, _ = made
    info = probe(result.video)
    frame = 1 / result.metadata["fps"]
    assert abs(info["video"]["duration"] - info["audio"]["duration"]) <= frame
    assert abs(info["video"]["duration"] - result.metadata["audio_seconds"]) <= frame


def test_frames_follow_the_section_plan(made):
    result, _ = made
    meta = result.metadata
    plan = plan_sections(meta["audio_seconds"], meta["fps"], 3)
    assert meta["sections"]["sections"] == plan.sections > 1
    assert meta["frames"] == plan.target_frames == round(meta["audio_seconds"] * 30)
    assert meta["sections"]["frames_returned"] - meta["sections"]["trim"] == meta["frames"]
    assert len(meta["timings"]["sections"]) == plan.sections


def test_sidecar_records_script_prompt_seed_models_sizes_timings(made):
    result, _ = made
    sidecar = json.loads(result.metadata_path.read_text())
    assert result.metadata_path == result.video.with_suffix(".json")
    assert sidecar["script"] == SCRIPT and sidecar["prompt"] == "a person talks" and sidecar["seed"] == 1
    assert sidecar["model_ids"] == TINY_MODEL_IDS
    assert (sidecar["width"], sidecar["height"]) == (32, 32)
    assert {"voice", "load", "motion", "encode", "mux", "total"} <= set(sidecar["timings"])
    assert sidecar["voice"]["name"] == "espeak"


def test_progress_counts_up_to_its_total(made):
    _, calls = made
    done = [d for d, _ in calls]
    assert done == sorted(done) and calls[-1][0] == calls[-1][1]
    assert calls[-1][1] == made[0].metadata["sections"]["sections"] * 2 + 3


def _motion(pipe, portrait, seed):
    settings = MotionSettings(seed=seed, **FAST)
    frames, _ = run_motion(
        pipe,
        Image.open(portrait).convert("RGB"),
        32,
        32,
        plan_sections(0.5, 30, 3),
        settings,
        prompt_template=TINY_PROMPT_TEMPLATE,
    )
    return frames


def test_same_seed_gives_identical_frames_and_another_seed_differs(tiny, portrait):
    first, again, other = (_motion(tiny, portrait, s) for s in (3, 3, 4))
    assert first.shape == (15, 32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def _never_loaded():
    raise AssertionError("validation must fail before the model loads")


@pytest.mark.parametrize(
    ("script", "settings", "message"),
    [
        ("   ", {}, "script is empty"),
        (SCRIPT, {"width": 40, "height": 32}, "width must be a positive multiple of 16, got 40"),
        (SCRIPT, {"sampling": "vanilla", "use_last_image": True}, "last image needs inverted_anti_drifting"),
        (SCRIPT, {"sampling": "sideways"}, "Unknown sampling"),
        (SCRIPT, {"steps": 0}, "steps must be at least 1"),
    ],
)
def test_invalid_inputs_fail_before_loading(portrait, tmp_path, script, settings, message):
    with pytest.raises(InputError, match=message):
        maker(_never_loaded).generate(portrait, script, tmp_path / "x.mp4", MotionSettings(**settings))


def test_unreadable_images_are_refused(tmp_path):
    fake = tmp_path / "face.png"
    fake.write_text("not an image")
    for image in (fake, tmp_path / "missing.png"):
        with pytest.raises(InputError, match="Cannot read the portrait image"):
            maker(_never_loaded).generate(image, SCRIPT, tmp_path / "x.mp4")


def test_output_must_be_mp4(portrait, tmp_path):
    with pytest.raises(InputError, match=r"\.mp4"):
        maker(_never_loaded).generate(portrait, SCRIPT, tmp_path / "x.avi")


def test_frame_grab_from_a_video(made):
    frame = grab_frame(made[0].video, 0.5)
    assert frame.size == (32, 32) and frame.mode == "RGB"
    with pytest.raises(InputError, match="no frame at"):
        grab_frame(made[0].video, 99.0)
    with pytest.raises(InputError, match="Cannot read a frame"):
        grab_frame(made[0].metadata_path, 0.0)


def test_a_frame_grabbed_from_a_phone_video_is_upright(tmp_path):
    frame = grab_frame(media.rotated_phone_video(tmp_path), 1.0)
    assert frame.size == (360, 640)  # width, height: held upright, as the video displays


def test_agent_tool_takes_a_video_frame_and_returns_paths(made, tmp_path):
    request = TalkingHeadRequest(
        image=str(made[0].video),
        script="Short one.",
        frame_time=0.5,
        tiny=True,
        seed=2,
        steps=2,
        latent_window_size=3,
        target_area=32 * 32,
    )
    result = generate_talking_head(request, tmp_path / "tool.mp4")
    assert Path(result["video"]).is_file() and Path(result["metadata"]).is_file()
    assert result["seed"] == 2 and (result["width"], result["height"]) == (32, 32)
    assert result["frames"] == round(wav_duration_of(result) * 30)


def test_a_request_round_trips_through_a_job_row_and_refuses_unknown_fields():
    request = TalkingHeadRequest(image="/v/talk.mp4", script="Hi.", frame_time=2.5, variant="framepack-f1", tiny=True)
    again = TalkingHeadRequest.from_dict(json.loads(json.dumps(request.to_dict())))
    assert again == request and again.portrait == ("/v/talk.mp4", 2.5)
    assert again.motion().sampling == "vanilla" and again.motion().target_area == 64 * 64
    with pytest.raises(InputError, match=r"Unknown talking-head parameters \['video_path'\]"):
        TalkingHeadRequest.from_dict({"image": "x.png", "script": "Hi.", "video_path": "v.mp4"})


def wav_duration_of(result):
    return json.loads(Path(result["metadata"]).read_text())["audio_seconds"]


def test_cli_command_tiny_json(portrait, tmp_path):
    import typer
    from typer.testing import CliRunner

    from vidrag.api.talking_head_cmd import talking_head_command

    app = typer.Typer()
    app.command("talking-head")(talking_head_command)
    app.command("other")(lambda: None)
    out = tmp_path / "cli.mp4"
    res = CliRunner().invoke(
        app,
        [
            "talking-head",
            "--image",
            str(portrait),
            "--script",
            "Hi there.",
            "--out",
            str(out),
            "--tiny",
            "--steps",
            "2",
            "--window",
            "3",
            "--area",
            "1024",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["video"] == str(out) and out.is_file()


def test_lipsync_command_runs_on_video_and_audio(tiny, portrait, tmp_path):
    template = """sh -c 'test -s "$1" && cp "$0" "$2"' {video} {audio} {out}"""  # a stand-in lip-sync tool
    sync = CommandLipSync(template)
    result = maker(lambda: tiny, lipsync=sync).generate(
        portrait, "One two.", tmp_path / "ls.mp4", MotionSettings(**FAST)
    )
    info = probe(result.video)
    assert info["video"]["codec"] == "h264" and result.metadata["lipsync"]["template"] == template
    assert abs(info["video"]["duration"] - info["audio"]["duration"]) <= 1 / 30
    assert "lipsync" in result.metadata["timings"]


def test_lipsync_errors_are_clear(tmp_path):
    with pytest.raises(InputError, match=r"\{audio\}"):
        CommandLipSync("tool {video} {out}")
    video, audio = tmp_path / "v.mp4", tmp_path / "a.wav"
    with pytest.raises(BackendUnavailable, match="Lip-sync command failed"):
        CommandLipSync("false {video} {audio} {out}").sync(video, audio, tmp_path / "o.mp4")


def test_missing_weights_name_the_repos_and_the_download_command(tmp_path):
    with pytest.raises(ModelMissing) as caught:
        load_framepack("framepack", device="cpu", allow_cpu=True, cache_dir=str(tmp_path))
    text = str(caught.value)
    assert "vidrag models download framepack" in text
    for repo in (BASE_REPO, REDUX_REPO, "lllyasviel/FramePackI2V_HY"):
        assert repo in text
    with pytest.raises(ModelMissing, match="vidrag models download framepack-f1"):
        load_framepack("framepack-f1", device="cpu", allow_cpu=True, cache_dir=str(tmp_path))


def _fake_snapshot(cache, repo, parts):
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text("0" * 40)
    snap = root / "snapshots" / ("0" * 40)
    for part in parts:
        target = snap / part
        if part.endswith("/") or not part:
            target.mkdir(parents=True, exist_ok=True)
            (target / "config.json").write_text("{}")
            (target / "model.safetensors").write_bytes(b"0")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("{}")


def test_missing_weights_lists_only_what_is_absent(tmp_path):
    from vidrag.tools.talking_head.framepack import _BASE_PARTS, _REDUX_PARTS

    _fake_snapshot(tmp_path, BASE_REPO, _BASE_PARTS)
    _fake_snapshot(tmp_path, REDUX_REPO, [p for p in _REDUX_PARTS if p != "image_encoder/"])
    assert missing_weights(VARIANTS["framepack"], str(tmp_path)) == [
        "lllyasviel/FramePackI2V_HY",
        f"{REDUX_REPO}/image_encoder",
    ]


def test_real_model_refuses_the_cpu_unless_allowed(tmp_path):
    with pytest.raises(BackendUnavailable, match=r"5 s clip .* would take about [\d.]+ h here") as caught:
        load_framepack("framepack", cache_dir=str(tmp_path))  # tests hide CUDA: the default is the CPU
    assert "allow_cpu" in str(caught.value) and "on an H200" in str(caught.value)
    assert resolve_device("cpu", allow_cpu=True) == "cpu"
    with pytest.raises(BackendUnavailable, match="no CUDA"):
        resolve_device("cuda", allow_cpu=False)


def test_memory_modes_are_checked(tiny):
    assert default_memory_mode("cpu") == "none"
    with pytest.raises(InputError, match="Unknown memory mode"):
        apply_memory_mode(tiny, "sequential", "cpu")
    with pytest.raises(InputError, match="use 'none'"):
        apply_memory_mode(tiny, "group_offload", "cpu")
    with pytest.raises(InputError, match="Unknown FramePack variant"):
        load_framepack("framepack-2")


def test_espeak_voice_options_change_the_speech(tmp_path):
    slow = wav_duration(EspeakVoice(speed=100).synthesize(SCRIPT, tmp_path / "slow.wav"))
    fast = wav_duration(make_voice("espeak:en-gb", speed=300).synthesize(SCRIPT, tmp_path / "fast.wav"))
    assert slow > fast * 1.8 > 0
    assert make_voice("espeak:en-gb").describe()["voice"] == "en-gb"


def test_voice_errors_are_clear(tmp_path):
    with pytest.raises(InputError, match="Unknown voice 'piper'"):
        make_voice("piper")
    with pytest.raises(BackendUnavailable, match="apt-get install espeak-ng"):
        EspeakVoice(binary="no-such-espeak").synthesize("hi", tmp_path / "x.wav")
    with pytest.raises(BackendUnavailable, match="espeak-ng --voices"):
        EspeakVoice(voice="xx-nope").synthesize("hi", tmp_path / "x.wav")
    with pytest.raises(ModelMissing, match="huggingface-cli download facebook/mms-tts-eng"):
        make_voice("transformers:facebook/mms-tts-eng").synthesize("hi", tmp_path / "x.wav")
    assert isinstance(make_voice("transformers"), TransformersVoice)
