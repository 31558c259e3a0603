"""FATE Flow runs every task as a fresh Python process. FedIDS is installed (editable) into
the environment FATE Flow runs tasks with, so homo_nn can load this project's modules with
``source="workspace"``. This test proves it with a real job: two clients train the project's
CRNN (crnn_component.model.CRNN) for one epoch, and the arbiter aggregates."""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import pytest

from data_upload.fate_upload import FlowTables, TableRef, TableUpload, table_meta, upload_tables
from pipelines.common import new_pipeline

pytestmark = pytest.mark.fate

N_FEATURES = 10
N_CLASSES = 3


def write_client_csv(path, ids, seed):
    """Records whose class is readable from the features, so one epoch learns something."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_CLASSES, len(ids))
    features = rng.normal(0.0, 0.3, (len(ids), N_FEATURES))
    features[np.arange(len(ids)), labels] += 2.0
    frame = pd.DataFrame(features.round(5), columns=[f"x{j}" for j in range(N_FEATURES)])
    frame.insert(0, "label", labels)
    frame.insert(0, "id", list(ids))
    frame.to_csv(path, index=False)
    return str(path)


def test_homo_nn_task_loads_the_crnn_from_this_project(tmp_path, fate_flow, test_namespace):
    from fate_client.pipeline.components.fate import HomoNN, Reader
    from fate_client.pipeline.components.fate.homo_nn import get_config_of_default_runner
    from fate_client.pipeline.components.fate.nn.algo_params import FedAVGArguments, TrainingArguments
    from fate_client.pipeline.components.fate.nn.loader import ModelLoader
    from fate_client.pipeline.components.fate.nn.torch import nn, optim

    uploads = [
        TableUpload(write_client_csv(tmp_path / f"{name}.csv", ids, seed), TableRef(test_namespace, f"homo_{name}"),
                    table_meta("id", "label"), len(ids))
        for name, ids, seed in (("guest", range(0, 240), 11), ("host", range(1000, 1240), 12))
    ]
    upload_tables(FlowTables(fate_flow.flow), uploads)

    pipeline = new_pipeline(fate_flow, "homo_crnn")
    reader = Reader("reader_0", runtime_parties=dict(guest=fate_flow.party_id("A"), host=fate_flow.party_id("B")))
    reader.guest.task_parameters(namespace=test_namespace, name="homo_guest")
    reader.hosts[0].task_parameters(namespace=test_namespace, name="homo_host")
    runner_conf = get_config_of_default_runner(
        algo="fedavg",
        model=ModelLoader("crnn_component.model", "CRNN", source="workspace",
                          feat=N_FEATURES, class_num=N_CLASSES, segment_len=4),
        loss=nn.CrossEntropyLoss(),
        optimizer=optim.Adam(lr=0.01),
        training_args=TrainingArguments(num_train_epochs=1, per_device_train_batch_size=32, seed=1),
        fed_args=FedAVGArguments(),
        task_type="multi",
    )
    homo_nn = HomoNN("homo_nn_0", runner_conf=runner_conf, train_data=reader.outputs["output_data"])
    pipeline.add_tasks([reader, homo_nn])
    pipeline.compile()
    pipeline.fit()

    predictions = pipeline.get_task_info("homo_nn_0").get_output_data()["train_output_data"]
    assert len(predictions) == 240
    detail = predictions["predict_detail"].iloc[0]
    detail = ast.literal_eval(detail) if isinstance(detail, str) else detail
    assert sorted(int(k) for k in detail) == list(range(N_CLASSES))
    assert abs(sum(detail.values()) - 1.0) < 1e-4
