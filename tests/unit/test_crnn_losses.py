"""The CRNN's losses: the paper's (cross-entropy, binary for two classes) and their class-weighted forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crnn_component.centralized import predict_proba, train_centralized
from crnn_component.config import load_crnn_profile
from crnn_component.losses import balanced_class_weights, loss_for


def test_balanced_weights_are_n_over_k_times_the_class_count():
    weights = balanced_class_weights(np.array([0] * 6 + [1] * 3 + [3] * 1), 5)
    # 10 rows, 3 classes present: 10/(3*6), 10/(3*3), 10/(3*1); absent classes 2 and 4 keep 1
    np.testing.assert_allclose(weights.numpy(), [10 / 18, 10 / 9, 1.0, 10 / 3, 1.0], rtol=1e-6)


def test_weighted_cross_entropy_is_the_weighted_mean_of_sample_losses():
    torch.manual_seed(0)
    logits, labels = torch.randn(8, 3), torch.tensor([0, 0, 0, 0, 1, 1, 2, 0])
    weights = balanced_class_weights(labels.numpy(), 3)
    per_sample = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    expected = (per_sample * weights[labels]).sum() / weights[labels].sum()
    assert float(loss_for(3, weights)(logits, labels)) == pytest.approx(float(expected), rel=1e-6)


def test_weighted_binary_loss_equals_weighted_two_class_cross_entropy():
    torch.manual_seed(1)
    logits, labels = torch.randn(10, 2), torch.tensor([0] * 8 + [1] * 2)
    weights = balanced_class_weights(labels.numpy(), 2)
    binary = loss_for(2, weights)(logits, labels)
    two_class = torch.nn.functional.cross_entropy(logits, labels, weight=weights)
    assert float(binary) == pytest.approx(float(two_class), rel=1e-5)
    assert float(loss_for(2)(logits, labels)) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, labels)), rel=1e-5)


def test_a_balanced_crnn_gives_a_rare_class_more_probability():
    rng = np.random.default_rng(2)
    n = 600
    y = np.where(rng.random(n) < 0.03, 1, 0)
    x = rng.normal(0.0, 1.0, (n, 12)).astype(np.float32)
    x[y == 1, 0] += 1.0  # the rare class overlaps the common one
    params = load_crnn_profile("tiny")
    share = {}
    for weighting in ("none", "balanced"):
        run = train_centralized(x, y, params.with_overrides(class_weight=weighting), class_num=2, epochs=3)
        share[weighting] = float(predict_proba(run.model, x)[:, 1].mean())
    assert share["balanced"] > 2 * share["none"]
