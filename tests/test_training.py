import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from bioimage_course.losses import bce_loss
from bioimage_course.metrics import pixel_scores
from bioimage_course.models import UNet
from bioimage_course.training import (
    ArrayPairs,
    History,
    evaluate,
    fit,
    load_checkpoint,
    load_model,
    make_optimizer,
    make_schedule,
    plot_history,
)

matplotlib.use("Agg")


def _pairs(n, seed=0, size=16):
    """Bright squares on noise: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        mask = np.zeros((size, size), np.float32)
        r, c = rng.integers(0, size - 6, 2)
        mask[r : r + 6, c : c + 6] = 1
        image = mask + 0.2 * rng.standard_normal(mask.shape).astype(np.float32)
        out.append((image, mask))
    return out


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    options = {"depth": 1, "base_channels": 4}
    options.update(kwargs)
    return UNet(**options)


QUIET = {"progress": False, "plot": False, "device": "cpu"}


def test_fit_learns_and_records_history():
    train, val = _pairs(16, 0), _pairs(4, 1)
    model = _model()
    before = evaluate(model, val, device="cpu")
    history = fit(model, train, val, epochs=6, batch_size=4, lr=1e-2, **QUIET)
    after = evaluate(model, val, device="cpu")
    assert history.epoch == [1, 2, 3, 4, 5, 6]
    assert len(history.val_metric) == len(history.lr) == len(history.time) == 6
    assert history.train_loss[-1] < history.train_loss[0]
    assert after["metric"] > before["metric"] and after["metric"] > 0.8
    assert history.best_value == max(history.val_metric)
    # the model ends with the best epoch's weights
    assert after["metric"] == pytest.approx(history.val_metric[history.best_epoch - 1])
    assert not model.training


def test_validation_metric_equals_metrics_module():
    val = _pairs(5, 2)
    model = _model().eval()
    scores = evaluate(model, val, device="cpu", batch_size=2, threshold=0.5)
    with torch.no_grad():
        probs = [torch.sigmoid(model(torch.from_numpy(im)[None, None]))[0, 0] for im, _ in val]
    truth = np.stack([m for _, m in val]) > 0.5
    pred = np.stack([p.numpy() for p in probs]) > 0.5
    assert scores["metric"] == pytest.approx(pixel_scores(truth, pred).f1)
    iou = evaluate(model, val, device="cpu", metric="iou")["metric"]
    assert iou == pytest.approx(pixel_scores(truth, pred).iou)
    losses = [
        bce_loss(model(torch.from_numpy(im)[None, None]), torch.from_numpy(m)[None, None]).item()
        for im, m in val
    ]
    bce = evaluate(model, val, device="cpu", loss="bce", batch_size=2)["loss"]
    assert bce == pytest.approx(np.mean(losses), rel=1e-5)


def test_two_runs_give_identical_histories():
    train, val = _pairs(12, 0), _pairs(4, 1)
    kwargs = dict(epochs=3, batch_size=4, lr=1e-2, seed=7, **QUIET)
    h1 = fit(_model(dropout=0.2), train, val, **kwargs)
    h2 = fit(_model(dropout=0.2), train, val, **kwargs)
    assert h1.train_loss == h2.train_loss
    assert h1.val_metric == h2.val_metric
    h3 = fit(_model(dropout=0.2), train, val, **{**kwargs, "seed": 8})
    assert h3.train_loss != h1.train_loss  # the seed matters (shuffling, dropout)


def test_fit_leaves_global_random_state_alone():
    model = _model(dropout=0.5)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(model, _pairs(4), epochs=1, batch_size=2, **QUIET)
    torch.testing.assert_close(torch.rand(3), expected)


class _Crash(Dataset):
    """Wraps a list of pairs; training "crashes" when epoch ``crash_at`` starts."""

    def __init__(self, pairs, crash_at):
        self.data = ArrayPairs(pairs)
        self.crash_at = crash_at

    def set_epoch(self, epoch):
        if epoch == self.crash_at:
            raise KeyboardInterrupt

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i]


def test_checkpoints_load_with_weights_only_and_resume_exactly(tmp_path):
    train, val = _pairs(12, 0), _pairs(4, 1)
    kwargs = dict(epochs=4, batch_size=4, lr=1e-2, schedule="cosine", seed=3, **QUIET)
    full = fit(_model(), train, val, checkpoint_dir=tmp_path / "full", **kwargs)

    with pytest.raises(KeyboardInterrupt):
        fit(_model(), _Crash(train, crash_at=3), val, checkpoint_dir=tmp_path / "part", **kwargs)
    assert load_checkpoint(tmp_path / "part" / "last.pt")["history"]["epoch"] == [1, 2]
    # a new process has only the file: rebuild a model from scratch and resume
    resumed = fit(
        _model(seed=99),
        train,
        val,
        resume=tmp_path / "part" / "last.pt",
        checkpoint_dir=tmp_path / "part",
        **kwargs,
    )
    assert resumed.epoch == [1, 2, 3, 4]
    np.testing.assert_allclose(resumed.train_loss, full.train_loss, rtol=1e-6)
    np.testing.assert_allclose(resumed.val_metric, full.val_metric, rtol=1e-6)
    assert resumed.lr == pytest.approx(full.lr)

    best = torch.load(tmp_path / "full" / "best.pt", weights_only=True)
    assert set(best) >= {"model_state", "model_config", "epoch"}
    assert best["epoch"] == full.best_epoch
    last = load_checkpoint(tmp_path / "full" / "last.pt")
    assert last["history"]["epoch"] == [1, 2, 3, 4]
    model = load_model(tmp_path / "full" / "best.pt", device="cpu")
    assert model.config == _model().config and not model.training
    assert evaluate(model, val, device="cpu")["metric"] == pytest.approx(full.best_value)


def test_early_stopping():
    train = _pairs(8)
    val = [(np.zeros((16, 16), np.float32), np.zeros((16, 16), np.float32))]

    def constant_metric(y_true, prob):
        return 0.5  # never improves after the first epoch

    history = fit(
        _model(), train, val, epochs=10, batch_size=4, patience=2, metric=constant_metric, **QUIET
    )
    assert history.epoch == [1, 2, 3]
    assert history.stopped_early and history.best_epoch == 1
    assert history.metric == "constant_metric"


def test_monitoring_the_validation_loss_stops_at_its_minimum_and_restores_it():
    """Overfit one noisy image: the best epoch is the lowest validation loss, and after early
    stopping the model holds that epoch's weights, not the last ones."""
    train, val = _pairs(1, 0), _pairs(4, 1)
    model = _model(base_channels=8)
    history = fit(model, train, val, epochs=200, batch_size=1, lr=3e-2, loss="bce",
                  monitor="loss", patience=15, **QUIET)  # fmt: skip
    lowest = min(history.val_loss)
    assert history.best_epoch == history.val_loss.index(lowest) + 1
    assert history.best_value == lowest
    assert history.stopped_early and history.epoch[-1] == history.best_epoch + 15
    assert history.val_loss[-1] > lowest
    assert evaluate(model, val, loss="bce", device="cpu")["loss"] == pytest.approx(lowest)


