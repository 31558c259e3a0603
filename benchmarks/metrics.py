"""Classification metrics used by every benchmark and report, named the way the tables name them."""

from __future__ import annotations

import ast
from typing import Any, Dict, List, Sequence

import numpy as np
import pandas as pd


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> Dict[str, Any]:
    """Accuracy, macro/weighted F1, OvR macro AUC, per-class recall (macro-F1 computed here:
    FATE's multi_f1_score is micro-averaged)."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score

    labels = list(range(len(classes)))
    y_pred = proba.argmax(axis=1)
    # one-vs-rest AUC per class present in y_true, then their mean (macro)
    aucs = [roc_auc_score(y_true == c, proba[:, c]) for c in labels if 0 < np.sum(y_true == c) < len(y_true)]
    auc = float(np.mean(aucs)) if aucs else float("nan")
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "auc_ovr_macro": auc,
        "recall_per_class": {str(c): float(r) for c, r in zip(classes, recall)},
    }


def fate_probabilities(predictions: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Class probabilities from FATE's predict_detail column (a dict, or its string form)."""
    rows: List[List[float]] = []
    for detail in predictions["predict_detail"]:
        parsed = ast.literal_eval(detail) if isinstance(detail, str) else detail
        rows.append([float(parsed[str(c)] if str(c) in parsed else parsed[c]) for c in range(n_classes)])
    return np.asarray(rows)
