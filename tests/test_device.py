"""Device choice, forced devices, AMP decision and seeding; GPU branches by faking availability."""

import random

import numpy as np
import pytest
import torch

from bioimage_course import device as dev


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(dev.ENV_VAR, raising=False)


def test_cpu_when_nothing_else(no_env, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.get_device() == torch.device("cpu")
    assert not dev.use_amp()


def test_prefers_cuda_then_mps(no_env, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.get_device() == torch.device("cuda")
    assert dev.use_amp()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.get_device() == torch.device("mps")
    assert not dev.use_amp()


def test_environment_variable_forces_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv(dev.ENV_VAR, "cpu")
    assert dev.get_device() == torch.device("cpu")
    monkeypatch.setenv(dev.ENV_VAR, "cuda:0")
    assert dev.get_device() == torch.device("cuda:0")
    monkeypatch.setenv(dev.ENV_VAR, "cuda:3")
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        dev.get_device()
    monkeypatch.setenv(dev.ENV_VAR, "gpu")
    with pytest.raises(ValueError, match=f"environment variable {dev.ENV_VAR} must be"):
        dev.get_device()


def test_unavailable_device_is_a_clear_error(no_env, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        dev.get_device("cuda")
    with pytest.raises(ValueError, match="MPS is not available"):
        dev.get_device("mps")
    with pytest.raises(ValueError, match="`device` must be"):
        dev.get_device("tpu")


def test_autocast_and_scaler_disabled_on_cpu():
    with dev.autocast("cpu"):
        y = torch.ones(3, 3) @ torch.ones(3, 3)
    assert y.dtype == torch.float32
    assert not dev.grad_scaler("cpu").is_enabled()


def test_seed_everything_reproduces_all_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002

    dev.seed_everything(123)
    first = draw()
    dev.seed_everything(123)
    assert draw() == first
    with pytest.raises(TypeError, match="`seed` must be an int"):
        dev.seed_everything(1.5)


def test_describe_device_mentions_cpu_and_cuda(no_env, monkeypatch):
    assert "Computing on: CPU" in dev.describe_device("cpu")

    class Props:
        name = "Fake GPU"
        total_memory = 16 * 2**30

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda d: Props())
    text = dev.describe_device()
    assert "CUDA GPU Fake GPU (16.0 GiB)" in text and "mixed precision on" in text
