"""Per-clip signals on real media: shot cuts, speech, on-screen text, the describer, embeddings."""

import numpy as np
import pytest

from tests import media
from vidrag.indexing.analysis import analyse
from vidrag.indexing.asr import Segment, Transcriber, Word, sentences
from vidrag.indexing.captioners import make_captioner
from vidrag.indexing.captioners.base import ClipFrames
from vidrag.indexing.describe import Describer, dominant_colours
from vidrag.indexing.embed import Embedder, tokens
from vidrag.indexing.media import iter_frames, load_audio, probe
from vidrag.indexing.ocr import OcrReader, merge_lines
from vidrag.indexing.segment import change_spikes, merge_cuts
from vidrag.storage.errors import InputError


def test_shot_cuts_are_found_within_one_frame(tmp_path):
    path = media.shots_video(tmp_path)
    info = probe(path)
    found = analyse(path, info, ocr=None).cuts
    assert len(found) == len(media.SHOT_CUTS)
    for cut, expected in zip(found, media.SHOT_CUTS):
        assert abs(cut - expected) <= 1 / 25 + 1e-6


def test_spike_detector_finds_still_picture_changes():
    motion = [(i / 25, 0.0005) for i in range(200)]
    motion[100] = (4.0, 0.03)
    motion[150] = (6.0, 0.004)  # too small to be a cut
    assert change_spikes(motion) == [4.0]
    assert merge_cuts([4.0, 9.0], [4.1, 12.0]) == [4.0, 9.0, 12.0]


def test_speech_and_screen_text_are_read(tmp_path):
    path = media.speech_video(
        tmp_path,
        sentence="Welcome to the budget meeting. Today we discuss the marketing plan for next year.",
        text="Quarterly Budget Review",
    )
    info = probe(path)
    transcript = Transcriber().transcribe(load_audio(path, info))
    words = transcript.text_between(0, info.duration).lower()
    assert all(word in words for word in ("budget", "marketing", "next year")), words
    assert transcript.language == "en"
    spoken = [w for s in transcript.segments for w in s.words]
    assert spoken[0].start < 1.0 and spoken[-1].end <= info.duration + 0.1
    _, frame = next(iter_frames(path, info))
    assert any("Quarterly Budget Review" in line for line in OcrReader().read(frame))


def test_batched_speech_is_read_into_one_line_a_sentence(tmp_path):
    path = media.speech_video(
        tmp_path,
        sentence="Welcome to the budget meeting. Today we discuss the marketing plan for next year.",
        text="Quarterly Budget Review",
    )
    audio = load_audio(path, probe(path))
    batched = Transcriber(batch=4)
    first, again = batched.transcribe(audio), batched.transcribe(audio)
    assert first.to_dict() == again.to_dict() and batched.variant == "base-batch4"
    # faster-whisper's batched pipeline gives one segment per speech chunk; lines are sentences
    assert [s.text.split()[0] for s in first.segments] == ["Welcome", "Today"], first.segments
    assert all(s.text.endswith(".") and s.start < s.end for s in first.segments)
    words = first.text_between(0, 60).lower()
    assert all(word in words for word in ("budget", "marketing", "next year")), words
    assert Transcriber().variant == "base"


def test_sentences_cut_at_the_punctuation_words_end_with():
    words = [Word(0, 1, " Is"), Word(1, 2, " it?"), Word(2, 3, ' "Yes."'), Word(3, 4, " Then"), Word(4, 5, " more")]
    lines = sentences(Segment(0, 5, 'Is it? "Yes." Then more', words))
    assert [(line.start, line.end, line.text) for line in lines] == [
        (0, 2, "Is it?"),
        (2, 3, '"Yes."'),
        (3, 5, "Then more"),
    ]
    assert sentences(Segment(0, 5, "no word times")) == [Segment(0, 5, "no word times")]
    cjk = [Word(0, 1, "好的。"), Word(1, 2, "下一个")]  # full-width marks end sentences too
    assert [line.text for line in sentences(Segment(0, 2, "好的。下一个", cjk))] == ["好的。", "下一个"]


def test_transcripts_are_reproducible(sample_dir):
    audio = load_audio(sample_dir / "solar_system.mp4")
    transcriber = Transcriber()
    first, second = transcriber.transcribe(audio), transcriber.transcribe(audio)
    assert first.to_dict() == second.to_dict()


