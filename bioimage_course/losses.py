"""Loss functions for binary segmentation: how wrong is a predicted foreground map?

Introduced in notebook 05 (U-Net training); the weight map returns in notebook 08.

Every loss takes the network's raw output, the *logits* ``z`` (any real number), and a target
``y`` of the same shape with values in {0, 1}; the predicted foreground probability is
``p = sigmoid(z)``. Each returns one number, smaller is better, that training minimises.

- :func:`bce_loss`: binary cross-entropy, ``-[y log p + (1 - y) log(1 - p)]`` per pixel;
  ``pos_weight`` multiplies the foreground term (rare foreground counts more).
- :func:`unet_weight_map` and :func:`weighted_bce_loss`: the U-Net paper's per-pixel weights,
  which balance the classes and emphasise the thin background gaps between touching objects.
- :func:`soft_dice_loss`: ``1 - Dice`` computed on probabilities; insensitive to how much
  background there is.
- :func:`focal_loss`: cross-entropy that down-weights pixels that are already easy.
- :func:`bce_dice_loss`: the sum of the two most used ones.
- :func:`separated_mask`: the U-Net paper's target for touching objects, with a background
  line between them, so that connected components can tell them apart.

:func:`get_loss` turns a name (``"bce"``, ``"dice"``, ``"bce_dice"``, ``"focal"``,
``"weighted_bce"``) into a loss function, which is how :mod:`bioimage_course.training` accepts
them.

Examples
--------
>>> logits = torch.tensor([[2.0, -1.0]])
>>> target = torch.tensor([[1.0, 0.0]])
>>> round(bce_loss(logits, target).item(), 4)
0.2201
>>> round(soft_dice_loss(torch.tensor([[9.0, -9.0]]), target).item(), 3)
0.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ._validate import check_choice, check_in_range, check_int, check_labels

REDUCTIONS = ("mean", "sum", "none")


def _check_pair(logits: torch.Tensor, target: torch.Tensor) -> None:
    for name, value in (("logits", logits), ("target", target)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"`{name}` must be a torch.Tensor, got {type(value).__name__} "
                "(convert arrays with torch.as_tensor)"
            )
    if logits.shape != target.shape:
        raise ValueError(
            f"`logits` and `target` must have the same shape, got {tuple(logits.shape)} and "
            f"{tuple(target.shape)}"
        )


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    check_choice(reduction, "reduction", REDUCTIONS)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def bce_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    pos_weight: float | torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary cross-entropy of foreground logits against a 0/1 target.

    Parameters
    ----------
    logits : torch.Tensor
        Raw network output ``z``, any shape.
    target : torch.Tensor
        Same shape, values in {0, 1} (soft values in [0, 1] are allowed).
    pos_weight : float or torch.Tensor, optional
        Factor on the foreground term, e.g. ``n_background / n_foreground`` to balance classes.
        A tensor broadcasts against the channel dimension like torch's.
    weight : torch.Tensor, optional
        Per-pixel weights (broadcastable to ``logits``), multiplied onto each pixel's loss.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` averages over all pixels (weighted pixels included, weights not
        renormalised), ``"none"`` returns the per-pixel losses.

    Returns
    -------
    torch.Tensor
        The loss (a scalar unless ``reduction="none"``).

    Notes
    -----
    Per pixel, with ``p = sigmoid(z)`` and ``w+`` the ``pos_weight``::

        loss = -[w+ * y * log(p) + (1 - y) * log(1 - p)]

    Written with ``log(p) = logsigmoid(z)`` and ``log(1 - p) = logsigmoid(-z)``, which stay
    finite for very large ``|z|`` where ``p`` itself rounds to 0 or 1. This equals
    ``torch.nn.functional.binary_cross_entropy_with_logits``.

    Examples
    --------
    >>> z = torch.tensor([0.0, 0.0])
    >>> y = torch.tensor([1.0, 0.0])
    >>> round(bce_loss(z, y).item(), 4)  # log(2): a coin flip
    0.6931
    >>> round(bce_loss(z, y, pos_weight=3.0).item(), 4)  # (3 log 2 + log 2) / 2
    1.3863
    """
    _check_pair(logits, target)
    target = target.to(logits.dtype)
    log_p = F.logsigmoid(logits)
    log_not_p = F.logsigmoid(-logits)
    positive = target * log_p
    if pos_weight is not None:
        positive = positive * torch.as_tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    loss = -(positive + (1 - target) * log_not_p)
    if weight is not None:
        loss = loss * weight.to(device=logits.device, dtype=logits.dtype)
    return _reduce(loss, reduction)