def test_monitor_option_is_checked_and_kept_in_the_history():
    with pytest.raises(ValueError, match="`monitor` must be one of 'metric', 'loss'"):
        fit(_model(), _pairs(2), monitor="val_loss", **QUIET)
    h = History(monitor="loss")
    for epoch, (val_loss, metric) in enumerate([(0.5, 0.9), (0.4, 0.8), (0.6, 0.95)], start=1):
        h.append(epoch=epoch, train_loss=1.0, val_loss=val_loss, val_metric=metric, lr=1.0,
                 time=1.0)  # fmt: skip
    assert (h.best_epoch, h.best_value) == (2, 0.4)
    assert History.from_dict(h.as_dict()).monitor == "loss"


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "step"])
def test_schedules_change_the_learning_rate(schedule):
    history = fit(
        _model(), _pairs(8), _pairs(2, 1), epochs=4, batch_size=4, lr=0.1, schedule=schedule,
        optimizer="sgd", **QUIET,
    )  # fmt: skip
    assert history.lr[-1] < 0.1 * 0.99


def test_plateau_schedule_lowers_the_rate_after_epochs_without_improvement():
    def constant_metric(y_true, prob):
        return 0.5  # the first epoch is the best; every later one is "no improvement"

    history = fit(
        _model(), _pairs(8), _pairs(2, 1), epochs=6, batch_size=4, lr=0.1, schedule="plateau",
        optimizer="sgd", metric=constant_metric, **QUIET,
    )  # fmt: skip
    # ReduceLROnPlateau(patience=3, factor=0.3): the 4th epoch without improvement (epoch 5)
    # multiplies the rate by 0.3
    np.testing.assert_allclose(history.lr, [0.1, 0.1, 0.1, 0.1, 0.03, 0.03])


