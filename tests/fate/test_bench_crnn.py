"""`fedids bench crnn`'s machinery through a real FATE Flow: three clients (A, B, C) and the
separate aggregator Z of conf/parties.yaml `homo_crnn_benchmark`, one FedProx epoch on a few
hundred records, the centralized CRNN in a fresh process, the summary and the quick line."""

from __future__ import annotations

import pytest

from benchmarks.bench_crnn import benchmark_roles, prepare_partition, quick_line, run_partition, summarise
from crnn_component.config import load_crnn_profile
from data_upload.sample import sample_kdd_file

pytestmark = pytest.mark.fate


def test_three_clients_and_aggregator_z_train_and_compare_with_centralized(repo_root, fate_flow, tmp_path):
    nsl = repo_root.parent / "shared" / "datasets" / "nsl-kdd"
    sample = sample_kdd_file(nsl / "KDDTrain+_20Percent.txt.gz", 1200, tmp_path / "sample.txt", seed=11)
    cfg = benchmark_roles(fate_flow, 3)
    roles = cfg.roles("homo_crnn")
    assert (roles.guest, roles.hosts, roles.arbiter) == ("A", ["B", "C"], "Z")
    data_dir = prepare_partition(cfg, nsl, sample, tmp_path / "h3", 3, None, seed=11)
    params = load_crnn_profile("tiny").with_overrides(epochs=1)
    partition = run_partition(cfg, data_dir, params, ["fedprox"], progress=lambda _: None)
    fed, central = partition["models"]["federated_fedprox"], partition["models"]["centralized"]
    assert set(fed["bytes_per_round"]) == {"A", "B", "C", "Z"}
    assert 16.0 <= fed["sent_bytes_per_parameter"] <= 16.0 * 1.1
    assert fed["epochs"] == 1 and fed["job_overhead_seconds"] > 0 and fed["train_job_id"]
    assert central["train_rows"] == sum(r["train"] for r in partition["client_rows"].values())
    assert 0.0 < fed["accuracy"] <= 1.0 and 0.0 < central["accuracy"] <= 1.0
    assert (tmp_path / "h3" / "result_federated_fedprox_1ep.json").is_file()  # a rerun measures nothing again
    partition["summary"] = summarise(partition)
    line = quick_line({"quick": True, "partitions": {"iid": partition}})
    assert line.startswith("crnn_quick: acc_delta_vs_central=") and "epoch_s_ratio=" in line
