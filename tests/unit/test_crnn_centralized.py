"""The centralized baseline learns a small separable problem with the conf/ settings."""

from __future__ import annotations

import numpy as np
import pytest

from crnn_component.centralized import classification_metrics, predict_proba, train_centralized
from crnn_component.config import load_crnn_profile


def separable(n, n_feat=12, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    x = rng.normal(0.0, 0.2, (n, n_feat)).astype(np.float32)
    x[np.arange(n), y * 4] += 2.0
    return x, y


def test_centralized_trainer_learns_a_tiny_separable_set():
    x, y = separable(300)
    params = load_crnn_profile("tiny").with_overrides(lr=0.01, batch_size=16)
    run = train_centralized(x, y, params, class_num=3, epochs=5)
    assert len(run.curve) == 5 and len(run.epoch_seconds) == 5
    assert run.curve[-1]["loss"] < run.curve[0]["loss"]
    xt, yt = separable(200, seed=1)
    proba = predict_proba(run.model, xt)
    assert proba.shape == (200, 3) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert classification_metrics(yt, proba)["accuracy"] > 0.9


def test_centralized_training_is_reproducible_and_refuses_bad_labels():
    x, y = separable(64)
    params = load_crnn_profile("tiny")
    a = train_centralized(x, y, params, class_num=3, epochs=1)
    b = train_centralized(x, y, params, class_num=3, epochs=1)
    assert np.array_equal(predict_proba(a.model, x), predict_proba(b.model, x))
    with pytest.raises(ValueError, match="labels must be in 0..1"):
        train_centralized(x, y, params, class_num=2, epochs=1)


def test_two_classes_train_with_binary_cross_entropy():
    x, y = separable(120, n_classes=2)
    run = train_centralized(x, y, load_crnn_profile("tiny").with_overrides(lr=0.01), class_num=2, epochs=3)
    assert run.curve[-1]["accuracy"] > 0.8
