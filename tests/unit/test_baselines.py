"""Baselines: forests over every class, training in a fresh interpreter."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from fedids.baselines import forest_probabilities, in_fresh_process
from fedids.model_config import load_rf_profile


def test_fresh_process_returns_the_result_of_another_interpreter():
    assert in_fresh_process(math.factorial, 6) == 720
    assert in_fresh_process(os.getpid) != os.getpid()


def test_forest_probabilities_cover_classes_absent_from_training():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"f": rng.random(200), "label": rng.integers(0, 2, 200)})
    test = pd.DataFrame({"f": rng.random(50)})
    proba = forest_probabilities(train, test, ["f"], load_rf_profile("tiny"), n_classes=4)
    assert proba.shape == (50, 4) and np.allclose(proba.sum(axis=1), 1) and not proba[:, 2:].any()
