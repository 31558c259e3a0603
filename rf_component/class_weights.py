"""Class weights of the forest: every class counts alike ("balanced") or every sample alike ("none").

An IDS's rare classes (R2L, U2R on NSL-KDD: under 1 % of the training records) are the ones a
security team most wants found; a forest grown on raw counts hardly splits for them. With
``balanced`` each sample of class c weighs max_count / count_c (the majority class weighs 1;
the same ratios as scikit-learn's ``class_weight="balanced"``), in Gini gains, in the
min-samples rules and in the leaves' class shares.

The weights travel inside the guest's encrypted class vectors (a sample of class c adds
``units[c]`` instead of 1 to its class's field), so hosts see nothing new; they must be integers
for that, so they are kept in units of 1/RESOLUTION (relative rounding error under 1/(2*RESOLUTION)).
The arbiter divides its decrypted counts by the same scale, and the guest's plaintext counts use
the same quantised weights, so the federated forest still equals the plaintext reference.

The guest's own sample weights (FATE's weight column; whole numbers, 0 leaves a row out, as the
leave-attack-out weight choice does: data_upload/holdout.py) multiply into the same vectors: a
row weighed 0 adds an encryption of zeros, so hosts cannot tell it from any other row.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

CLASS_WEIGHTS = ("none", "balanced")
RESOLUTION = 16


def validate_class_weight(class_weight: str) -> None:
    if class_weight not in CLASS_WEIGHTS:
        raise ValueError(f"class_weight '{class_weight}' is not supported; choose one of {', '.join(CLASS_WEIGHTS)}")


def class_weight_units(labels: np.ndarray, n_classes: int, class_weight: str,
                       row_weights: Optional[np.ndarray] = None) -> tuple:
    """(integer weight of each class, scale): a sample of class c weighs ``units[c] / scale``.

    ``none`` gives units 1 and scale 1 (plain counts). A class absent from ``labels`` gets the
    majority's weight; it has no sample to weigh. ``row_weights`` (the guest's sample weights):
    classes are counted by them, so a row weighed 0 does not count.
    """
    validate_class_weight(class_weight)
    if class_weight == "none":
        return np.ones(n_classes, dtype=np.int64), 1
    counts = np.bincount(np.asarray(labels, dtype=np.int64), weights=row_weights, minlength=n_classes)
    majority = int(counts.max())
    units = np.full(n_classes, RESOLUTION, dtype=np.int64)
    present = counts > 0
    units[present] = np.rint(RESOLUTION * majority / counts[present]).astype(np.int64)
    return units, RESOLUTION


def sample_weights(multiplicities: np.ndarray, labels: np.ndarray, units: np.ndarray, scale: int,
                   row_weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Each row's weight in one tree: bootstrap draws times its class weight times its own sample
    weight (float64, exact)."""
    weights = multiplicities.astype(np.float64) * units[np.asarray(labels, dtype=np.int64)] / scale
    return weights if row_weights is None else weights * row_weights


def validate_row_weights(row_weights: np.ndarray, column: str) -> np.ndarray:
    """The guest's sample weights as int64: whole numbers >= 0 (they ride inside the encrypted
    integer class vectors), not all 0. Raises ValueError naming the column and the fix."""
    values = np.asarray(row_weights, dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        raise ValueError(f"the guest's sample weight column '{column}' must hold whole numbers >= 0 (0 leaves a "
                         f"row out of training); found {values[bad][0]!r} in {int(bad.sum())} rows")
    if not values.any():
        raise ValueError(f"the guest's sample weight column '{column}' weighs every row 0: nothing to train on")
    return values.astype(np.int64)
