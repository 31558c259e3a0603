"""Label-shift adaptation at A (fedids/label_shift.py): temperature scaling and EM re-estimation of
the class mix, checked on synthetic data whose true posteriors and class mix are known."""

from __future__ import annotations

import numpy as np
import pytest

from fedids.label_shift import adapt_to_priors, apply_temperature, fit_temperature, model_priors, source_priors

MEANS = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])   # three classes, unit-variance Gaussians


def _bayes_posteriors(x: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Exact p(class | x) for the Gaussians above under class mix ``priors``: a perfectly calibrated model."""
    log_lik = -0.5 * ((x[:, None, :] - MEANS[None]) ** 2).sum(axis=2)
    joint = np.exp(log_lik) * priors
    return joint / joint.sum(axis=1, keepdims=True)


def _sample(rng: np.random.Generator, n: int, priors: np.ndarray):
    y = rng.choice(len(priors), size=n, p=priors)
    return MEANS[y] + rng.normal(size=(n, 2)), y


def test_temperature_recovers_how_overconfident_a_model_is():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (20000, 4))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in true])
    overconfident = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    assert fit_temperature(overconfident, labels) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(true, labels) == pytest.approx(1.0, rel=0.05)


def test_temperature_keeps_the_predicted_class_and_rows_sum_to_one():
    proba = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]])
    for t in (0.5, 1.0, 4.0):
        scaled = apply_temperature(proba, t)
        assert (scaled.argmax(axis=1) == proba.argmax(axis=1)).all()
        assert np.allclose(scaled.sum(axis=1), 1.0) and np.isfinite(scaled).all()


def test_em_recovers_the_shifted_class_mix_and_improves_accuracy():
    rng = np.random.default_rng(1)
    trained, shifted = np.array([0.8, 0.15, 0.05]), np.array([0.3, 0.2, 0.5])
    x, y = _sample(rng, 20000, shifted)
    proba = _bayes_posteriors(x, trained)                  # calibrated for the training mix
    adapted = adapt_to_priors(proba, trained)
    assert adapted.converged and adapted.iterations < 1000
    assert np.allclose(adapted.priors, shifted, atol=0.02)
    assert np.allclose(adapted.proba, _bayes_posteriors(x, np.asarray(adapted.priors)), atol=1e-9)
    before, after = (proba.argmax(1) == y).mean(), (adapted.proba.argmax(1) == y).mean()
    assert after > before + 0.05


def test_em_leaves_an_unshifted_mix_where_it_is():
    rng = np.random.default_rng(2)
    trained = np.array([0.6, 0.3, 0.1])
    x, _ = _sample(rng, 20000, trained)
    adapted = adapt_to_priors(_bayes_posteriors(x, trained), trained)
    assert np.allclose(adapted.priors, trained, atol=0.015)


def test_source_priors_are_smoothed_so_an_absent_class_keeps_a_positive_prior():
    priors = source_priors(np.array([0, 0, 0, 1]), 3)
    assert priors.tolist() == pytest.approx([4 / 7, 2 / 7, 1 / 7])


@pytest.mark.parametrize("proba, trained, message", [
    (np.full((3, 2), 0.5), np.array([0.2, 0.3, 0.5]), "do not match 3 trained priors"),
    (np.empty((0, 3)), np.array([0.2, 0.3, 0.5]), "no scored record"),
    (np.full((3, 3), 1 / 3), np.array([0.5, 0.5, 0.0]), "must all be positive"),
])
def test_bad_adaptation_inputs_are_refused_with_the_reason(proba, trained, message):
    with pytest.raises(ValueError, match=message):
        adapt_to_priors(proba, trained)


def test_em_stops_at_max_iter_and_says_it_did_not_converge():
    rng = np.random.default_rng(3)
    trained = np.array([0.8, 0.15, 0.05])
    x, _ = _sample(rng, 5000, np.array([0.2, 0.2, 0.6]))
    adapted = adapt_to_priors(_bayes_posteriors(x, trained), trained, max_iter=2, tol=1e-12)
    assert adapted.iterations == 2 and not adapted.converged


def _detector(min_records: int):
    from fedids.fusion import FusedDetector

    return FusedDetector(classes=["a", "b", "c"], weight_rf=0.5, select_by="macro_f1",
                         trained_priors=[0.8, 0.15, 0.05],
                         adaptation={"method": "em", "max_iter": 1000, "tol": 1e-8, "min_records": min_records})


def test_predict_adapts_a_large_batch_only_when_asked_and_keeps_a_small_one_as_trained(capsys):
    from fedids.predict import adapt_to_batch

    rng = np.random.default_rng(4)
    x, _ = _sample(rng, 3000, np.array([0.3, 0.2, 0.5]))
    fused = _bayes_posteriors(x, np.array([0.8, 0.15, 0.05]))
    adapted = adapt_to_batch(_detector(1000), fused, adapt=True)
    assert np.allclose(adapted.mean(axis=0), [0.3, 0.2, 0.5], atol=0.04)
    assert adapt_to_batch(_detector(1000), fused) is fused           # off unless asked for
    assert adapt_to_batch(_detector(5000), fused, adapt=True) is fused
    assert "fewer than adaptation.min_records (5000)" in capsys.readouterr().out


def test_a_class_balanced_model_is_adapted_from_the_uniform_mix_it_was_trained_under():
    rng = np.random.default_rng(3)
    train_mix, test_mix = np.array([0.9, 0.09, 0.01]), np.array([0.5, 0.3, 0.2])
    train_labels = rng.choice(3, size=5000, p=train_mix)
    x, _ = _sample(rng, 20000, test_mix)
    balanced = model_priors(train_labels, 3, "balanced")
    assert np.allclose(balanced, 1 / 3)
    assert np.allclose(model_priors(train_labels, 3, "none"), source_priors(train_labels, 3))
    proba = _bayes_posteriors(x, balanced)   # what a class-balanced model's probabilities carry
    assert np.allclose(adapt_to_priors(proba, balanced).priors, test_mix, atol=0.02)
    # given the training mix instead, EM inflates the rarest class far beyond its share
    wrong = adapt_to_priors(proba, model_priors(train_labels, 3, "none"), max_iter=200)
    assert wrong.priors[2] > 2 * test_mix[2]
