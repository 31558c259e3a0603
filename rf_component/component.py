"""`hetero_random_forest`: the vertical random forest as a FATE 2.2 component.

Registered through the `fate.ext.component_desc` entry point (pyproject.toml), so FATE Flow
runs it like a built-in: guest (labels + features), host(s) (features), arbiter (the key).
Stages: train (model per party, predictions on the training rows at the guest, metrics) and
predict (deployed model on new rows; the arbiter has nothing to do there).
"""

# No `from __future__ import annotations` here: FATE's @cpn decorators read the parameter
# annotations as objects at import time.
import logging
from typing import Any, Union

import numpy as np
from fate.components.core import ARBITER, GUEST, HOST, Role, cpn, params

from fedids.audit import start_audit
from rf_component.federated import ArbiterForest, ForestSettings, GuestForest, HostForest
from rf_component.frames import PartyTable, read_party_table
from rf_component.class_weights import CLASS_WEIGHTS
from rf_component.label_cipher import MOCK_WARNING, validate_he_param
from rf_component.reference import ForestParams

logger = logging.getLogger(__name__)

NODE_MAX_FEATURES_HELP = "features tried per node: sqrt, log2, all, an integer, or a fraction in (0, 1]"


def parse_node_max_features(text: str) -> Union[str, int, float]:  # noqa: FA100
    text = str(text).strip().lower()
    if text in ("sqrt", "log2", "all"):
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"node_max_features '{text}': {NODE_MAX_FEATURES_HELP}") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"node_max_features '{text}': {NODE_MAX_FEATURES_HELP}")
    return value


@cpn.component(roles=[GUEST, HOST, ARBITER], provider="fate")
def hetero_random_forest(ctx, role):
    ...


