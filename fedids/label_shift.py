"""Adapting a detector to the class mix of the traffic it scores (label shift), at A.

A model's probabilities carry the class mix it was trained on: NSL-KDD's training file is 0.8 %
R2L, its test file 12 %, and a deployment's mix is unknown and moves. When only the mix moves
(p(x | class) stays), the posterior for mix ``pi_t`` is the trained posterior reweighted by
``pi_t / pi_s``; ``pi_t`` is estimated from the unlabelled scored records by EM (Saerens,
Latinne & Decaestecker, Neural Computation 14(1), 2002). EM needs calibrated probabilities
(Alexandari et al., ICML 2020), so each model is first temperature-scaled on A's validation split.
Everything here runs at A on probabilities A already holds: no party sends anything new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

PROBABILITY_FLOOR = 1e-6            # a forest's vote can be exactly 0; its log must stay finite
TEMPERATURE_BOUNDS = (0.05, 20.0)
CALIBRATIONS = ("temperature", "none")
ADAPTATIONS = ("em", "none")
ADAPTED_SUFFIX = "_adapted"         # run directories: MODEL_adapted is MODEL after adaptation


def _log_probabilities(proba: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(proba, dtype=float), PROBABILITY_FLOOR, None)
    return np.log(clipped / clipped.sum(axis=1, keepdims=True))


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)``: T > 1 softens over-confident probabilities, T < 1 sharpens; argmax unchanged."""
    logits = _log_probabilities(proba) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of ``labels`` (validation records)."""
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise ValueError("temperature scaling needs at least one labelled validation record")
    log_p = _log_probabilities(proba)
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        logits = log_p / np.exp(log_t)
        top = logits.max(axis=1)
        return float(np.mean(top + np.log(np.exp(logits - top[:, None]).sum(axis=1)) - logits[rows, labels]))

    low, high = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    result = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))


def source_priors(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The class mix the models were trained under, from A's validation labels, Laplace-smoothed
    (+1 per class) so that a class absent from validation keeps a non-zero prior."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(float)
    return (counts + 1.0) / (counts.sum() + n_classes)


def model_priors(valid_labels: np.ndarray, n_classes: int, class_weight: str = "none") -> np.ndarray:
    """The class mix a model's probabilities carry: its training mix (``source_priors``), or uniform
    for a model trained with ``class_weight: balanced``, where every class weighed alike. EM divides by
    this mix, so the wrong one inflates the rarest classes (a balanced CRNN given the valid mix as its
    trained mix estimated 80 % U2R on KDDTest+, run 20261205-110017-quick-balanced)."""
    if class_weight == "balanced":
        return np.full(n_classes, 1.0 / n_classes)
    return source_priors(valid_labels, n_classes)


@dataclass
class Adaptation:
    """One detector's adapted probabilities and what EM found."""

    proba: np.ndarray
    priors: List[float]          # the estimated class mix of the scored records
    iterations: int
    converged: bool


def adapt_to_priors(proba: np.ndarray, trained_priors: np.ndarray, max_iter: int = 1000,
                    tol: float = 1e-8) -> Adaptation:
    """EM re-estimation of the scored records' class mix; posteriors reweighted by new / trained prior.

    Each step: posteriors ``q ∝ p * pi_t / pi_s``, then ``pi_t = mean(q)``; stops when no prior moves by
    more than ``tol``. Vectorised over records: one (N, K) product per step.
    """
    proba = np.asarray(proba, dtype=float)
    trained = np.asarray(trained_priors, dtype=float)
    if proba.ndim != 2 or proba.shape[1] != len(trained):
        raise ValueError(f"probabilities of shape {proba.shape} do not match {len(trained)} trained priors")
    if len(proba) == 0:
        raise ValueError("no scored record to estimate the class mix from")
    if (trained <= 0).any():
        raise ValueError("trained priors must all be positive (smooth them, see source_priors)")
    proba = proba / proba.sum(axis=1, keepdims=True)
    priors, iterations, converged = trained.copy(), 0, False
    while iterations < max_iter and not converged:
        adapted = proba * (priors / trained)
        updated = (adapted / adapted.sum(axis=1, keepdims=True)).mean(axis=0)
        converged = float(np.abs(updated - priors).max()) <= tol
        priors, iterations = updated, iterations + 1
    adapted = proba * (priors / trained)
    adapted /= adapted.sum(axis=1, keepdims=True)
    return Adaptation(proba=adapted, priors=priors.tolist(), iterations=iterations, converged=converged)
