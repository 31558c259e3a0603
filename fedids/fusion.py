"""The fused detector: the vertical forest's and the CRNN's class probabilities, combined at A.

Both models score the same records; A joins their probabilities by sample id. Two ways to
combine them, both fitted on A's validation split (never on the test split):
- weighted soft vote ``w * p_rf + (1 - w) * p_crnn``, ``w`` from a grid, chosen by macro-F1
  (rare attack classes count as much as normal traffic) or accuracy;
- stacking: a multinomial logistic regression on the two probability vectors side by side.
The fitted detector is plain numbers (JSON), so it predicts on new records without pickles.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

SELECT_BY = ("macro_f1", "accuracy")


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


def _score(y_true: np.ndarray, proba: np.ndarray, select_by: str, n_classes: int) -> float:
    from sklearn.metrics import accuracy_score, f1_score

    y_pred = proba.argmax(axis=1)
    if select_by == "accuracy":
        return float(accuracy_score(y_true, y_pred))
    return float(f1_score(y_true, y_pred, labels=list(range(n_classes)), average="macro", zero_division=0))


@dataclass
class FusedDetector:
    """Soft-vote weight and stacking coefficients, as fitted on the validation split."""

    classes: List[str]
    weight_rf: float
    select_by: str
    candidates: List[Dict[str, float]] = field(default_factory=list)   # weight -> validation score
    stacking_coef: Optional[List[List[float]]] = None
    stacking_intercept: Optional[List[float]] = None
    stacking_classes: Optional[List[int]] = None                       # class codes the regression saw

    def vote(self, p_rf: np.ndarray, p_crnn: np.ndarray) -> np.ndarray:
        """Weighted soft vote; rows sum to one."""
        return self.weight_rf * np.asarray(p_rf) + (1.0 - self.weight_rf) * np.asarray(p_crnn)

    def stack(self, p_rf: np.ndarray, p_crnn: np.ndarray) -> np.ndarray:
        """The stacking regression's probabilities over every class (zero for classes unseen in validation)."""
        if self.stacking_coef is None:
            raise ValueError("this fused detector was fitted without stacking")
        features = np.hstack([p_rf, p_crnn])
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


def fit_fusion(y_valid: np.ndarray, p_rf: np.ndarray, p_crnn: np.ndarray, classes: Sequence[str],
               select_by: str = "macro_f1", grid_step: float = 0.05, stacking: bool = True,
               seed: int = 42) -> FusedDetector:
    """Choose the soft-vote weight on the validation records (ties: the weight nearest 0.5) and fit stacking."""
    if select_by not in SELECT_BY:
        raise ValueError(f"fusion select_by must be one of {', '.join(SELECT_BY)}, got {select_by!r}")
    if not 0 < grid_step <= 0.5:
        raise ValueError(f"fusion grid_step must be in (0, 0.5], got {grid_step}")
    y_valid = np.asarray(y_valid, dtype=np.int64)
    if len(y_valid) == 0:
        raise ValueError("fusion: no validation record was scored by both models; check the valid split")
    weights = np.round(np.arange(0.0, 1.0 + grid_step / 2, grid_step), 6)
    scores = [_score(y_valid, w * p_rf + (1 - w) * p_crnn, select_by, len(classes)) for w in weights]
    best = max(scores)
    chosen = min((w for w, s in zip(weights, scores) if s == best), key=lambda w: abs(w - 0.5))
    detector = FusedDetector(classes=list(classes), weight_rf=float(chosen), select_by=select_by,
                             candidates=[{"weight_rf": float(w), select_by: s} for w, s in zip(weights, scores)])
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
