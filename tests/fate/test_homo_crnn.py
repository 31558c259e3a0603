"""The federated CRNN through a real FATE Flow: A and B clients, C the arbiter.

The small NSL-KDD horizontal data set of tests/fate/conftest.py (400 training rows per
client, A holds no U2R row) is uploaded once per session. One FedAvg job (+ predict) and one
FedProx job with mu = 0 (1 epoch each) check evaluation metrics through the pipeline API,
FedProx(0) == FedAvg, all class probabilities on the test tables, the learning curve and the
bytes per round; two failing jobs check the errors for bad client tables.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crnn_component.config import load_crnn_profile
from data_upload.fate_upload import FlowTables, TableRef, TableUpload, table_meta, upload_tables
from pipelines.homo_crnn import HomoCrnnJobError, parse_detail, run_homo_crnn, train_homo_crnn

pytestmark = pytest.mark.fate

N_CLASSES = 5


@pytest.fixture(scope="module")
def fedavg_run(nsl_horizontal, fate_flow, one_epoch):
    return train_homo_crnn(fate_flow, nsl_horizontal, one_epoch.with_overrides(algo="fedavg"), predict_test=True)


def probabilities(frame: pd.DataFrame) -> np.ndarray:
    frame = frame.sort_values("id") if "id" in frame else frame
    return np.array([[parse_detail(d)[str(c)] for c in range(N_CLASSES)] for d in frame["predict_detail"]])


def test_training_evaluates_every_client_through_the_pipeline_api(fedavg_run):
    assert set(fedavg_run.evaluation) == {"A", "B"}
    for metrics in fedavg_run.evaluation.values():
        values = {m["metric"]: m["val"] for m in metrics[0]["data"]["homo_nn_0"]["train_set"]}
        assert 0.0 <= values["multi_accuracy"] <= 1.0
        assert {"multi_precision", "multi_recall"} <= set(values)


def test_learning_curve_and_bytes_per_round_are_logged(fedavg_run):
    assert [p["epoch"] for p in fedavg_run.curve] == [1]
    assert fedavg_run.curve[0]["rows"] == 800 and 0.0 < fedavg_run.curve[0]["accuracy"] <= 1.0
    assert fedavg_run.parameter_count > 10_000
    for client in ("A", "B"):
        stats = fedavg_run.bytes_per_round[client]
        # secure aggregation: float64 masked upload (16 B/param), float64 download (8 B/param)
        assert stats["sent"] == pytest.approx(16 * fedavg_run.parameter_count, rel=0.1)
        assert stats["received"] == pytest.approx(8 * fedavg_run.parameter_count, rel=0.1)
    assert fedavg_run.bytes_per_round["C"]["received"] == pytest.approx(2 * fedavg_run.bytes_per_round["A"]["sent"],
                                                                      rel=0.01)


def test_predict_on_test_tables_gives_every_class_probability(fedavg_run, nsl_horizontal):
    manifest = json.loads((nsl_horizontal / "manifest.json").read_text())
    assert manifest["parties"]["A"]["splits"]["train"]["class_counts"]["U2R"] == 0  # A lacks a class
    assert fedavg_run.predict_job_id
    for client in ("A", "B"):
        frame = fedavg_run.test_predictions[client]
        assert len(frame) == manifest["parties"][client]["splits"]["test"]["rows"]
        proba = probabilities(frame)
        assert proba.shape[1] == N_CLASSES
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)
        assert set(fedavg_run.test_metrics[client]) == {"accuracy", "macro_f1"}


def test_fedprox_with_mu_zero_is_fedavg(fedavg_run, nsl_horizontal, fate_flow, one_epoch):
    prox = train_homo_crnn(fate_flow, nsl_horizontal, one_epoch.with_overrides(algo="fedprox", mu=0.0),
                           predict_test=False)
    assert prox.algo == "fedprox" and prox.mu == 0.0
    for client in ("A", "B"):
        # the same model up to secure aggregation's float64 mask rounding
        assert np.allclose(probabilities(prox.train_predictions[client]),
                           probabilities(fedavg_run.train_predictions[client]), atol=1e-6)
    assert prox.curve[0]["loss"] == pytest.approx(fedavg_run.curve[0]["loss"], abs=1e-9)


def test_a_class_balanced_crnn_gives_rare_classes_more_probability(fedavg_run, nsl_horizontal, fate_flow, one_epoch):
    balanced = train_homo_crnn(fate_flow, nsl_horizontal,
                               one_epoch.with_overrides(algo="fedavg", class_weight="balanced"), predict_test=False)
    assert balanced.params["class_weight"] == "balanced"
    for client in ("A", "B"):
        assert balanced.summaries[client]["class_weight"] == "balanced"
        rare = probabilities(balanced.train_predictions[client])[:, 2:].mean()  # Probe, R2L, U2R
        plain = probabilities(fedavg_run.train_predictions[client])[:, 2:].mean()
        assert rare > 1.5 * plain, (client, rare, plain)


# -- bad input ------------------------------------------------------------------------------

def write_table(path, ids, n_features, labels):
    rng = np.random.default_rng(len(ids) + n_features)
    frame = pd.DataFrame(rng.random((len(ids), n_features)).round(4), columns=[f"x{j}" for j in range(n_features)])
    frame.insert(0, "label", labels)
    frame.insert(0, "id", list(ids))
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def bad_tables(tmp_path_factory, fate_flow, test_namespace):
    folder = tmp_path_factory.mktemp("crnn_bad")
    specs = {
        "good": (range(0, 60), 6, [i % 3 for i in range(60)]),
        "label_outside": (range(100, 160), 6, [7 if i == 5 else i % 3 for i in range(60)]),
        "five_features": (range(200, 260), 5, [i % 3 for i in range(60)]),
    }
    uploads = [TableUpload(write_table(folder / f"{name}.csv", ids, n, labels), TableRef(test_namespace, f"crnn_{name}"),
                           table_meta("id", "label"), len(ids))
               for name, (ids, n, labels) in specs.items()]
    upload_tables(FlowTables(fate_flow.flow), uploads)
    return {name: TableRef(test_namespace, f"crnn_{name}") for name in specs}


def failing_run(fate_flow, guest, host):
    params = load_crnn_profile("tiny").with_overrides(epochs=1, segment_len=2)
    with pytest.raises(HomoCrnnJobError) as failure:
        run_homo_crnn(fate_flow, {"A": guest, "B": host}, feat=6, classes=["a", "b", "c"], params=params,
                      fetch_predictions=False)
    return failure.value


def test_a_label_outside_the_class_list_and_a_different_feature_count_are_named(fate_flow, bad_tables):
    error = failing_run(fate_flow, bad_tables["label_outside"], bad_tables["five_features"])
    assert error.job_id
    assert "label(s) [7] outside the class list 0..2" in error.details
    assert "has 5 feature columns but the model was built for 6" in error.details


def test_an_empty_client_table_is_refused(fate_flow, test_namespace, tmp_path):
    """FATE 2.2 refuses to upload a table without rows, so an empty client table cannot reach
    homo_nn from an upload; a prepared data set with an empty client is refused before any job
    (below), and CRNNTableDataset refuses 0 rows inside the task (tests/unit/test_crnn_fedprox.py)."""
    from data_upload.fate_upload import UploadError

    path = tmp_path / "empty.csv"
    path.write_text("id,label," + ",".join(f"x{j}" for j in range(6)) + "\n")
    upload = TableUpload(str(path), TableRef(test_namespace, "crnn_empty"), table_meta("id", "label"), 0)
    with pytest.raises(UploadError, match="status 'failed'"):
        upload_tables(FlowTables(fate_flow.flow), [upload])


def test_prepared_data_with_clients_that_differ_or_are_empty_is_refused_before_any_job(nsl_horizontal, tmp_path):
    from pipelines.homo_crnn import HomoCrnnInputError, check_horizontal_data

    manifest = json.loads((nsl_horizontal / "manifest.json").read_text())
    check_horizontal_data(manifest, ["A", "B"])
    columns = manifest["parties"]["B"]["splits"]["train"]["columns"]
    manifest["parties"]["B"]["splits"]["train"]["columns"] = columns[1:]
    with pytest.raises(HomoCrnnInputError, match="client B's train table has 40 feature columns, not the 41"):
        check_horizontal_data(manifest, ["A", "B"])
    manifest["parties"]["B"]["splits"]["train"]["columns"] = columns
    manifest["parties"]["B"]["splits"]["train"]["rows"] = 0
    with pytest.raises(HomoCrnnInputError, match="client B's train table is empty"):
        check_horizontal_data(manifest, ["A", "B"])
