"""The benchmarks' summary arithmetic: accuracy gaps, epoch-time ratios, the scaling projection."""

from __future__ import annotations

import pytest

from benchmarks.bench_crnn import quick_line, summarise
from benchmarks.bench_scaling import PROJECTED_COUNTS, projection


def test_crnn_summary_compares_each_federated_model_with_the_centralized_one():
    partition = {"models": {"federated_fedprox": {"accuracy": 0.95, "mean_epoch_seconds": 3.0},
                            "federated_fedavg": {"accuracy": 0.97, "mean_epoch_seconds": 1.5},
                            "centralized": {"accuracy": 0.96, "mean_epoch_seconds": 2.0}}}
    summary = summarise(partition)
    assert summary["federated_fedprox_acc_delta_vs_central"] == pytest.approx(-0.01)
    assert summary["federated_fedavg_epoch_s_ratio"] == pytest.approx(0.75)
    line = quick_line({"quick": True, "partitions": {"iid": {"summary": summary}}})
    assert line == "crnn_quick: acc_delta_vs_central=-0.0100 epoch_s_ratio=1.500"


def test_scaling_projection_is_linear_in_clients_and_labelled():
    measured = [{"n_clients": 1, "bytes_per_round_all_clients": 900.0, "rounds": 2},
                {"n_clients": 2, "bytes_per_round_all_clients": 2000.0, "rounds": 2},
                {"n_clients": 4, "bytes_per_round_all_clients": 4000.0, "rounds": 2}]
    projected = projection(measured)
    assert [p["n_clients"] for p in projected] == list(PROJECTED_COUNTS)
    assert all(p["projected"] for p in projected)
    assert projected[0]["bytes_per_round_all_clients"] == pytest.approx(1000.0 * PROJECTED_COUNTS[0])
    assert projected[0]["bytes_total"] == pytest.approx(2 * 1000.0 * PROJECTED_COUNTS[0])
