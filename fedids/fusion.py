"""The fused detector: the vertical forest's and the CRNN's class probabilities, combined at A.

Both models score the same records; A joins their probabilities by sample id. Two ways to
combine them, both fitted on A's validation split (never on the test split):
- weighted soft vote ``w * p_rf + (1 - w) * p_crnn``, ``w`` from a grid, scored by macro-F1
  (rare attack classes count as much as normal traffic) or accuracy, and chosen by the
  one-standard-error rule: among the weights whose validation score is within one bootstrap
  standard error of the best, the one nearest 0.5. A validation split of a few thousand records
  holds a handful of R2L/U2R records, so the plain argmax chases noise (a single U2R record moves
  macro-F1 by up to 0.2) and lands on extreme weights that do not transfer; equal trust is kept
  unless the validation split shows a difference larger than its own noise. ``selection: best``
  keeps the plain argmax;
- stacking: a multinomial logistic regression on the two probability vectors side by side.
With ``calibration: temperature`` each model's probabilities are first temperature-scaled on the
same validation records (fedids/label_shift.py): a forest's vote fractions and a network's softmax
are on different scales, and averaging is only meaningful between calibrated probabilities.
With ``weight_from: attack_holdout`` (conf/demo.yaml) the weight is chosen instead on a second pair of
models trained without a seeded half of each attack class's names and scored on them
(data_upload/holdout.py): the random valid split holds only attacks the models were trained on,
and the test file and a deployment do not. The deployed pair, its calibration and stacking stay
as above.
The fitted detector is plain numbers (JSON), so it predicts on new records without pickles.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

SELECT_BY = ("macro_f1", "accuracy")
SELECTION = ("one_se", "best")
HOLDOUT_SPLIT = "attack_holdout"   # the leave-attack-out pair's valid split (data/attack_holdout/, MODEL.attack_holdout.csv)
WEIGHT_FROM = ("valid", HOLDOUT_SPLIT)   # conf/demo.yaml fusion.weight_from
FUSED_INPUTS = ("rf", "crnn")


def probability_columns(classes: Sequence[str]) -> List[str]:
    """The prediction files' probability columns, one per class, in class-code order."""
    return [f"p_{c}" for c in classes]


def join_by_id(first: pd.DataFrame, second: pd.DataFrame, classes: Sequence[str]
               ) -> Tuple[np.ndarray, Optional[np.ndarray], np.ndarray, np.ndarray]:
    """Records both models scored: (ids, labels or None, first's proba, second's proba), sorted by id."""
    cols = probability_columns(classes)
    keep = ["id", *cols] + (["label"] if "label" in first else [])
    merged = first[keep].merge(second[["id", *cols]], on="id", suffixes=("_a", "_b")).sort_values("id")
    labels = merged["label"].to_numpy(np.int64) if "label" in merged else None
    return (merged["id"].to_numpy(), labels, merged[[f"{c}_a" for c in cols]].to_numpy(float),
            merged[[f"{c}_b" for c in cols]].to_numpy(float))


