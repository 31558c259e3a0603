"""The fused detector: weight chosen on validation, stacking, JSON round trip, id join."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedids.fusion import FusedDetector, fit_fusion, join_by_id, prediction_frame, resampled_scores

CLASSES = ["normal", "DoS", "Probe"]


def noisy_proba(labels, rng, strength):
    proba = rng.dirichlet(np.ones(3), size=len(labels))
    proba[np.arange(len(labels)), labels] += strength
    return proba / proba.sum(axis=1, keepdims=True)


def test_soft_vote_weight_goes_to_the_model_that_is_right_on_validation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    good, useless = noisy_proba(y, rng, 0.6), rng.dirichlet(np.ones(3), size=400)
    assert fit_fusion(y, good, useless, CLASSES, stacking=False).weight_rf >= 0.8
    assert fit_fusion(y, useless, good, CLASSES, stacking=False).weight_rf <= 0.2


def test_soft_vote_combines_complementary_models_better_than_either():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    # each model knows two of the three classes and leans (weakly) wrong on the third
    known = np.eye(3)[y] * 0.8 + 0.2 / 3
    a = np.where((y == 2)[:, None], [0.4, 0.35, 0.25], known)
    b = np.where((y == 0)[:, None], [0.25, 0.4, 0.35], known)
    fused = fit_fusion(y, a, b, CLASSES, stacking=False)
    accuracy = lambda p: float((p.argmax(1) == y).mean())  # noqa: E731
    assert accuracy(fused.vote(a, b)) > max(accuracy(a), accuracy(b))
    assert {c["weight_rf"] for c in fused.candidates} >= {0.0, 0.5, 1.0}


def test_stacking_probabilities_cover_every_class_and_survive_json(tmp_path):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)  # class 2 never appears in validation
    a, b = noisy_proba(y, rng, 1.0), noisy_proba(y, rng, 0.5)
    fused = fit_fusion(y, a, b, CLASSES)
    proba = fused.stack(a, b)
    assert proba.shape == (300, 3) and np.allclose(proba.sum(1), 1) and np.all(proba[:, 2] == 0)
    fused.save(tmp_path / "fusion.json")
    again = FusedDetector.load(tmp_path / "fusion.json")
    assert np.allclose(again.stack(a, b), proba) and again.weight_rf == fused.weight_rf
    assert (proba.argmax(1) == y).mean() > 0.8


def test_join_keeps_only_records_both_models_scored_in_id_order():
    first = prediction_frame(np.array([3, 1, 2]), np.eye(3), CLASSES, labels=np.array([0, 1, 2]))
    second = prediction_frame(np.array([2, 3, 9]), np.eye(3)[[1, 2, 0]], CLASSES)
    ids, labels, pa, pb = join_by_id(first, second, CLASSES)
    assert ids.tolist() == [2, 3] and labels.tolist() == [2, 0]
    assert pa.argmax(1).tolist() == [2, 0] and pb.argmax(1).tolist() == [1, 2]


def test_resampled_macro_f1_and_accuracy_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 4, 500), rng.integers(0, 3, 500)   # class 3 never predicted
    resamples = rng.integers(0, 500, size=(7, 500))
    f1 = resampled_scores(y_true, y_pred, resamples, "macro_f1", 5)      # class 4 absent everywhere
    acc = resampled_scores(y_true, y_pred, resamples, "accuracy", 5)
    for row, idx in enumerate(resamples):
        assert f1[row] == pytest.approx(f1_score(y_true[idx], y_pred[idx], labels=range(5), average="macro",
                                                 zero_division=0))
        assert acc[row] == pytest.approx(accuracy_score(y_true[idx], y_pred[idx]))


def test_one_se_rule_keeps_equal_trust_when_validation_cannot_tell_the_models_apart():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 300)
    a, b = noisy_proba(y, rng, 0.5), noisy_proba(y, rng, 0.5)
    plain = fit_fusion(y, a, b, CLASSES, stacking=False, selection="best")
    one_se = fit_fusion(y, a, b, CLASSES, stacking=False)
    best = max(c["macro_f1"] for c in plain.candidates)
    assert one_se.selection == "one_se" and 0 < one_se.score_se < 0.1
    kept = [c["weight_rf"] for c in one_se.candidates if c["macro_f1"] >= best - one_se.score_se]
    assert one_se.weight_rf == min(kept, key=lambda w: abs(w - 0.5))
    assert abs(one_se.weight_rf - 0.5) <= abs(plain.weight_rf - 0.5)
    assert plain.score_se is None and any(c["macro_f1"] == best for c in plain.candidates
                                          if c["weight_rf"] == plain.weight_rf)
    again = fit_fusion(y, a, b, CLASSES, stacking=False)
    assert again.weight_rf == one_se.weight_rf and again.score_se == one_se.score_se   # seeded bootstrap


def test_bad_fusion_settings_are_refused():
    y = np.array([0, 1])
    p = np.eye(3)[y]
    with pytest.raises(ValueError, match="select_by"):
        fit_fusion(y, p, p, CLASSES, select_by="auc")
    with pytest.raises(ValueError, match="selection"):
        fit_fusion(y, p, p, CLASSES, selection="median")
    with pytest.raises(ValueError, match="bootstrap"):
        fit_fusion(y, p, p, CLASSES, bootstrap=5)
    with pytest.raises(ValueError, match="no validation record"):
        fit_fusion(np.array([], int), p[:0], p[:0], CLASSES)
    assert isinstance(prediction_frame(np.array([1]), np.eye(3)[:1], CLASSES), pd.DataFrame)


def test_calibrated_fusion_scales_each_model_on_validation_and_applies_it_after_a_json_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 1.5, (4000, 3))
    calibrated = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = (rng.random(4000)[:, None] > calibrated.cumsum(1)).sum(1)      # labels drawn from the true posteriors
    overconfident = np.exp(4 * logits) / np.exp(4 * logits).sum(1, keepdims=True)
    fused = fit_fusion(y, overconfident, calibrated, CLASSES, calibration="temperature")
    assert fused.calibration == "temperature"
    assert fused.temperatures["rf"] == pytest.approx(4.0, rel=0.15)
    assert fused.temperatures["crnn"] == pytest.approx(1.0, rel=0.15)
    fused.save(tmp_path / "fusion.json")
    again = FusedDetector.load(tmp_path / "fusion.json")
    assert np.allclose(again.vote(overconfident, calibrated), fused.vote(overconfident, calibrated))
    assert np.allclose(again.stack(overconfident, calibrated), fused.stack(overconfident, calibrated))
    # the vote is of the scaled probabilities: with the right temperature the two inputs agree
    scaled_rf, _ = fused.calibrated(overconfident, calibrated)
    assert np.abs(scaled_rf - calibrated).mean() < 0.01


def test_a_fusion_json_written_before_calibration_existed_still_loads_and_votes_unscaled(tmp_path):
    (tmp_path / "fusion.json").write_text('{"classes": ["normal", "DoS", "Probe"], "weight_rf": 0.25, '
                                          '"select_by": "macro_f1"}')
    old = FusedDetector.load(tmp_path / "fusion.json")
    a, b = np.eye(3), np.full((3, 3), 1 / 3)
    assert old.temperatures is None and np.allclose(old.vote(a, b), 0.25 * a + 0.75 * b)


def test_unknown_calibration_is_refused():
    y = np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match="calibration must be one of temperature, none"):
        fit_fusion(y, np.eye(3)[y], np.eye(3)[y], CLASSES, calibration="isotonic")


def test_weight_records_choose_the_weight_while_calibration_and_stacking_stay_on_validation(tmp_path):
    from fedids.fusion import WeightRecords

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 400)
    good, useless = noisy_proba(y, rng, 0.6), rng.dirichlet(np.ones(3), size=400)
    # on validation the forest is the good model; on the held-out attacks the CRNN is
    held = rng.integers(0, 3, 300)
    records = WeightRecords(held, rng.dirichlet(np.ones(3), size=300), noisy_proba(held, rng, 0.6), "attack_holdout")
    plain = fit_fusion(y, good, useless, CLASSES)
    chosen = fit_fusion(y, good, useless, CLASSES, weight_records=records)
    assert plain.weight_rf >= 0.8 and chosen.weight_rf <= 0.2
    assert chosen.weight_chosen_on == "attack_holdout" and plain.weight_chosen_on == "valid"
    assert chosen.stacking_coef == plain.stacking_coef
    calibrated = [fit_fusion(y, good, useless, CLASSES, calibration="temperature", weight_records=r)
                  for r in (None, records)]
    assert calibrated[0].temperatures == calibrated[1].temperatures
    chosen.save(tmp_path / "fusion.json")
    assert FusedDetector.load(tmp_path / "fusion.json").weight_chosen_on == "attack_holdout"
    with pytest.raises(ValueError, match="attack_holdout records for the weight are empty"):
        fit_fusion(y, good, useless, CLASSES, weight_records=WeightRecords(held[:0], good[:0], good[:0],
                                                                          "attack_holdout"))
