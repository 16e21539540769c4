"""Frame sampling and MiniCPM-V temporal_ids as pure functions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vidrag.indexing.sampling import (
    evenly_spaced,
    fit_frame,
    fit_size,
    frame_count,
    frame_times,
    group_count,
    nearest_indices,
    select_frames,
    temporal_ids,
)
from vidrag.storage.errors import InputError


def test_frames_sit_at_bin_centres():
    assert frame_times(0.0, 2.0, 2.0) == pytest.approx([0.25, 0.75, 1.25, 1.75])
    assert frame_times(10.0, 13.0, 1.0) == pytest.approx([10.5, 11.5, 12.5])


def test_clip_from_the_middle_of_a_long_video_keeps_source_times():
    times = frame_times(3600.0, 3610.0, 3.0)
    assert len(times) == 30
    assert times[0] == pytest.approx(3600 + 1 / 6) and times[-1] == pytest.approx(3610 - 1 / 6)
    assert all(3600 < t < 3610 for t in times)


def test_counts_at_least_one_and_capped():
    assert frame_count(0.1, 1.0) == 1  # a very short clip still gets a frame
    assert frame_times(5.0, 5.0, 3.0) == [5.0]
    assert frame_count(10.0, 2.5) == 25
    assert frame_count(600.0, 3.0, max_frames=180) == 180
    capped = frame_times(0.0, 600.0, 3.0, max_frames=4)
    assert capped == pytest.approx([75.0, 225.0, 375.0, 525.0])  # still spans the whole clip


@pytest.mark.parametrize("args", [(0.0, 1.0, 0.0), (0.0, 1.0, -1.0), (2.0, 1.0, 1.0), (-1.0, 1.0, 1.0)])
def test_bad_spans_and_rates(args):
    with pytest.raises(InputError):
        frame_times(*args)
    with pytest.raises(InputError, match="max_frames"):
        frame_count(1.0, 1.0, max_frames=0)


def test_temporal_ids_are_tenths_of_a_second_from_the_origin_in_groups():
    times = frame_times(100.0, 104.0, 1.5)  # 6 frames, 100.333 ... 103.667
    groups = temporal_ids(times, 3, origin=100.0)
    assert groups == [[3, 10, 17], [23, 30, 37]]
    assert temporal_ids(times, 1, origin=100.0) == [[3], [10], [17], [23], [30], [37]]
    assert temporal_ids(times, 4, origin=100.0) == [[3, 10, 17, 23], [30, 37]]  # last group shorter
    assert temporal_ids([12.34, 12.5], 6) == [[0, 2]]  # default origin: first frame rounded down


@pytest.mark.parametrize("packing", [1, 2, 3, 4, 5, 6])
def test_flattened_ids_match_frame_count(packing):
    times = frame_times(0, 10, 3)
    groups = temporal_ids(times, packing, origin=0)
    assert sum(len(g) for g in groups) == len(times) == 30
    assert len(groups) == group_count(30, packing)
    assert all(len(g) == packing for g in groups[:-1])


@pytest.mark.parametrize("bad", [0, 7, 2.5, True, "3"])
def test_packing_must_be_1_to_6(bad):
    with pytest.raises(InputError, match="1 to 6"):
        temporal_ids([0.0, 1.0], bad)


def test_temporal_ids_reject_bad_times():
    with pytest.raises(InputError, match="ascending"):
        temporal_ids([1.0, 0.5], 2)
    with pytest.raises(InputError, match="before the temporal origin"):
        temporal_ids([1.0, 2.0], 2, origin=1.5)
    with pytest.raises(InputError, match="No frame times"):
        temporal_ids([], 3)


def test_selecting_decoded_frames_nearest_the_wanted_times():
    decoded = [k / 10 for k in range(100)]  # 10 fps for 10 s
    assert select_frames(decoded, 0.0, 10.0, 1.0) == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    assert nearest_indices([0.0, 1.0, 2.0], [0.1, 0.2, 1.9]) == [0, 2]  # repeats dropped
    with pytest.raises(InputError):
        nearest_indices([], [1.0])
    assert evenly_spaced(3, 8) == [0, 1, 2]
    assert evenly_spaced(100, 4) == [12, 37, 62, 87]


def test_fit_size_keeps_aspect_and_never_grows():
    assert fit_size(1920, 1080) == (448, 252)
    w, h = fit_size(1000, 1000, max_side=2000)
    assert w * h <= 448 * 448 and w == h
    assert fit_size(320, 240) == (320, 240)
    with pytest.raises(InputError):
        fit_size(0, 10)


def test_fit_frame_returns_rgb_images_of_the_right_size():
    image = fit_frame(np.zeros((720, 1280, 3), np.uint8))
    assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (448, 252)
    assert fit_frame(Image.new("L", (100, 50))).mode == "RGB"
    with pytest.raises(InputError, match="HxWx3"):
        fit_frame(np.zeros((4, 4, 2), np.uint8))