def unet_weight_map(
    labels: np.ndarray,
    *,
    w0: float = 10.0,
    sigma: float = 5.0,
    balance: bool = True,
) -> np.ndarray:
    """The U-Net paper's weight map: class balance plus a border term between objects.

    Parameters
    ----------
    labels : numpy.ndarray
        2D instance label image (0 = background, 1..N = objects). Instance ids are needed:
        the border term is about the gap between *different* objects.
    w0 : float
        Height of the border term (10 in the paper).
    sigma : float
        Width of the border term in pixels (about 5 in the paper).
    balance : bool
        Include the class-balance term ``w_c``; otherwise ``w_c = 1``.

    Returns
    -------
    numpy.ndarray
        float32 weights of ``labels``' shape, all >= the class weight of each pixel.

    Notes
    -----
    Ronneberger et al. (2015), eq. 2::

        w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))

    ``d1`` and ``d2`` are the Euclidean distances from pixel ``x`` to the nearest and second
    nearest object. The border term is computed for background pixels (object pixels get
    ``w_c`` only): it is largest in a narrow gap separating two touching objects, which is
    exactly where a network must learn to put background so that the objects come out apart.
    With fewer than two objects it is zero.

    ``w_c`` balances the classes: each class gets total weight half the pixel count,
    ``w_c = n_pixels / (2 * n_class)`` (1 for both when there is only one class).

    The cost is one distance transform per object.

    Examples
    --------
    >>> labels = np.array([[1, 0, 2]])
    >>> w = unet_weight_map(labels, w0=10, sigma=1, balance=False)
    >>> w[0, 1].round(4)  # 1 + 10 * exp(-(1 + 1)**2 / 2)
    np.float32(2.3534)
    >>> w[0, 0], w[0, 2]
    (np.float32(1.0), np.float32(1.0))
    """
    labels = check_labels(labels, "labels", ndim=2)
    check_in_range(w0, "w0", 0)
    check_in_range(sigma, "sigma", 0, low_inclusive=False)

    foreground = labels > 0
    weights = np.ones(labels.shape, dtype=np.float64)
    if balance:
        n_fg = int(foreground.sum())
        n_bg = labels.size - n_fg
        if n_fg and n_bg:
            weights[foreground] = labels.size / (2 * n_fg)
            weights[~foreground] = labels.size / (2 * n_bg)

    ids = np.unique(labels[foreground])
    if len(ids) >= 2 and w0 > 0:
        # Distance from every pixel to each object; keep the two smallest per pixel.
        d1 = np.full(labels.shape, np.inf)
        d2 = np.full(labels.shape, np.inf)
        for obj in ids:
            d = ndimage.distance_transform_edt(labels != obj)
            d2 = np.where(d < d1, d1, np.minimum(d2, d))
            d1 = np.minimum(d1, d)
        border = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
        weights[~foreground] += border[~foreground]
    return weights.astype(np.float32)


