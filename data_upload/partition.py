"""Evaluation protocols (which rows train, which test) and the split of a table between parties.

Protocols: "official" (the data set's own train and test files), "split" (a stratified 80/20
split of the training file) and "paper" (disjoint stratified subsets of 10,000 rows, one per
party, each split 80/20).

Vertical layout: every party holds the same samples (shared ``id``) and its own feature
columns; only the guest holds the label. Parties may each drop a share of their ids, so private
set intersection has something to do, and the expected intersection is known exactly.
Horizontal layout: every client holds whole rows (id, all features, label) of its own samples,
IID or label-skewed by Dirichlet(alpha) draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from data_upload.errors import DataError
from data_upload.schema import ATTACK_NAME_COLUMN, CLASS_COLUMN
from data_upload.stratify import (
    apportion,
    assign_groups,
    dirichlet_quotas,
    sequential_quotas,
    stratified_split,
)

PROTOCOLS: Tuple[str, ...] = ("official", "split", "paper")
LAYOUTS: Tuple[str, ...] = ("vertical", "horizontal")
_DIRICHLET_ATTEMPTS = 100

TrainTest = Tuple[pd.DataFrame, pd.DataFrame]


def class_codes(frame: pd.DataFrame) -> np.ndarray:
    """Class codes (positions in the taxonomy's class list) of a loaded table."""
    return frame[CLASS_COLUMN].cat.codes.to_numpy().astype(np.int64)


def _n_classes(frame: pd.DataFrame) -> int:
    return len(frame[CLASS_COLUMN].cat.categories)


# ---------------------------------------------------------------- protocols


def assign_ids(
    train: pd.DataFrame, test: pd.DataFrame, id_column: str, rng: np.random.Generator
) -> TrainTest:
    """Give every row a unique integer id (first column) from a seeded shuffle; rows in id order.

    Neither the ids nor the row order follow the source files: in a file sorted by class, ids or
    rows in file order would tell a party without labels what the labels are.
    """
    for frame in (train, test):
        if id_column in frame.columns:
            raise DataError(f"the table already has a column '{id_column}'", hint="choose another id_column")
    ids = rng.permutation(len(train) + len(test)).astype(np.int64)
    train = train.copy()
    test = test.copy()
    train.insert(0, id_column, ids[: len(train)])
    test.insert(0, id_column, ids[len(train) :])
    return train.sort_values(id_column, kind="stable"), test.sort_values(id_column, kind="stable")


def split_stratified(pool: pd.DataFrame, test_fraction: float, rng: np.random.Generator) -> TrainTest:
    """Stratified train/test split with exactly round(n * test_fraction) test rows."""
    is_test = stratified_split(class_codes(pool), _n_classes(pool), test_fraction, rng)
    return pool.loc[~is_test], pool.loc[is_test]


def draw_paper_subsets(
    pool: pd.DataFrame, n_subsets: int, subset_size: int, test_fraction: float, rng: np.random.Generator
) -> List[TrainTest]:
    """Disjoint stratified subsets of ``subset_size`` rows, each split train/test (stratified)."""
    needed = n_subsets * subset_size
    if needed > len(pool):
        raise DataError(
            f"the paper protocol needs {n_subsets} x {subset_size} = {needed} rows, but the data has {len(pool)}",
            hint="use fewer parties/clients or a smaller paper subset size (--subset-size)",
        )
    codes = class_codes(pool)
    counts = np.bincount(codes, minlength=_n_classes(pool))
    groups = assign_groups(codes, sequential_quotas(counts, [subset_size] * n_subsets), rng)
    subsets = []
    for k in range(n_subsets):
        subsets.append(split_stratified(pool.loc[groups == k], test_fraction, rng))
    return subsets


# ---------------------------------------------------------------- vertical


@dataclass(frozen=True)
class VerticalPlan:
    """Which feature columns each party holds (guest first); ``dropped_columns`` go to nobody."""

    guest: str
    columns: Dict[str, Tuple[str, ...]]
    dropped_columns: Tuple[str, ...] = ()

    @property
    def parties(self) -> List[str]:
        return list(self.columns)


def plan_vertical(
    features: Sequence[str],
    *,
    guest: str,
    columns: Optional[Mapping[str, Sequence[str]]] = None,
    ratios: Optional[Mapping[str, float]] = None,
    drop_columns: Sequence[str] = (),
    id_column: str = "id",
    label_column: str = "label",
    source: Optional[str] = None,
    key: str = "vertical",
) -> VerticalPlan:
    """Check a column split (explicit lists or ratios) and return it as a plan.

    Refused: a column that does not exist, a column given to two parties (or given and dropped),
    a feature given to nobody and not listed in ``drop_columns``, a party with no column, the
    label (label leakage) or the id (every table gets it anyway) in a party's list.
    """

    def fail(sub_key: str, problem: str, hint: Optional[str] = None) -> DataError:
        return DataError(problem, file=source, key=sub_key, hint=hint)

    if (columns is None) == (ratios is None):
        raise fail(key, "give either explicit column lists per party or ratios per party (exactly one)")
    features = list(features)
    dropped = list(drop_columns)
    unknown_dropped = [c for c in dropped if c not in features]
    if unknown_dropped:
        raise fail(
            f"{key}.drop_columns",
            f"names column(s) {', '.join(map(repr, unknown_dropped))} that do not exist",
        )
    if ratios is not None:
        available = [c for c in features if c not in dropped]
        total = sum(ratios.values())
        if any(r <= 0 for r in ratios.values()) or abs(total - 1.0) > 1e-6:
            raise fail(f"{key}.ratios", f"shares must be positive and sum to 1, they sum to {total:g}")
        sizes = apportion(len(available), list(ratios.values()))
        if (sizes == 0).any():
            raise fail(f"{key}.ratios", f"gives some party no column of the {len(available)} available")
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        columns = {p: available[bounds[i] : bounds[i + 1]] for i, p in enumerate(ratios)}
    owner: Dict[str, str] = {c: "drop_columns" for c in dropped}
    for party, names in columns.items():
        party_key = f"{key}.columns.{party}" if ratios is None else f"{key}.ratios.{party}"
        if not names:
            raise fail(party_key, f"party {party} holds no column", "give it columns or remove it")
        for name in names:
            if name in (label_column, CLASS_COLUMN, ATTACK_NAME_COLUMN):
                if party == guest:
                    raise fail(
                        party_key,
                        f"lists the label column '{name}'",
                        "the guest's table gets the label anyway",
                    )
                raise fail(
                    party_key,
                    f"gives the label column '{name}' to party {party}: label leakage",
                    f"only the guest ({guest}) may hold labels",
                )
            if name == id_column:
                raise fail(
                    party_key, f"lists the id column '{name}'", "every table gets the id column anyway"
                )
            if name not in features:
                raise fail(
                    party_key,
                    f"names column '{name}', which does not exist",
                    "use the data set's feature names",
                )
            if name in owner:
                raise fail(
                    party_key, f"gives column '{name}' to party {party}, but {owner[name]} has it already"
                )
            owner[name] = f"party {party}"
    if guest not in columns:
        raise fail(f"{key}.guest", f"guest {guest} holds no columns", f"give {guest} columns")
    uncovered = [c for c in features if c not in owner]
    if uncovered:
        raise fail(
            f"{key}.columns" if ratios is None else f"{key}.ratios",
            f"column(s) {', '.join(map(repr, uncovered))} are given to no party",
            "give them to a party or list them under drop_columns",
        )
    ordered = {guest: tuple(c for c in features if owner[c] == f"party {guest}")}
    for party in columns:
        if party != guest:
            ordered[party] = tuple(c for c in features if owner[c] == f"party {party}")
    return VerticalPlan(guest=guest, columns=ordered, dropped_columns=tuple(dropped))


def split_vertical(frame: pd.DataFrame, plan: VerticalPlan, id_column: str) -> Dict[str, pd.DataFrame]:
    """Each party's table: id + its columns; the guest's also holds the class column."""
    tables = {}
    for party, names in plan.columns.items():
        columns = [id_column, *names] + ([CLASS_COLUMN] if party == plan.guest else [])
        tables[party] = frame[columns]
    return tables


def drop_ids(table: pd.DataFrame, fraction: float, rng: np.random.Generator) -> pd.DataFrame:
    """The table without round(fraction * rows) randomly chosen rows."""
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"drop_id_fraction must be in [0, 1), got {fraction}")
    n_drop = int(round(fraction * len(table)))
    if n_drop == 0:
        return table
    keep = np.ones(len(table), dtype=bool)
    keep[rng.choice(len(table), n_drop, replace=False)] = False
    return table.loc[keep]


