import numpy as np
import pytest

from bioimage_course.data import make_nuclei_timelapse
from bioimage_course.metrics import temporal

MOVIE = make_nuclei_timelapse((5, 96, 96), rng=0).labels


def test_truth_is_consistent_and_complete():
    assert temporal.complete_tracks(MOVIE, MOVIE) == 1.0
    assert temporal.temporal_consistency(MOVIE) > 0.9


def test_fast_motion_needs_a_lower_link_threshold():
    square = np.zeros((2, 12, 12), int)
    square[0, 2:8, 2:8] = 1
    square[1, 2:8, 5:11] = 1  # moved by half its width: IoU 1/3 with the previous frame
    assert temporal.complete_tracks(square, square) == 1.0
    assert temporal.complete_tracks(square, square, link_thresh=0.5) == 0.0
    assert temporal.temporal_consistency(square, thresh=0.5) == 0.0


def test_relabelling_each_frame_changes_nothing():
    shuffled = np.stack([np.where(f > 0, 1000 - f, 0) for f in MOVIE])
    assert temporal.complete_tracks(MOVIE, shuffled) == 1.0
    assert temporal.temporal_consistency(shuffled) == temporal.temporal_consistency(MOVIE)


def test_one_missed_frame_breaks_exactly_that_track():
    ids = np.unique(MOVIE[MOVIE > 0])
    alive = [i for i in ids if all(np.any(f == i) for f in MOVIE)]
    flicker = MOVIE.copy()
    flicker[2][flicker[2] == alive[0]] = 0
    assert temporal.complete_tracks(MOVIE, flicker) == pytest.approx(1 - 1 / ids.size)
    assert temporal.temporal_consistency(flicker) < temporal.temporal_consistency(MOVIE)


def test_merging_two_objects_breaks_the_link():
    a = np.zeros((2, 10, 10), int)
    a[:, 2:5, 2:5], a[:, 5:8, 2:5] = 1, 2
    merged = a.copy()
    merged[1][merged[1] == 2] = 1
    # the merged object still covers nucleus 1 at IoU 0.5; nucleus 2 is lost in frame 1
    assert temporal.complete_tracks(a, merged) == 0.5
    assert temporal.complete_tracks(a, merged, thresh=0.6) == 0.0


def test_bad_movies_are_named():
    with pytest.raises(ValueError, match="`movie`"):
        temporal.temporal_consistency(MOVIE[:1])
    with pytest.raises(ValueError, match="`pred_movie`"):
        temporal.complete_tracks(MOVIE, MOVIE[:, :5])
