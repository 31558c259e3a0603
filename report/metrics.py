"""Metrics of one model's predictions: the numbers every table of the report is made of.

Predictions come from a run directory's ``predictions/MODEL.SPLIT.csv`` (columns ``id``, ``label``
and ``p_<class>`` for every class, ``label`` the integer class code). The predicted class is the
argmax of the probabilities, so every model is judged by the same rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from fedids.fusion import probability_columns


def predictions_from_frame(
    frame: pd.DataFrame, classes: Sequence[str], source: str = "predictions"
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y_true, proba, ids) of a predictions frame; ValueError naming `source` when it is unusable,
    so a broken file is caught here rather than as a wrong number in a table."""
    wanted = ["id", "label", *probability_columns(classes)]
    missing = [column for column in wanted if column not in frame.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)} (expected id, label, p_<class>)")
    if frame.empty:
        raise ValueError(f"{source}: no rows")
    labels = pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(labels).any() or (labels != np.round(labels)).any():
        raise ValueError(f"{source}: column label must hold integer class codes")
    y_true = labels.astype(np.int64)
    if y_true.min() < 0 or y_true.max() >= len(classes):
        raise ValueError(
            f"{source}: label codes must lie in 0..{len(classes) - 1}, found {y_true.min()}..{y_true.max()}"
        )
    proba = frame[probability_columns(classes)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(proba).all():
        raise ValueError(f"{source}: probability columns hold missing or non-numeric values")
    return y_true, proba, frame["id"].to_numpy()


def load_predictions(
    path: Union[str, Path], classes: Sequence[str]
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y_true, proba, ids) of a predictions CSV; proba has one column per class, in class-code order."""
    return predictions_from_frame(pd.read_csv(path), classes, source=str(path))


def model_metrics(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> Dict[str, Any]:
    """Overall, per-class and confusion-matrix metrics of one model, as plain JSON-ready numbers.

    Macro and weighted P/R/F1 average over the classes present in y_true or predicted (scikit-learn's
    default), so a class absent from both does not count as a zero. AUC is one-vs-rest per class; a
    class absent from y_true (or the only class in it) has no AUC (NaN) and is left out of the AUC
    averages, listed in ``auc_classes_skipped``. Per-class accuracy is one-vs-rest: (TP + TN) / N.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=float)
    k = len(classes)
    n = len(y_true)
    if n == 0 or proba.shape != (n, k):
        raise ValueError(f"expected {n} > 0 rows and probabilities of shape ({n}, {k}), got {proba.shape}")
    codes = np.arange(k)
    y_pred = proba.argmax(axis=1)
    averaged = np.union1d(y_true, y_pred)

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=codes, average=None, zero_division=0
    )
    averages: Dict[str, float] = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=averaged, average=average, zero_division=0
        )
        averages.update({f"precision_{average}": float(p), f"recall_{average}": float(r),
                         f"f1_{average}": float(f)})

    matrix = confusion_matrix(y_true, y_pred, labels=codes)
    tp = np.diag(matrix)
    fp = matrix.sum(axis=0) - tp
    fn = matrix.sum(axis=1) - tp
    class_accuracy = (n - fp - fn) / n  # (TP + TN) / N with TN = N - TP - FP - FN

    positives = matrix.sum(axis=1)
    scorable = (positives > 0) & (positives < n)
    auc = np.full(k, np.nan)
    for code in codes[scorable]:
        auc[code] = roc_auc_score(y_true == code, proba[:, code])
    auc_macro = auc_weighted = float("nan")
    if scorable.any():
        auc_macro = float(auc[scorable].mean())
        auc_weighted = float(np.average(auc[scorable], weights=positives[scorable]))

    return {
        "n": int(n),
        "accuracy": float((y_pred == y_true).mean()),
        **averages,
        "auc_macro": auc_macro,
        "auc_weighted": auc_weighted,
        "auc_classes_skipped": [classes[code] for code in codes[~scorable]],
        "per_class": {
            name: {
                "precision": float(precision[code]),
                "recall": float(recall[code]),
                "f1": float(f1[code]),
                "accuracy": float(class_accuracy[code]),
                "auc": float(auc[code]),
                "support": int(support[code]),
            }
            for code, name in enumerate(classes)
        },
        "confusion_matrix": matrix.astype(int).tolist(),
    }