def test_schedule_shapes():
    opt = make_optimizer(nn.Linear(1, 1), "sgd", lr=1.0)
    sched, per_step = make_schedule(opt, "step", epochs=6, steps_per_epoch=5, lr=1.0)
    lrs = []
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert not per_step
    np.testing.assert_allclose(lrs, [1, 0.1, 0.1, 0.01, 0.01, 0.001])
    opt = make_optimizer(nn.Linear(1, 1), "adam", lr=1.0)
    sched, per_step = make_schedule(opt, "cosine", epochs=2, steps_per_epoch=5, lr=1.0)
    for _ in range(10):
        opt.step()
        sched.step()
    assert per_step and opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_sgd_and_adam_both_train():
    for optimizer, lr in [("sgd", 0.1), ("adam", 1e-2), ("adamw", 1e-2)]:
        history = fit(
            _model(), _pairs(12), epochs=3, batch_size=4, lr=lr, optimizer=optimizer, **QUIET
        )
        assert history.train_loss[-1] < history.train_loss[0], optimizer
        assert math.isnan(history.val_metric[0])  # no validation data


def test_weighted_loss_uses_third_item():
    pairs = [(im, m, np.full(m.shape, 2.0, np.float32)) for im, m in _pairs(4)]
    history = fit(_model(), pairs, epochs=1, batch_size=4, loss="weighted_bce", **QUIET)
    plain = fit(_model(), [p[:2] for p in pairs], epochs=1, batch_size=4, loss="bce", **QUIET)
    assert history.train_loss[0] == pytest.approx(2 * plain.train_loss[0], rel=1e-5)


def test_loss_options_and_custom_loss():
    pairs = _pairs(4)
    h = fit(_model(), pairs, epochs=1, batch_size=4, loss="bce", **QUIET)
    h_pw = fit(
        _model(), pairs, epochs=1, batch_size=4, loss="bce", loss_options={"pos_weight": 5.0},
        **QUIET,
    )  # fmt: skip
    assert h_pw.train_loss[0] > h.train_loss[0]
    mse = lambda logits, target: ((torch.sigmoid(logits) - target) ** 2).mean()  # noqa: E731
    # a custom loss is not restricted to 0/1 targets; with one batch per epoch the recorded
    # loss is the custom loss of the initial model on all items
    soft = [(im, m * 0.5) for im, m in pairs]
    images = torch.stack([torch.from_numpy(im)[None] for im, _ in soft])
    targets = torch.stack([torch.from_numpy(m)[None] for _, m in soft])
    with torch.no_grad():
        expected = mse(_model()(images), targets).item()
    recorded = fit(_model(), soft, epochs=1, batch_size=4, loss=mse, **QUIET).train_loss[0]
    assert recorded == pytest.approx(expected, rel=1e-5)


def test_fit_leaves_the_memory_layout_as_it_came():
    model = _model()
    fit(model, _pairs(4), epochs=1, batch_size=2, channels_last=True, **QUIET)
    assert all(p.is_contiguous() for p in model.parameters())
    model = _model().to(memory_format=torch.channels_last)
    fit(model, _pairs(4), epochs=1, batch_size=2, channels_last=True, **QUIET)
    weights = [p for p in model.parameters() if p.ndim == 4 and p.shape[1] > 1]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)


class _Patches(Dataset):
    """A dataset with its own randomness, re-seeded per epoch through set_epoch."""

    def __init__(self):
        self.epochs = []
        self.rng = np.random.default_rng(0)

    def set_epoch(self, epoch):
        self.epochs.append(epoch)
        self.rng = np.random.default_rng(epoch)

    def __len__(self):
        return 4

    def __getitem__(self, i):
        mask = (self.rng.random((1, 8, 8)) > 0.5).astype(np.float32)
        return torch.from_numpy(mask * 2 - 1), torch.from_numpy(mask)


def test_set_epoch_is_called_each_epoch():
    data = _Patches()
    fit(_model(), data, epochs=3, batch_size=2, **QUIET)
    assert data.epochs == [1, 2, 3]