def resampled_scores(y_true: np.ndarray, y_pred: np.ndarray, resamples: np.ndarray, select_by: str,
                     n_classes: int) -> np.ndarray:
    """Macro-F1 (every class in ``range(n_classes)``, 0 where undefined, as scikit-learn's
    ``zero_division=0``) or accuracy of ``y_pred`` on each row of index matrix ``resamples``."""
    rows, n = resamples.shape
    if select_by == "accuracy":
        return (y_true[resamples] == y_pred[resamples]).mean(axis=1)
    cells = (np.arange(rows)[:, None] * n_classes + y_true[resamples]) * n_classes + y_pred[resamples]
    confusion = np.bincount(cells.ravel(), minlength=rows * n_classes * n_classes).reshape(rows, n_classes, n_classes)
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    denominator = confusion.sum(axis=2) + confusion.sum(axis=1)          # 2TP + FP + FN
    f1 = np.divide(2.0 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
    return f1.mean(axis=1)


def weight_grid(grid_step: float) -> np.ndarray:
    """Soft-vote weights on rf from 0 to 1 in steps of ``grid_step``."""
    return np.round(np.arange(0.0, 1.0 + grid_step / 2, grid_step), 6)


def weight_sweep(y_true: np.ndarray, p_rf: np.ndarray, p_crnn: np.ndarray, weights: Sequence[float],
                 n_classes: int) -> Dict[str, np.ndarray]:
    """Accuracy and macro-F1 of the soft vote at every weight (the candidates, or a report's diagnostic)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    whole = np.arange(len(y_true))[None, :]
    p_rf, p_crnn = np.asarray(p_rf, dtype=float), np.asarray(p_crnn, dtype=float)
    predictions = [(w * p_rf + (1 - w) * p_crnn).argmax(axis=1) for w in weights]
    return {metric: np.array([resampled_scores(y_true, pred, whole, metric, n_classes)[0] for pred in predictions])
            for metric in SELECT_BY}


def calibrate_inputs(temperatures: Optional[Dict[str, float]], p_rf: np.ndarray, p_crnn: np.ndarray
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """rf's and crnn's probabilities scaled by fusion.json's ``temperatures`` (as given when there are none)."""
    from fedids.label_shift import apply_temperature

    pair = (np.asarray(p_rf, dtype=float), np.asarray(p_crnn, dtype=float))
    if not temperatures:
        return pair
    return tuple(apply_temperature(p, temperatures[name]) for name, p in zip(FUSED_INPUTS, pair))


def fit_input_temperatures(labels: np.ndarray, p_rf: np.ndarray, p_crnn: np.ndarray) -> Dict[str, float]:
    """rf's and crnn's temperatures on labelled records (fusion.json's ``temperatures``)."""
    from fedids.label_shift import fit_temperature

    return {name: fit_temperature(p, labels) for name, p in zip(FUSED_INPUTS, (p_rf, p_crnn))}


@dataclass
class FusedDetector:
    """Soft-vote weight and stacking coefficients, as fitted on the validation split."""

    classes: List[str]
    weight_rf: float
    select_by: str
    candidates: List[Dict[str, float]] = field(default_factory=list)   # weight -> validation score
    selection: str = "best"                                            # one_se | best
    score_se: Optional[float] = None                                   # bootstrap SE of the best score
    stacking_coef: Optional[List[List[float]]] = None
    stacking_intercept: Optional[List[float]] = None
    stacking_classes: Optional[List[int]] = None                       # class codes the regression saw
    calibration: str = "none"                                          # temperature | none
    temperatures: Optional[Dict[str, float]] = None                    # {"rf": T, "crnn": T}
    trained_priors: Optional[List[float]] = None                       # validation class mix (label shift)
    adaptation: Optional[Dict[str, Any]] = None                        # conf/demo.yaml's adaptation settings
    weight_chosen_on: str = "valid"                                    # valid | attack_holdout (WeightRecords.split)

    def calibrated(self, p_rf: np.ndarray, p_crnn: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Both models' probabilities as the fusion was fitted on them (temperature-scaled, or as given)."""
        return calibrate_inputs(self.temperatures, p_rf, p_crnn)

    def vote(self, p_rf: np.ndarray, p_crnn: np.ndarray) -> np.ndarray:
        """Weighted soft vote of the calibrated probabilities; rows sum to one."""
        p_rf, p_crnn = self.calibrated(p_rf, p_crnn)
        return self.weight_rf * p_rf + (1.0 - self.weight_rf) * p_crnn

    def stack(self, p_rf: np.ndarray, p_crnn: np.ndarray) -> np.ndarray:
        """The stacking regression's probabilities over every class (zero for classes unseen in validation)."""
        if self.stacking_coef is None:
            raise ValueError("this fused detector was fitted without stacking")
        features = np.hstack(self.calibrated(p_rf, p_crnn))
        coef, intercept = np.asarray(self.stacking_coef), np.asarray(self.stacking_intercept)
        logits = features @ coef.T + intercept
        if len(self.stacking_classes) == 2:  # scikit-learn's binary form: one logit for the second class
            second = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            seen = np.column_stack([1.0 - second, second])
        else:
            logits -= logits.max(axis=1, keepdims=True)
            seen = np.exp(logits)
            seen /= seen.sum(axis=1, keepdims=True)
        proba = np.zeros((len(features), len(self.classes)))
        proba[:, self.stacking_classes] = seen
        return proba

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FusedDetector:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class WeightRecords:
    """Labelled records and both models' (calibrated) probabilities on them, on which the weight is chosen."""

    labels: np.ndarray
    p_rf: np.ndarray
    p_crnn: np.ndarray
    split: str          # what they are, for fusion.json and the report: "valid", "attack_holdout"


def choose_weight(records: WeightRecords, n_classes: int, select_by: str, grid_step: float, selection: str,
                  bootstrap: int, seed: int) -> Tuple[float, List[Dict[str, float]], Optional[float]]:
    """(chosen weight on rf, every candidate with its score, the bootstrap SE or None).

    ``selection="one_se"``: the weight nearest 0.5 among those scoring within one standard error
    (``bootstrap`` resamples of the records, seeded) of the best; ``"best"``: the best score, ties
    broken towards 0.5.
    """
    y = np.asarray(records.labels, dtype=np.int64)
    p_rf, p_crnn = np.asarray(records.p_rf, dtype=float), np.asarray(records.p_crnn, dtype=float)
    weights = weight_grid(grid_step)
    scores = weight_sweep(y, p_rf, p_crnn, weights, n_classes)[select_by]
    best = int(np.argmax(scores))
    tolerance, score_se = 0.0, None
    if selection == "one_se":
        best_vote = (weights[best] * p_rf + (1 - weights[best]) * p_crnn).argmax(axis=1)
        resamples = np.random.default_rng(seed).integers(0, len(y), size=(bootstrap, len(y)))
        score_se = float(resampled_scores(y, best_vote, resamples, select_by, n_classes).std(ddof=1))
        tolerance = score_se
    kept = [w for w, s in zip(weights, scores) if s >= scores[best] - tolerance - 1e-12]
    chosen = min(kept, key=lambda w: (abs(w - 0.5), w))
    return float(chosen), [{"weight_rf": float(w), select_by: float(s)} for w, s in zip(weights, scores)], score_se


def fit_fusion(y_valid: np.ndarray, p_rf: np.ndarray, p_crnn: np.ndarray, classes: Sequence[str],
               select_by: str = "macro_f1", grid_step: float = 0.05, stacking: bool = True,
               seed: int = 42, selection: str = "one_se", bootstrap: int = 200,
               calibration: str = "none", weight_records: Optional[WeightRecords] = None) -> FusedDetector:
    """Calibrate each model (``calibration``), choose the soft-vote weight (``choose_weight``) and fit
    stacking, all on the validation records, except the weight when ``weight_records`` are given:
    e.g. a second pair of models' predictions of attack names held out of their training
    (fedids/demo.py), already calibrated as those models' own valid records say.
    """
    if select_by not in SELECT_BY:
        raise ValueError(f"fusion select_by must be one of {', '.join(SELECT_BY)}, got {select_by!r}")
    if selection not in SELECTION:
        raise ValueError(f"fusion selection must be one of {', '.join(SELECTION)}, got {selection!r}")
    if not 0 < grid_step <= 0.5:
        raise ValueError(f"fusion grid_step must be in (0, 0.5], got {grid_step}")
    if selection == "one_se" and (isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 20):
        raise ValueError(f"fusion bootstrap must be an integer of at least 20 resamples, got {bootstrap!r}")
    from fedids.label_shift import CALIBRATIONS

    if calibration not in CALIBRATIONS:
        raise ValueError(f"fusion calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
    y_valid = np.asarray(y_valid, dtype=np.int64)
    if len(y_valid) == 0:
        raise ValueError("fusion: no validation record was scored by both models; check the valid split")
    p_rf, p_crnn = np.asarray(p_rf, dtype=float), np.asarray(p_crnn, dtype=float)
    temperatures = None
    if calibration == "temperature":
        temperatures = fit_input_temperatures(y_valid, p_rf, p_crnn)
        p_rf, p_crnn = calibrate_inputs(temperatures, p_rf, p_crnn)
    if weight_records is None:
        weight_records = WeightRecords(y_valid, p_rf, p_crnn, "valid")
    elif len(weight_records.labels) == 0:
        raise ValueError(f"fusion: the {weight_records.split} records for the weight are empty")
    chosen, candidates, score_se = choose_weight(weight_records, len(classes), select_by, grid_step, selection,
                                                 bootstrap, seed)
    detector = FusedDetector(classes=list(classes), weight_rf=chosen, select_by=select_by, candidates=candidates,
                             selection=selection, score_se=score_se, calibration=calibration,
                             temperatures=temperatures, weight_chosen_on=weight_records.split)
    if stacking and len(np.unique(y_valid)) >= 2:
        from sklearn.linear_model import LogisticRegression

        regression = LogisticRegression(max_iter=2000, random_state=seed)
        regression.fit(np.hstack([p_rf, p_crnn]), y_valid)
        detector.stacking_coef = regression.coef_.tolist()
        detector.stacking_intercept = regression.intercept_.tolist()
        detector.stacking_classes = [int(c) for c in regression.classes_]
    return detector


def prediction_frame(ids: np.ndarray, proba: np.ndarray, classes: Sequence[str],
                     labels: Optional[np.ndarray] = None) -> pd.DataFrame:
    """The run directory's prediction file shape: id, label (when known), p_<class>..."""
    frame = pd.DataFrame(proba, columns=probability_columns(classes))
    if labels is not None:
        frame.insert(0, "label", np.asarray(labels, dtype=np.int64))
    frame.insert(0, "id", np.asarray(ids))
    return frame