def intersection_size(tables: Sequence[pd.DataFrame], id_column: str) -> int:
    """How many ids every table holds: what private set intersection must find."""
    common = tables[0][id_column].to_numpy()
    for table in tables[1:]:
        common = np.intersect1d(common, table[id_column].to_numpy(), assume_unique=True)
    return int(len(common))


def check_no_label_leak(tables: Mapping[str, pd.DataFrame], guest: str, label_columns: Sequence[str]) -> None:
    """Refuse a vertical layout where a party other than the guest holds the label."""
    for party, table in tables.items():
        if party == guest:
            continue
        leaked = [c for c in label_columns if c in table.columns]
        if leaked:
            raise DataError(
                f"label leakage: the table of party {party} holds {', '.join(map(repr, leaked))}",
                hint=f"only the guest ({guest}) may hold labels in the vertical layout",
            )


# ---------------------------------------------------------------- horizontal


def client_names(n: int) -> List[str]:
    """A, B, C, ..., Z, AA, AB, ... (the first three are the project's parties)."""
    if n < 1:
        raise DataError(f"the number of clients must be at least 1, got {n}")
    names = []
    for i in range(n):
        name = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            name = chr(ord("A") + r) + name
        names.append(name)
    return names


def partition_horizontal(
    train: pd.DataFrame,
    test: pd.DataFrame,
    clients: Sequence[str],
    rng: np.random.Generator,
    *,
    dirichlet_alpha: Optional[float] = None,
    client_weights: Optional[Sequence[float]] = None,
) -> Dict[str, TrainTest]:
    """Split train and test rows between clients: IID (stratified, sizes by weight) or Dirichlet.

    With ``dirichlet_alpha`` each class's rows are divided by proportions drawn from
    Dirichlet(alpha) (small alpha: strong skew); train and test use the same proportions, so a
    client is tested on the distribution it trains on. Draws leaving a client without train or
    test rows are redrawn (seeded, so still reproducible).
    """
    k = len(clients)
    n_classes = _n_classes(train)
    train_codes, test_codes = class_codes(train), class_codes(test)
    train_counts = np.bincount(train_codes, minlength=n_classes)
    test_counts = np.bincount(test_codes, minlength=n_classes)
    if dirichlet_alpha is None:
        weights = list(client_weights) if client_weights is not None else [1.0] * k
        if len(weights) != k or any(w <= 0 for w in weights):
            raise DataError(f"client weights must be {k} positive numbers, got {weights}")
        train_quotas = sequential_quotas(train_counts, apportion(len(train), weights))
        test_quotas = sequential_quotas(test_counts, apportion(len(test), weights))
    else:
        if client_weights is not None:
            raise DataError(
                "client weights and a Dirichlet alpha exclude each other", hint="give one of them"
            )
        if dirichlet_alpha <= 0:
            raise DataError(f"the Dirichlet alpha must be positive, got {dirichlet_alpha}")
        for _ in range(_DIRICHLET_ATTEMPTS):
            proportions = rng.dirichlet(np.full(k, float(dirichlet_alpha)), size=n_classes)
            train_quotas = dirichlet_quotas(train_counts, proportions)
            test_quotas = dirichlet_quotas(test_counts, proportions)
            if (train_quotas.sum(axis=0) > 0).all() and (test_quotas.sum(axis=0) > 0).all():
                break
        else:
            raise DataError(
                f"{_DIRICHLET_ATTEMPTS} Dirichlet({dirichlet_alpha}) draws all left a client without rows",
                hint="use a larger --dirichlet-alpha or fewer --clients",
            )
    empty = [c for c, n in zip(clients, train_quotas.sum(axis=0)) if n == 0]
    empty += [c for c, n in zip(clients, test_quotas.sum(axis=0)) if n == 0 and c not in empty]
    if empty:
        raise DataError(
            f"client(s) {', '.join(empty)} would get no rows ({len(train)} train / {len(test)} test rows "
            f"for {k} clients)",
            hint="use fewer clients or more data",
        )
    train_groups = assign_groups(train_codes, train_quotas, rng)
    test_groups = assign_groups(test_codes, test_quotas, rng)
    return {c: (train.loc[train_groups == i], test.loc[test_groups == i]) for i, c in enumerate(clients)}