def test_history_round_trip_and_plot():
    h = History(metric="f1", n_train=10)
    h.append(epoch=1, train_loss=1.0, val_loss=1.1, val_metric=0.5, lr=1e-3, time=2.0)
    assert not h.append(epoch=2, train_loss=0.9, val_loss=1.0, val_metric=0.4, lr=1e-3, time=2.0)
    assert h.best_epoch == 1 and h.images_per_second == pytest.approx(5.0)
    assert History.from_dict(h.as_dict()) == h
    assert "best_epoch=1" in repr(h)
    fig = plot_history(h)
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.get_lines()] == ["training", "validation"]
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), [1.0, 0.9])
    # without validation the best epoch is the lowest training loss
    h2 = History()
    for e, loss in enumerate([1.0, 0.5, 0.7], start=1):
        h2.append(epoch=e, train_loss=loss, val_loss=math.nan, val_metric=math.nan, lr=1, time=1)
    assert h2.best_epoch == 2 and h2.best_value == 0.5


def test_pair_dataset():
    ds = ArrayPairs([(np.ones((2, 8, 8), np.uint16), np.ones((8, 8), np.uint8))])
    image, mask = ds[0]
    assert image.shape == (2, 8, 8) and mask.shape == (1, 8, 8)
    assert image.dtype == torch.float32 and float(image.max()) == 1.0
    with pytest.raises(ValueError, match="must have the same height and width"):
        ArrayPairs([(np.zeros((8, 8)), np.zeros((8, 9)))])
    with pytest.raises(TypeError, match=r"`pairs\[0\]` must be an \(image, mask\)"):
        ArrayPairs([np.zeros((8, 8))])
    with pytest.raises(ValueError, match=r"`pairs\[0\]\[0\]` must contain only finite values"):
        ArrayPairs([(np.full((8, 8), np.nan), np.zeros((8, 8)))])


# -- clear errors ----------------------------------------------------------------------------------
def test_error_empty_dataset():
    with pytest.raises(ValueError, match="`train_data` is empty"):
        fit(_model(), [], epochs=1, **QUIET)
    with pytest.raises(ValueError, match="`val_data` is empty"):
        fit(_model(), _pairs(2), [], epochs=1, **QUIET)


def test_error_labels_outside_zero_one():
    labels = [(im, m * 3) for im, m in _pairs(2)]  # instance ids, not a mask
    with pytest.raises(
        ValueError, match=r"epoch 1, batch 0: targets of a binary loss must be 0 or 1"
    ):
        fit(_model(), labels, epochs=1, batch_size=2, **QUIET)


def test_error_shape_mismatch():
    class Bad(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return torch.zeros(1, 8, 8), torch.zeros(1, 8, 4)

    with pytest.raises(ValueError, match=r"image and target shapes do not match"):
        fit(_model(), Bad(), epochs=1, batch_size=2, **QUIET)
    two_channels = [(im, np.stack([m, m])) for im, m in _pairs(2)]
    with pytest.raises(ValueError, match="the model predicts 1 channel"):
        fit(_model(), two_channels, epochs=1, batch_size=2, **QUIET)


def test_error_nan_loss_names_the_batch():
    class Poisoned(Dataset):
        def __init__(self):
            self.order = []

        def __len__(self):
            return 6

        def __getitem__(self, i):
            self.order.append(i)
            image = torch.full((1, 16, 16), math.nan if i == 4 else 0.0)
            return image, torch.zeros(1, 16, 16)

    data = Poisoned()
    with pytest.raises(FloatingPointError, match=r"the loss is nan at epoch 1, batch (\d+)") as err:
        fit(_model(), data, epochs=1, batch_size=1, **QUIET)
    assert f"batch {data.order.index(4)};" in str(err.value)


def test_error_bad_options():
    pairs = _pairs(2)
    with pytest.raises(ValueError, match="`optimizer` must be one of 'adam', 'adamw', 'sgd'"):
        fit(_model(), pairs, optimizer="rmsprop", **QUIET)
    with pytest.raises(ValueError, match="`epochs` must be an int >= 1, got 0"):
        fit(_model(), pairs, epochs=0, **QUIET)
    with pytest.raises(TypeError, match="`batch_size` must be an int, got 2.0"):
        fit(_model(), pairs, batch_size=2.0, **QUIET)
    with pytest.raises(ValueError, match="`lr` must be > 0"):
        fit(_model(), pairs, lr=0, **QUIET)
    with pytest.raises(ValueError, match="`schedule` must be one of"):
        fit(_model(), pairs, schedule="linear", **QUIET)
    with pytest.raises(ValueError, match="`metric` must be one of 'f1', 'iou'"):
        fit(_model(), pairs, metric="accuracy", **QUIET)
    with pytest.raises(TypeError, match="`train_data` must be a torch Dataset"):
        fit(_model(), 5, **QUIET)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fit(_model(), pairs, resume="/nonexistent/last.pt", **QUIET)
