"""Training a segmentation network: the loop of epochs, batches, validation and checkpoints.

Introduced in notebook 05 (U-Net training). Read :mod:`~bioimage_course.training.loop` first:
:func:`train_one_epoch` is the heart of training, :func:`fit` composes it with the rest.

======================  =====================================================================
module                  what it holds
======================  =====================================================================
``loop``                :func:`fit` and :func:`train_one_epoch`
``batches``             :class:`ArrayPairs`, the checks of every batch, the loss of a batch
``validation``          :func:`evaluate`: loss and pixel F1/IoU in eval mode
``optim``               :func:`make_optimizer`, :func:`make_schedule`
``history``             :class:`History` and :func:`plot_history` (learning curves)
``checkpoint``          ``best.pt``/``last.pt``, :func:`load_checkpoint`, :func:`load_model`
======================  =====================================================================

``fit(model, train_data, val_data=None, *, epochs, batch_size, lr, ...) -> History`` takes torch
Datasets yielding ``(image, target)`` (or ``(image, target, weight)`` for a weighted loss) as
float32 tensors of shape (C, H, W), or plain lists of ``(image, mask)`` numpy pairs (values are
not rescaled, so normalise images first). Targets of the built-in losses must be 0/1 masks.

Examples
--------
>>> from bioimage_course.training import History, fit, train_one_epoch
>>> History(metric="iou")
History(no epochs)
"""

from ..device import prefers_channels_last  # noqa: F401 (re-exported)
from .batches import ArrayPairs  # noqa: F401 (re-exported)
from .checkpoint import load_checkpoint, load_model  # noqa: F401 (re-exported)
from .history import History, plot_history  # noqa: F401 (re-exported)
from .loop import fit, train_one_epoch  # noqa: F401 (re-exported)
from .optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule  # noqa: F401 (re-exported)
from .validation import METRICS, evaluate  # noqa: F401 (re-exported)
