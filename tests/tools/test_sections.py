"""FramePack section arithmetic and resolution bucketing (pure functions, no torch)."""

import math

import pytest

from vidrag.storage.errors import InputError
from vidrag.tools.talking_head.sections import (
    bucket_size,
    check_size,
    frames_returned,
    plan_sections,
    sections_for,
    split_parts,
    target_frames,
    window_frames,
)


@pytest.mark.parametrize(("lws", "window"), [(9, 33), (3, 9), (2, 5)])
def test_window_is_lws_minus_one_times_four_plus_one(lws, window):
    assert window_frames(lws) == window


def test_window_below_two_is_refused():
    with pytest.raises(InputError, match="latent_window_size"):
        window_frames(1)


@pytest.mark.parametrize(("num_frames", "sections"), [(1, 1), (33, 1), (34, 2), (66, 2), (67, 3), (0, 1)])
def test_sections_round_num_frames_up_to_whole_windows(num_frames, sections):
    assert sections_for(num_frames, 9) == sections


@pytest.mark.parametrize("k", [1, 2, 3, 5, 10])
def test_each_section_adds_36_frames_at_lws_9(k):
    assert frames_returned(33 * k, 9) == 36 * k + 1


def test_output_length_is_not_num_frames():
    # 129 frames asked (the pipeline default) -> 4 sections -> 145 frames returned.
    assert frames_returned(129, 9) == 145


@pytest.mark.parametrize("seconds", [0.1, 0.5, 1.0, 1.2, 1.23, 2.5, 7.3, 10.0, 60.0, 120.0])
def test_plan_covers_the_duration_with_whole_sections(seconds):
    plan = plan_sections(seconds, fps=30.0, latent_window_size=9)
    assert plan.target_frames == max(1, round(30 * seconds))
    assert plan.sections == max(1, math.ceil((30 * seconds - 1) / 36))  # the facts file's formula
    assert plan.num_frames == 33 * plan.sections
    assert plan.frames_returned == frames_returned(plan.num_frames, 9) == 36 * plan.sections + 1
    assert plan.frames_returned >= plan.target_frames
    assert 0 <= plan.trim < 36
    assert plan.trim == plan.frames_returned - plan.target_frames


def test_plan_for_ten_seconds_matches_worked_example():
    plan = plan_sections(10.0)
    assert (plan.target_frames, plan.sections, plan.num_frames, plan.frames_returned, plan.trim) == (
        300,
        9,
        297,
        325,
        25,
    )


@pytest.mark.parametrize("lws", [3, 5, 9, 12])
def test_plan_never_runs_a_spare_section(lws):
    for frames in range(1, 200):
        plan = plan_sections(frames / 24.0, fps=24.0, latent_window_size=lws)
        assert plan.frames_returned >= plan.target_frames
        assert plan.frames_returned - lws * 4 < plan.target_frames or plan.sections == 1


def test_target_frames_refuses_non_positive_values():
    assert target_frames(1.0, 30) == 30
    with pytest.raises(InputError, match="voice track"):
        target_frames(0.0, 30)
    with pytest.raises(InputError, match="fps"):
        target_frames(1.0, 0)


def test_check_size_accepts_multiples_of_16_and_names_the_fix():
    check_size(640, 352)
    with pytest.raises(InputError, match="width must be a positive multiple of 16, got 650"):
        check_size(650, 352)
    with pytest.raises(InputError, match="height"):
        check_size(640, 0)


def test_bucket_keeps_portrait_aspect_near_target_area():
    width, height = bucket_size(600, 800)
    assert (width, height) == (560, 736)
    assert abs(width / height - 0.75) < 0.02
    assert abs(width * height - 640 * 640) / (640 * 640) < 0.05


@pytest.mark.parametrize(
    ("size", "area"),
    [
        ((1920, 1080), 640 * 640),
        ((1080, 1920), 512 * 512),
        ((33, 97), 32 * 32),
        ((4000, 10), 64 * 64),
        ((32, 32), 32 * 32),
    ],
)
def test_bucket_gives_multiples_of_16(size, area):
    width, height = bucket_size(*size, target_area=area)
    assert width % 16 == 0 and height % 16 == 0
    assert width >= 16 and height >= 16
    if size == (32, 32):
        assert (width, height) == (32, 32)
    if size[0] > size[1]:
        assert width >= height


def test_bucket_refuses_empty_sizes():
    with pytest.raises(InputError):
        bucket_size(0, 100)


@pytest.mark.parametrize(
    ("sections", "limit", "parts"),
    [(1, 8, [1]), (8, 8, [8]), (9, 8, [5, 4]), (20, 8, [7, 7, 6]), (50, 8, [8, 7, 7, 7, 7, 7, 7]), (3, 1, [1, 1, 1])],
)
def test_long_plans_split_into_even_parts_no_longer_than_the_limit(sections, limit, parts):
    assert split_parts(sections, limit) == parts
    assert sum(parts) == sections and max(parts) <= limit


def test_a_60_s_script_runs_in_bounded_parts():
    plan = plan_sections(60.0)
    parts = split_parts(plan.sections, 8)
    assert plan.sections == 50 and len(parts) == 7 and max(parts) == 8


@pytest.mark.parametrize(("sections", "limit"), [(0, 8), (5, 0)])
def test_splitting_nothing_is_refused(sections, limit):
    with pytest.raises(InputError, match="Cannot split"):
        split_parts(sections, limit)
