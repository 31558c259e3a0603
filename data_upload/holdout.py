"""Leave-attack-out: hold whole attack names out of training, to score models on them as new attacks.

KDDTest+ (and any deployment) holds attacks the training file never named. A validation split
drawn at random from the training rows only holds attacks the models were trained on, so a
choice made there (the fusion weight) is made for the wrong situation. Holding out every record
of a seeded share of each attack class's names lets a model trained on the rest meet them as
new attacks of a known class, as it would in deployment.

How a record is held out depends on who holds labels (data_upload/prepare.py): a horizontal
client holds its own labels and moves its records to its valid split; in the vertical layout
B holds the same rows without labels, and a row missing from training would tell B it is an
attack, so every party keeps every row and the guest weighs the held-out ones 0 (a
``sample_weight`` column, FATE's weight column, read by the forest at the guest only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List

import numpy as np
import pandas as pd

from data_upload.schema import ATTACK_NAME_COLUMN, CLASS_COLUMN


HOLDOUT_IDS_FILE = "holdout_ids.csv"       # at each label holder, never uploaded
SAMPLE_WEIGHT_COLUMN = "sample_weight"     # the vertical guest's training weight (FATE's weight_name)


@dataclass(frozen=True)
class HeldOut:
    """The names held out per class and their training records (id and attack name columns)."""

    names: Dict[str, List[str]]
    rows: pd.DataFrame


def held_out_count(n_names: int, fraction: float) -> int:
    """How many of a class's ``n_names`` attack names to hold out: ``floor(fraction * n)``, at least one
    when the class has two or more names, and never all (the class must stay learnable)."""
    if n_names < 2 or fraction <= 0:
        return 0
    return min(n_names - 1, max(1, math.floor(fraction * n_names)))


def choose_held_out_names(train: pd.DataFrame, fraction: float, rng: np.random.Generator,
                          normal_class: str = "normal") -> Dict[str, List[str]]:
    """Per attack class (every class but ``normal_class``), the attack names to hold out, sorted.

    Names are drawn uniformly among the class's names present in ``train`` (sorted first, so the
    draw depends on the seed and the data only); a class with one name keeps it.
    """
    chosen: Dict[str, List[str]] = {}
    names_by_class = train.groupby(CLASS_COLUMN, observed=True)[ATTACK_NAME_COLUMN].unique()
    for cls in sorted(str(c) for c in names_by_class.index):
        if cls == normal_class:
            continue
        names = sorted(str(n) for n in names_by_class[cls])
        count = held_out_count(len(names), fraction)
        if count:
            picked = rng.choice(len(names), size=count, replace=False)
            chosen[cls] = sorted(names[i] for i in picked)
    return chosen


def held_out_rows(train: pd.DataFrame, names: Dict[str, List[str]]) -> np.ndarray:
    """Boolean mask of ``train``'s records whose attack name is held out."""
    every = [n for group in names.values() for n in group]
    return train[ATTACK_NAME_COLUMN].astype(str).isin(every).to_numpy()