def separated_mask(labels: np.ndarray, *, width_px: int = 1) -> np.ndarray:
    """Foreground mask in which touching objects are separated by a line of background.

    A binary target ``labels > 0`` joins nuclei that touch into one blob, and connected
    components of a prediction trained on it cannot split them. The U-Net paper instead
    labels the contact line between two objects as background; the network learns to draw
    these thin gaps (helped by the weight map of :func:`unet_weight_map`), and connected
    components then count the objects correctly.

    Parameters
    ----------
    labels : numpy.ndarray
        2D instance label image (0 = background).
    width_px : int
        Object pixels within this many pixels (chessboard distance) of a *different* object
        become background, on both sides of the contact: the gap is ``2 * width_px`` wide.
        Borders with the background are untouched.

    Returns
    -------
    numpy.ndarray
        float32 mask, 1 for foreground and 0 for background and gaps.

    Examples
    --------
    >>> labels = np.array([[1, 1, 2, 2, 0, 3]])
    >>> separated_mask(labels)
    array([[1., 0., 0., 1., 0., 1.]], dtype=float32)
    """
    labels = check_labels(labels, "labels", ndim=2)
    check_int(width_px, "width_px", 1)
    size = 2 * int(width_px) + 1
    labels = labels.astype(np.int64, copy=False)
    # Largest and smallest object id nearby (background ignored for the smallest).
    highest = ndimage.maximum_filter(labels, size=size, mode="constant", cval=0)
    above_all = int(labels.max()) + 1
    background_as_max = np.where(labels == 0, above_all, labels)
    lowest = ndimage.minimum_filter(background_as_max, size=size, mode="constant", cval=above_all)
    foreground = labels > 0
    on_contact = foreground & ((highest != labels) | (lowest != labels))
    return (foreground & ~on_contact).astype(np.float32)


def weighted_bce_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    """Binary cross-entropy with a per-pixel weight map, e.g. :func:`unet_weight_map`.

    ``mean`` reduction is ``sum(weight * bce) / n_pixels``.

    Examples
    --------
    >>> z = torch.zeros(1, 2)
    >>> y = torch.tensor([[1.0, 0.0]])
    >>> w = torch.tensor([[1.0, 3.0]])
    >>> round(weighted_bce_loss(z, y, w).item(), 4)  # (1 + 3) * log(2) / 2
    1.3863
    """
    if weight is None:
        raise ValueError("`weight` must be a weight map tensor, got None")
    return bce_loss(logits, target, weight=weight, reduction=reduction)


def soft_dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth: float = 1.0,
    per_image: bool = True,
    from_logits: bool = True,
) -> torch.Tensor:
    """One minus the soft Dice coefficient between predicted probabilities and the target.

    Parameters
    ----------
    logits : torch.Tensor
        Network output of shape (N, ...) (logits, or probabilities if ``from_logits=False``).
    target : torch.Tensor
        Same shape, values in {0, 1}.
    smooth : float
        Added to numerator and denominator; see Notes.
    per_image : bool
        Compute Dice for each image of the batch and average (True), or once over all pixels
        of the batch (False).
    from_logits : bool
        Apply ``sigmoid`` to ``logits`` first.

    Returns
    -------
    torch.Tensor
        Scalar loss in [0, 1]; 0 is a perfect overlap.

    Notes
    -----
    With ``p`` the probabilities and sums over the pixels of one image::

        dice = (2 * sum(p * y) + smooth) / (sum(p) + sum(y) + smooth)

    The Dice coefficient (equal to the F1 score of the pixels) ignores the true negatives, so
    it does not care how much background an image has. ``smooth`` keeps the ratio defined
    and its gradient gentle when an image has (almost) no foreground: an empty prediction of
    an empty target gives ``smooth / smooth = 1``, loss 0. With ``smooth=0`` that case is
    0/0; it is *defined* here as a perfect match (Dice 1, loss 0), the convention of
    :mod:`bioimage_course.metrics`.

    Examples
    --------
    >>> y = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    >>> p = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    >>> round(soft_dice_loss(p, y, smooth=0, from_logits=False).item(), 4)  # 1 - 2/3
    0.3333
    >>> soft_dice_loss(torch.zeros(1, 4), torch.zeros(1, 4), smooth=0, from_logits=False)
    tensor(0.)
    """
    _check_pair(logits, target)
    check_in_range(smooth, "smooth", 0)
    p = torch.sigmoid(logits) if from_logits else logits
    target = target.to(p.dtype)
    if per_image:
        dims = tuple(range(1, p.ndim))
        intersection = (p * target).sum(dims)
        total = p.sum(dims) + target.sum(dims)
    else:
        intersection = (p * target).sum()
        total = p.sum() + target.sum()
    numerator = 2 * intersection + smooth
    denominator = total + smooth
    dice = torch.where(denominator > 0, numerator / denominator.clamp_min(1e-12), 1.0)
    return 1 - dice.mean()


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | None = 0.25,
    reduction: str = "mean",
) -> torch.Tensor:
    """Focal loss: cross-entropy scaled down on pixels the model already gets right.

    Parameters
    ----------
    logits, target : torch.Tensor
        As in :func:`bce_loss`.
    gamma : float
        Focusing strength; 0 gives plain cross-entropy.
    alpha : float or None
        Weight of the foreground class (background gets ``1 - alpha``); None for no class
        weighting.
    reduction : {"mean", "sum", "none"}

    Notes
    -----
    Lin et al. (2017), with ``p_t`` the probability given to the true class
    (``p`` for foreground pixels, ``1 - p`` for background) and ``alpha_t`` likewise::

        loss = -alpha_t * (1 - p_t)**gamma * log(p_t)

    A pixel predicted correctly with ``p_t = 0.9`` contributes ``0.1**2 = 1%`` of its
    cross-entropy at ``gamma=2``, so training concentrates on the hard pixels.

    Examples
    --------
    >>> z = torch.tensor([0.0])
    >>> y = torch.tensor([1.0])
    >>> round(focal_loss(z, y, gamma=2, alpha=None).item(), 4)  # 0.5**2 * log(2)
    0.1733
    """
    _check_pair(logits, target)
    check_in_range(gamma, "gamma", 0)
    target = target.to(logits.dtype)
    ce = bce_loss(logits, target, reduction="none")  # = -log(p_t)
    p = torch.sigmoid(logits)
    p_t = target * p + (1 - target) * (1 - p)
    loss = (1 - p_t) ** gamma * ce
    if alpha is not None:
        check_in_range(alpha, "alpha", 0, 1)
        loss = (target * alpha + (1 - target) * (1 - alpha)) * loss
    return _reduce(loss, reduction)


