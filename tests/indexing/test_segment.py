"""Clip planning as a pure function: coverage without gaps, bounds, merging, pause snapping."""

import pytest

from vidrag.indexing.segment import plan_clips
from vidrag.storage.errors import InputError


def _check_cover(spans, duration):
    assert spans[0][0] == 0.0
    assert spans[-1][1] == pytest.approx(duration)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start == end


@pytest.mark.parametrize("duration", [0.5, 3.0, 9.99, 10.0, 37.3, 600.0])
def test_no_cuts_gives_bounded_gapless_clips(duration):
    spans = plan_clips(duration, max_clip=10, min_clip=2)
    _check_cover(spans, duration)
    assert all(end - start <= 10.0 + 1e-9 for start, end in spans)


def test_shot_cuts_become_boundaries():
    spans = plan_clips(30, [4.0, 17.0], max_clip=20, min_clip=2)
    assert spans == [(0.0, 4.0), (4.0, 17.0), (17.0, 30.0)]


def test_tiny_shots_merge_into_a_neighbour():
    spans = plan_clips(30, [4.0, 4.5, 17.0, 29.2], max_clip=20, min_clip=2)
    _check_cover(spans, 30)
    assert all(end - start >= 2 for start, end in spans)
    assert len(spans) == 3


def test_long_shots_split_at_sentence_ends_near_the_middle():
    pauses = [(3.0, 0.3), (9.1, 1.4), (11.0, 0.2)]
    spans = plan_clips(20, max_clip=12, min_clip=2, pauses=pauses)
    assert spans == [(0.0, 9.1), (9.1, 20.0)]


def test_cut_inside_a_word_moves_to_the_nearest_pause():
    words = [(9.0, 10.4)]  # a word spoken across the shot cut at 9.7
    spans = plan_clips(20, [9.7], max_clip=15, min_clip=2, words=words, pauses=[(8.5, 0.5), (10.6, 0.5)])
    assert spans == [(0.0, 10.6), (10.6, 20.0)]


def test_cut_at_a_word_edge_stays_exact():
    spans = plan_clips(20, [9.7], max_clip=15, min_clip=2, words=[(9.0, 9.75)], pauses=[(10.6, 0.5)])
    assert spans == [(0.0, 9.7), (9.7, 20.0)]


def test_bad_arguments_are_rejected():
    with pytest.raises(InputError):
        plan_clips(0.0)
    with pytest.raises(InputError):
        plan_clips(10, max_clip=3, min_clip=2)
