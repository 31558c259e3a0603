"""Bad input to hetero_random_forest through a real FATE Flow: each a failed job whose error
names the problem and says what to do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_upload.fate_upload import FlowTables, TableRef, TableUpload, table_meta, upload_tables
from pipelines.common import new_pipeline

pytestmark = pytest.mark.fate


def write_table(path, ids, n_features, labels=None, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": list(ids)})
    if labels is not None:
        frame["label"] = labels
    for j in range(n_features):
        frame[f"f{j}"] = rng.random(len(frame)).round(4)
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def tables(tmp_path_factory, fate_flow, test_namespace):
    folder = tmp_path_factory.mktemp("rf_bad")
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 80)
    specs = {
        "guest": (range(80), labels, True),
        "guest_no_label": (range(80), None, False),
        "guest_one_class": (range(80), np.zeros(80, dtype=int), True),
        "host": (range(80), None, False),
        "host_with_label": (range(80), labels, True),
        "host_other_ids": (range(40, 120), None, False),
    }
    uploads = [
        TableUpload(write_table(folder / f"{name}.csv", ids, 3, lab, seed=i), TableRef(test_namespace, f"rf_{name}"),
                    table_meta("id", "label" if has_label else None), len(ids))
        for i, (name, (ids, lab, has_label)) in enumerate(specs.items())
    ]
    upload_tables(FlowTables(fate_flow.flow), uploads)
    return {name: TableRef(test_namespace, f"rf_{name}") for name in specs}


def failing_job_error(fate_flow, repo_root, guest, host, use_psi=True, **rf_params):
    """Run reader (-> psi) -> hetero_random_forest; return the error text of the failed job."""
    from fate_client.pipeline.components.fate import PSI, Reader

    from rf_component.pipeline_component import HeteroRandomForest

    pipeline = new_pipeline(fate_flow, "vertical_rf")
    reader = Reader("reader_0", runtime_parties=dict(guest=fate_flow.party_id("A"), host=fate_flow.party_id("B")))
    reader.guest.task_parameters(namespace=guest.namespace, name=guest.name)
    reader.hosts[0].task_parameters(namespace=host.namespace, name=host.name)
    tasks = [reader]
    data = reader.outputs["output_data"]
    if use_psi:
        psi = PSI("psi_0", input_data=data)
        tasks.append(psi)
        data = psi.outputs["output_data"]
    params = dict(num_class=3, num_trees=2, max_depth=2, he_param={"kind": "paillier", "key_length": 1024})
    params.update(rf_params)
    tasks.append(HeteroRandomForest("rf_0", train_data=data, **params))
    pipeline.add_tasks(tasks)
    pipeline.compile()
    with pytest.raises(ValueError, match="Job is failed") as failure:
        pipeline.fit()
    job_id = str(failure.value).split("job_id=")[1].split()[0]
    logs = repo_root / ".fate" / "flow" / "logs" / job_id
    return "\n".join(p.read_text(errors="replace") for p in logs.rglob("ERROR"))


def test_host_table_with_a_label_column_is_refused(fate_flow, repo_root, tables):
    error = failing_job_error(fate_flow, repo_root, tables["guest"], tables["host_with_label"])
    assert "host's table has a label column 'label'" in error
    assert "labels must stay with the guest" in error


def test_guest_without_label_is_refused(fate_flow, repo_root, tables):
    error = failing_job_error(fate_flow, repo_root, tables["guest_no_label"], tables["host"])
    assert "guest's table has no label column" in error


def test_a_single_class_is_refused(fate_flow, repo_root, tables):
    error = failing_job_error(fate_flow, repo_root, tables["guest_one_class"], tables["host"])
    assert "single class" in error


def test_ids_that_do_not_line_up_without_psi_are_refused(fate_flow, repo_root, tables):
    error = failing_job_error(fate_flow, repo_root, tables["guest"], tables["host_other_ids"], use_psi=False)
    assert "do not line up" in error and "psi" in error


def test_short_key_is_refused(fate_flow, repo_root, tables):
    error = failing_job_error(fate_flow, repo_root, tables["guest"], tables["host"],
                              he_param={"kind": "paillier", "key_length": 512})
    assert "key_length 512 is too short: at least 1024 bits" in error


def test_unknown_he_kind_is_refused(fate_flow, repo_root, tables):
    error = failing_job_error(fate_flow, repo_root, tables["guest"], tables["host"],
                              he_param={"kind": "rsa", "key_length": 1024})
    assert "rsa" in error and "paillier" in error
