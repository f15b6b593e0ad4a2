"""Segmentation over time: do the objects of one frame continue into the next?

Introduced in notebook 07 (metrics), section on accuracy versus validity. A segmentation can
score well frame by frame and still be useless for tracking: if a nucleus is found in frames
1, 2, 4 and 5 but missed in frame 3, a tracker that links objects from frame to frame by their
overlap breaks its track in two. Two numbers say how far that goes:

- :func:`temporal_consistency` needs no ground truth: the fraction of the objects of each frame
  that overlap an object of the next frame (IoU at least ``thresh``). It can be computed on
  any real movie.

Nuclei move, so the outlines of one nucleus in consecutive frames overlap less than a good
segmentation overlaps the truth: links between frames use a lower IoU (0.2 by default) than
matches to the truth (0.5).
- :func:`complete_tracks` compares with true tracks (label ``k`` is the same nucleus in every
  frame): the fraction of true nuclei that are found in *every* frame where they are visible
  and whose found objects link from frame to frame, so that overlap tracking follows them from
  start to end without a break.

Examples
--------
>>> import numpy as np
>>> movie = np.zeros((3, 8, 8), int); movie[:, 2:5, 2:5] = 1
>>> flicker = movie.copy(); flicker[1] = 0          # missed in the middle frame
>>> temporal_consistency(movie), temporal_consistency(flicker)
(1.0, 0.0)
>>> complete_tracks(movie, movie), complete_tracks(movie, flicker)
(1.0, 0.0)
"""

from __future__ import annotations

import numpy as np

from .._validate import check_in_range, check_labels, check_same_shape
from .matching import match_objects

__all__ = ["complete_tracks", "temporal_consistency"]


def _check_movie(movie, name: str) -> np.ndarray:
    movie = check_labels(movie, name, ndim=3)
    if movie.shape[0] < 2:
        raise ValueError(
            f"`{name}` must have at least 2 frames (axes TYX), got shape {movie.shape}"
        )
    return movie


def _links(a: np.ndarray, b: np.ndarray, thresh: float) -> dict[int, int]:
    """Object of frame ``a`` -> the object of frame ``b`` it overlaps with IoU >= thresh."""
    pairs = match_objects(a, b, thresh)
    return dict(zip(pairs.true_labels.tolist(), pairs.pred_labels.tolist(), strict=True))


def temporal_consistency(movie, thresh: float = 0.2) -> float:
    """Fraction of objects that continue into the next frame (IoU >= ``thresh``).

    Parameters
    ----------
    movie : array_like of int, shape (T, H, W)
        Label images of consecutive frames (0 = background; ids need not agree across frames).
    thresh : float
        Smallest IoU between an object and its continuation in the next frame, in (0, 1].

    Returns
    -------
    float
        Over frames 0 to T-2, the linked objects divided by all objects; 1.0 for a movie
        without objects. Nuclei that leave the field or divide lower it a little even for a
        perfect segmentation.
    """
    movie = _check_movie(movie, "movie")
    thresh = check_in_range(thresh, "thresh", 0, 1, low_inclusive=False)
    linked = total = 0
    for t in range(movie.shape[0] - 1):
        total += np.unique(movie[t][movie[t] > 0]).size
        linked += len(_links(movie[t], movie[t + 1], thresh))
    return linked / total if total else 1.0


def complete_tracks(
    true_movie, pred_movie, thresh: float = 0.5, *, link_thresh: float = 0.2
) -> float:
    """Fraction of true tracks that overlap tracking of ``pred_movie`` follows without a break.

    Parameters
    ----------
    true_movie : array_like of int, shape (T, H, W)
        True track labels: label ``k`` is the same nucleus in every frame where it is visible.
    pred_movie : array_like of int, shape (T, H, W)
        Predicted labels, frame by frame (ids need not agree across frames).
    thresh : float
        Smallest IoU of a match between a true object and a predicted one, in (0, 1].
    link_thresh : float
        Smallest IoU between a predicted object and its continuation in the next frame.

    Returns
    -------
    float
        A true nucleus counts when, in every frame where it is visible, a predicted object
        matches it and, between consecutive frames, its predicted object links (IoU >=
        ``link_thresh``) to the one of the next frame. 1.0 if there are no true tracks.
    """
    true_movie = _check_movie(true_movie, "true_movie")
    pred_movie = _check_movie(pred_movie, "pred_movie")
    check_same_shape(true_movie, pred_movie, "true_movie", "pred_movie")
    thresh = check_in_range(thresh, "thresh", 0, 1, low_inclusive=False)
    link_thresh = check_in_range(link_thresh, "link_thresh", 0, 1, low_inclusive=False)
    n_frames = true_movie.shape[0]
    found = [_links(true_movie[t], pred_movie[t], thresh) for t in range(n_frames)]
    onward = [_links(pred_movie[t], pred_movie[t + 1], link_thresh) for t in range(n_frames - 1)]
    tracks = np.unique(true_movie[true_movie > 0])
    followed = 0
    for track in tracks.tolist():
        frames = [t for t in range(n_frames) if np.any(true_movie[t] == track)]
        if any(track not in found[t] for t in frames):
            continue
        steps = zip(frames[:-1], frames[1:], strict=True)
        if all(b == a + 1 and onward[a].get(found[a][track]) == found[b][track] for a, b in steps):
            followed += 1
    return followed / tracks.size if tracks.size else 1.0
