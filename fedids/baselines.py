"""Models trained without federation, for comparison: centralized (pooled data) and local-only.

Centralized baselines answer "what does federation cost"; local-only models answer "what does
federation buy" (a party training on what it alone holds). Both are fitted here in plain
scikit-learn / torch, with the same hyperparameters as the federated models.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd

from crnn_component.config import CrnnParams


def sklearn_forest(params: Dict[str, Any]):
    """scikit-learn's RandomForestClassifier with the federated forest's hyperparameters (conf/rf.yaml)."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=params["num_trees"], max_depth=params["max_depth"],
        min_samples_split=params["min_samples_split"], min_samples_leaf=params["min_samples_leaf"],
        max_features="sqrt" if params["node_max_features"] == "sqrt" else None,
        bootstrap=params["bootstrap"], random_state=params["seed"], n_jobs=1,
        class_weight="balanced" if params.get("class_weight") == "balanced" else None,
    )


def forest_probabilities(train: pd.DataFrame, test: pd.DataFrame, columns: List[str], params: Dict[str, Any],
                         n_classes: int, label: str = "label") -> np.ndarray:
    """Fit the forest on ``columns`` of train; class probabilities of test over all classes."""
    forest = sklearn_forest(params)
    forest.fit(train[columns].to_numpy(float), train[label].to_numpy())
    proba = np.zeros((len(test), n_classes))
    proba[:, forest.classes_] = forest.predict_proba(test[columns].to_numpy(float))
    return proba


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a new interpreter (spawned), its result returned.

    Torch training is timed and run there, as the federated clients train in FATE's fresh
    task processes: measured, the same CRNN loop ran 4x slower per step inside a long-lived
    process holding earlier pipelines' objects than in a fresh one.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def crnn_probabilities(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, params: CrnnParams, n_classes: int
                       ) -> Tuple[np.ndarray, List[Dict[str, Any]]]:
    """Train the CRNN in plain torch on (x, y); test probabilities and the learning curve."""
    from crnn_component.centralized import predict_proba, train_centralized

    run = train_centralized(x, y, params, n_classes)
    return predict_proba(run.model, x_test), run.curve


def vertical_frames(data_dir, split: str, parties: Sequence[str]) -> pd.DataFrame:
    """The parties' tables of a vertical split joined by id (the pooled view a centralized model gets)."""
    import json
    from pathlib import Path

    manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
    frames = [pd.read_csv(Path(data_dir) / manifest["parties"][p]["splits"][split]["file"]) for p in parties]
    pooled = frames[0]
    for frame in frames[1:]:
        pooled = pooled.merge(frame, on=manifest["id_column"])
    return pooled.sort_values(manifest["id_column"]).reset_index(drop=True)
