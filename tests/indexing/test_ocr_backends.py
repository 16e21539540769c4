"""OCR backends: choosing one by name (`VIDRAG_OCR`), rapidocr reading real frames, and re-ingest on a switch."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tests import media
from vidrag.api.settings import Settings
from vidrag.indexing.media import iter_frames, probe
from vidrag.indexing.ocr import OcrReader, RapidOcrReader, TextLine, join_wrapped_headings, make_ocr
from vidrag.samples.content import HELD_OUT, LECTURES
from vidrag.samples.library import render_slide
from vidrag.samples.third import THIRD
from vidrag.storage.errors import InputError


@pytest.fixture(scope="module")
def rapid():
    return RapidOcrReader()


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        ("tesseract", "tesseract"),
        ("RapidOCR", "rapidocr"),
        ("off", "off"),
        ("false", "off"),
        (False, "off"),
        (True, "tesseract"),
    ],
)
def test_the_setting_takes_a_backend_name_or_the_old_booleans(value, backend):
    assert Settings(ocr=value).ocr == backend


def test_an_unknown_backend_is_refused_naming_the_choices():
    with pytest.raises(ValidationError, match="unknown OCR backend 'easyocr'; use one of tesseract, rapidocr, off"):
        Settings(ocr="easyocr")
    with pytest.raises(InputError, match="Unknown OCR backend 'easyocr'; set VIDRAG_OCR to one of"):
        make_ocr("easyocr")
    assert make_ocr("off") is None
    assert isinstance(make_ocr("tesseract"), OcrReader) and isinstance(make_ocr("rapidocr"), RapidOcrReader)


def test_rapidocr_reads_a_slide_line_by_line_top_to_bottom(rapid):
    slide = np.asarray(
        render_slide(
            "Sliding Window Protocol", ["Receiver advertises a window", "Sender waits"], header="How TCP Works"
        ).convert("RGB")
    )
    assert rapid.read(slide) == [
        "How TCP Works",
        "Sliding Window Protocol",
        "Receiver advertises a window",
        "Sender waits",
    ]


def test_rapidocr_finds_nothing_on_a_blank_frame(rapid):
    assert rapid.read(np.full((360, 640, 3), 235, np.uint8)) == []


def test_rapidocr_reads_a_decoded_video_frame(rapid, tmp_path):
    path = media.speech_video(tmp_path, sentence="Short.", text="Quarterly Budget Review")
    _, frame = next(iter_frames(path, probe(path)))
    assert "Quarterly Budget Review" in rapid.read(frame)


def test_a_wrapped_heading_is_one_line_and_body_lines_stay_apart():
    header = TextLine("How TCP Connections Work", 34, 25, 237, 36)
    title = TextLine("Congestion Control and Slow", 33, 53, 520, 82)
    rest = TextLine("Start", 34, 94, 117, 116)
    texts = ["Window starts small", "Doubles each trip", "Halves on loss"]
    bullets = [TextLine(text, 56, 147 + 40 * i, 56 + 12 * len(text), 169 + 40 * i) for i, text in enumerate(texts)]
    assert join_wrapped_headings([header, title, rest, *bullets]) == [
        "How TCP Connections Work",
        "Congestion Control and Slow Start",
        "Window starts small",
        "Doubles each trip",
        "Halves on loss",
    ]
    # not joined: another paragraph, a line indented under the heading, a gap of more than a line
    apart = [header, title, rest._replace(group=(2,)), *bullets]
    indented = [header, title, rest._replace(left=80, right=163), *bullets]
    far = [header, title, rest._replace(top=140, bottom=162), *bullets]
    for lines in (apart, indented, far):
        assert "Start" in join_wrapped_headings(lines)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tesseract", "rapidocr"])
def test_every_sample_slide_is_read_back_line_for_line(backend, rapid):
    # five slide titles are wrapped onto two lines ("Case Study: The Golden Gate" / "Bridge"); each is read
    # as one, and no other lines are joined (rapidocr, slower, reads the slides with the longer titles)
    reader = rapid if backend == "rapidocr" else OcrReader()
    for lecture in LECTURES + HELD_OUT + THIRD:
        for seg in lecture.segments:
            if backend == "rapidocr" and len(seg.title) < 30:
                continue
            style = lecture.style
            picture = render_slide(seg.title, seg.bullets, style.size, header=lecture.title, style=style)
            read = reader.read(np.asarray(picture))
            assert [line for line in [seg.title, *seg.bullets] if line not in read] == [], (lecture.file, read)


@pytest.mark.slow
def test_switching_the_backend_reindexes_stored_videos(tmp_path):
    from vidrag.api.wiring import open_library

    path = media.speech_video(tmp_path, sentence="We open the budget review.", text="Budget Review")

    def ingest(backend: str) -> list:
        library = open_library(Settings(home=tmp_path / "home", ocr=backend), for_ingest=True)
        try:
            result = library.ingest([path])[0]
            return [result.status, [c.ocr for c in library.clips(result.video_id)]]
        finally:
            library.close()

    assert ingest("tesseract")[0] == "indexed"
    status, ocr = ingest("rapidocr")
    assert status == "indexed" and "Budget Review" in ocr[0]
    assert ingest("rapidocr")[0] == "unchanged"
    assert ingest("true")[0] == "indexed"  # back to tesseract, the default: read again