def bce_dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    bce_weight: float = 1.0,
    dice_weight: float = 1.0,
    smooth: float = 1.0,
    pos_weight: float | None = None,
) -> torch.Tensor:
    """``bce_weight * BCE + dice_weight * (1 - Dice)``: per-pixel accuracy plus overlap.

    Cross-entropy gives every pixel a well-behaved gradient; Dice keeps a small foreground
    from being ignored. Their sum is a robust default for binary segmentation. A per-pixel
    ``weight`` map (e.g. :func:`unet_weight_map`) weights the cross-entropy term.

    Examples
    --------
    >>> z = torch.zeros(1, 2)
    >>> y = torch.tensor([[1.0, 0.0]])
    >>> parts = bce_loss(z, y) + soft_dice_loss(z, y)
    >>> bool(torch.isclose(bce_dice_loss(z, y), parts))
    True
    """
    bce = bce_loss(logits, target, pos_weight=pos_weight, weight=weight)
    dice = soft_dice_loss(logits, target, smooth=smooth)
    return bce_weight * bce + dice_weight * dice


LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "bce": bce_loss,
    "weighted_bce": weighted_bce_loss,
    "dice": soft_dice_loss,
    "focal": focal_loss,
    "bce_dice": bce_dice_loss,
}
"""Loss functions by name; each is called as ``loss(logits, target)`` (``weighted_bce``:
``loss(logits, target, weight)``; ``bce_dice`` accepts an optional ``weight`` too)."""


def get_loss(name: str | Callable[..., torch.Tensor], **options) -> Callable[..., torch.Tensor]:
    """Return the loss function called ``name`` with ``options`` fixed.

    A callable is returned unchanged (``options`` must then be empty).

    Examples
    --------
    >>> loss = get_loss("focal", gamma=0.0, alpha=None)
    >>> z, y = torch.tensor([0.5, -2.0]), torch.tensor([1.0, 0.0])
    >>> bool(torch.isclose(loss(z, y), bce_loss(z, y)))
    True
    """
    if callable(name):
        if options:
            raise ValueError("`options` can only be given with a loss name, not a function")
        return name
    check_choice(name, "loss", LOSSES)
    function = LOSSES[name]
    return functools.partial(function, **options) if options else function