def test_silence_gives_an_empty_transcript():
    transcript = Transcriber().transcribe(np.zeros(16000 * 3, dtype=np.float32))
    assert transcript.segments == [] and transcript.language is None


def test_merge_lines_dedupes_across_frames():
    assert merge_lines([["Agenda", "Item one"], ["agenda", "Item  one", "Item two"]]) == [
        "Agenda",
        "Item one",
        "Item two",
    ]


def test_describer_states_what_it_measures():
    white = np.full((180, 320, 3), 240, dtype=np.uint8)
    clip = ClipFrames(
        "v", 0, 5, [white], [2.5], transcript="", ocr="Title\nBullet one", stats={"motion": 0.0, "cuts": 0}
    )
    caption = Describer().caption([clip])[0]
    assert caption.fields["colours"] == "white"
    assert caption.fields["brightness"] == "bright"
    assert caption.fields["people"] == "no faces visible"
    assert caption.fields["setting"] == "slide or screen with text"
    assert "no speech" in caption.text
    assert dominant_colours(np.zeros((40, 40, 3), np.uint8)) == [("black", 1.0)]


def test_describer_counts_faces_on_real_footage(sample_dir):
    # Big Buck Bunny has no human faces; the detector must not invent many.
    path = sample_dir / "bigbuckbunny.mp4"
    info = probe(path)
    frames = [frame for i, (_, frame) in enumerate(iter_frames(path, info)) if i % 25 == 0]
    assert max(Describer().count_faces(f) for f in frames) <= 1


def test_unknown_captioner_lists_the_known_ones():
    with pytest.raises(InputError, match="describer"):
        make_captioner("gpt-vision")


def test_embedder_is_offline_minilm():
    embedder = Embedder()
    unloaded_dim = embedder.dim  # known without loading the model (a library opens without torch)
    assert embedder._model is None
    vectors = np.array(embedder.dense(["a cat sits on the mat", "a kitten rests on a rug", "tax law"]))
    assert vectors.shape == (3, 384) and unloaded_dim == 384
    getter = (
        getattr(embedder._model, "get_embedding_dimension", None) or embedder._model.get_sentence_embedding_dimension
    )
    assert getter() == unloaded_dim
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert tokens("The routers are forwarding packets") == ["router", "forward", "packet"]


def test_every_slide_change_of_the_sample_lectures_is_a_cut_and_read_again(sample_dir):
    import json

    manifest = json.loads((sample_dir / "manifest.json").read_text())
    reader = OcrReader()
    for video in manifest["videos"]:
        if video.get("kind") != "lecture":
            continue
        path = sample_dir / video["file"]
        analysis = analyse(path, probe(path), ocr=reader, caption_fps=0)
        expected = [segment["start"] for segment in video["segments"][1:]]
        assert len(analysis.cuts) == len(expected), (video["file"], analysis.cuts, expected)
        for cut, start in zip(analysis.cuts, expected):
            assert abs(cut - start) <= 1 / 25 + 1e-6, (video["file"], analysis.cuts, expected)
        # Each slide's own title is on screen while it is up (slides that differ little still count).
        for segment in video["segments"]:
            shown = " ".join(
                line for t, lines in analysis.ocr if segment["start"] <= t < segment["end"] for line in lines
            )
            assert segment["title"].split()[0] in shown, (video["file"], segment["title"], shown[:200])


def test_caption_frames_are_kept_compressed_and_decode_back(tmp_path):
    from vidrag.indexing.analysis import FrameSample

    path = media.shots_video(tmp_path)
    _, frame = next(iter_frames(path, probe(path)))
    sample = FrameSample.of(1.5, frame)
    assert len(sample.jpeg) < frame.nbytes / 4
    restored = sample.frame
    assert restored.shape == frame.shape and restored.dtype == np.uint8
    assert np.abs(restored.astype(int) - frame.astype(int)).mean() < 4.0


def test_whisper_base_is_joined_once_from_its_two_packages(tmp_path):
    from vidrag.indexing.asr import BASE_PACKAGES, packaged_base_model, resolve_whisper_model

    folder = packaged_base_model(tmp_path)
    assert folder is not None, f"install {' and '.join(BASE_PACKAGES)} (pyproject dependencies)"
    model = folder / "model.bin"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert model.stat().st_size > 140_000_000
    stamp = model.stat().st_mtime_ns
    assert packaged_base_model(tmp_path) == folder and model.stat().st_mtime_ns == stamp
    assert resolve_whisper_model("tiny.en") != resolve_whisper_model("base")