@hetero_random_forest.train()
def train(
    ctx: Any,
    role: Role,
    train_data: cpn.dataframe_input(roles=[GUEST, HOST]),
    num_class: cpn.parameter(type=params.conint(ge=2), default=2, desc="number of classes (label codes 0..num_class-1)"),
    num_trees: cpn.parameter(type=params.conint(gt=0), default=100, desc="trees in the forest"),
    max_depth: cpn.parameter(type=params.conint(gt=0), default=10, desc="maximum depth of a tree"),
    min_samples_split: cpn.parameter(type=params.conint(ge=2), default=2, desc="minimum (bootstrap) samples to split a node"),
    min_samples_leaf: cpn.parameter(type=params.conint(ge=1), default=1, desc="minimum (bootstrap) samples in a leaf"),
    tree_feature_fraction: cpn.parameter(type=params.confloat(gt=0, le=1), default=0.8, desc="share of all parties' features each tree may use"),
    node_max_features: cpn.parameter(type=str, default="sqrt", desc=NODE_MAX_FEATURES_HELP),
    max_bin: cpn.parameter(type=params.conint(ge=2, le=256), default=32, desc="maximum bins per continuous feature"),
    bootstrap: cpn.parameter(type=bool, default=True, desc="draw each tree's rows with replacement"),
    class_weight: cpn.parameter(type=params.string_choice(list(CLASS_WEIGHTS)), default="none", desc="none: every sample counts alike; balanced: every class counts alike (rare attacks weigh more)"),
    vote: cpn.parameter(type=params.string_choice(["soft", "hard"]), default="soft", desc="average class probabilities (soft) or majority vote (hard)"),
    seed: cpn.parameter(type=params.conint(ge=0), default=42, desc="seed of every random choice (drawn at the guest)"),
    he_param: cpn.parameter(
        type=params.he_param(),
        default=params.HEParam(kind="paillier", key_length=1024),
        desc="homomorphic encryption: paillier (default) or ou, key_length >= 1024; mock = no encryption, tests only",
    ),
    train_output_data: cpn.dataframe_output(roles=[GUEST], optional=True),
    output_model: cpn.json_model_output(roles=[GUEST, HOST], optional=True),
):
    validate_he_param(he_param.kind, he_param.key_length)
    start_audit(ctx)
    settings = ForestSettings(
        params=ForestParams(
            n_trees=num_trees,
            max_depth=max_depth,
            min_samples_split=min_samples_split,
            min_samples_leaf=min_samples_leaf,
            tree_feature_fraction=tree_feature_fraction,
            node_max_features=parse_node_max_features(node_max_features),
            bootstrap=bootstrap,
            seed=seed,
            class_weight=class_weight,
        ),
        max_bin=max_bin,
        n_classes=num_class,
        he_kind=he_param.kind,
        key_length=he_param.key_length,
        hard_vote=vote == "hard",
    )
    if he_param.kind == "mock":
        logger.warning(MOCK_WARNING)
    if role.is_arbiter:
        arbiter = ArbiterForest(settings)
        arbiter.fit(ctx)
        ctx.metrics.log_metrics(
            {"decrypt_seconds": arbiter.times.decrypt_s, "decrypted_cells": arbiter.decrypted_cells,
             "total_seconds": arbiter.times.total_s, "cipher": he_param.kind},
            name="arbiter_summary",
        )
        return
    table = read_party_table(train_data.read(), role.name, require_label=role.is_guest)
    if role.is_guest:
        forest = GuestForest(settings)
        forest.fit(ctx, table)
        probabilities = forest.train_probabilities()
        train_output_data.write(_predict_frame(ctx, table, probabilities, settings.n_classes, "train_set"))
        ctx.metrics.log_metrics(
            {"trees": num_trees, "total_seconds": forest.times.total_s, "encrypt_seconds": forest.times.encrypt_s,
             "mean_tree_seconds": float(np.mean(forest.times.per_tree_s)), "cipher": he_param.kind,
             "key_length": he_param.key_length, "rows": table.n_rows},
            name="train_summary",
        )
        model = forest.to_model()
    else:
        forest = HostForest(settings)
        forest.fit(ctx, table)
        ctx.metrics.log_metrics(
            {"histogram_seconds": forest.times.histogram_s, "total_seconds": forest.times.total_s},
            name="host_summary",
        )
        model = forest.to_model()
    # every party sees the importance of its own features only
    ctx.metrics.log_metrics(forest.importance, name="feature_importance")
    output_model.write(model, metadata={"cipher": he_param.kind, "mock_cipher": he_param.kind == "mock"})


@hetero_random_forest.predict()
def predict(
    ctx: Any,
    role: Role,
    test_data: cpn.dataframe_input(roles=[GUEST, HOST]),
    input_model: cpn.json_model_input(roles=[GUEST, HOST]),
    test_output_data: cpn.dataframe_output(roles=[GUEST], optional=True),
):
    if role.is_arbiter:
        return  # the arbiter holds no model and no data; prediction needs no key
    start_audit(ctx)
    model = input_model.read()
    table = read_party_table(test_data.read(), role.name, require_label=False) if role.is_host else None
    if role.is_guest:
        frame = test_data.read()
        table = read_party_table(frame, "guest", require_label=frame.schema.label_name is not None)
        forest = GuestForest.from_model(model)
        probabilities = forest.predict(ctx, table)
        test_output_data.write(_predict_frame(ctx, table, probabilities, forest.settings.n_classes, "test_set"))
    else:
        HostForest.from_model(model).predict(ctx, table)


def _predict_frame(ctx: Any, table: PartyTable, probabilities: np.ndarray, n_classes: int, dataset_type: str):
    """FATE's usual prediction columns: predict_result, predict_score, predict_detail (every class)."""
    from fate.components.components.utils.tools import add_dataset_type
    from fate.ml.utils.predict_tools import array_to_predict_df

    frame = array_to_predict_df(
        ctx,
        "multi",
        probabilities,
        match_ids=table.match_id,
        sample_ids=table.sample_id,
        match_id_name=table.match_id_name,
        sample_id_name=table.sample_id_name,
        label=table.label,
        classes=list(range(n_classes)),
    )
    return add_dataset_type(frame, dataset_type)
