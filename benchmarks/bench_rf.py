"""`fedids bench rf`: the vertical random forest side by side with its baselines, measured.

On one vertical split of a data set (prepared by data_upload, uploaded to FATE):
  - this forest through FATE Flow, Paillier-1024 (and mock, no encryption);
  - scikit-learn's RandomForestClassifier with the same hyperparameters, trained centrally;
  - A-only and B-only forests (scikit-learn, each party's own columns; for B this is a
    counterfactual: B has no labels, it shows what B's features alone are worth);
  - FATE's hetero_secureboost (multi:ce builds one tree per class per round; one round is
    enough for its per-tree time), same parties, key length and depth.
Every figure is written to a JSON file; the markdown table printed at the end is what goes
into benchmarks/RESULTS.md, with the command, the machine and the date.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd

from benchmarks.metrics import classification_metrics, fate_probabilities
from fedids.audit_view import bytes_sent_by_role, largest_messages
from fedids.config import PartiesConfig


def party_frames(data_dir: Path, split: str) -> Dict[str, pd.DataFrame]:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    return {p: pd.read_csv(data_dir / info["splits"][split]["file"]) for p, info in manifest["parties"].items()}


def centralized_forest(train: pd.DataFrame, test: pd.DataFrame, columns: List[str], params: Dict[str, Any],
                       classes: List[str]) -> Dict[str, Any]:
    """scikit-learn's forest with the same hyperparameters, on the given columns, pooled."""
    from fedids.baselines import sklearn_forest

    forest = sklearn_forest(params)
    started = time.perf_counter()
    forest.fit(train[columns].to_numpy(float), train["label"].to_numpy())
    seconds = time.perf_counter() - started
    proba = np.zeros((len(test), len(classes)))
    proba[:, forest.classes_] = forest.predict_proba(test[columns].to_numpy(float))
    result = classification_metrics(test["label"].to_numpy(), proba, classes)
    result.update(train_seconds=seconds, per_tree_seconds=seconds / params["num_trees"], columns=len(columns))
    return result


def task_seconds(cfg: PartiesConfig, job_id: str, task_name: str, party: str = "A", role: str = "guest") -> float:
    """Wall time of one task of a FATE job, as FATE Flow recorded it."""
    from fate_client.flow_sdk import FlowClient

    client = FlowClient(ip=cfg.flow.host, port=cfg.flow.http_port, version="v2")
    response = client.task.query(job_id=job_id, role=role, party_id=cfg.party_id(party), task_name=task_name)
    tasks = response.get("data") or []
    return float(tasks[0]["elapsed"]) / 1000.0 if tasks and tasks[0].get("elapsed") else float("nan")


def federated_forest(cfg: PartiesConfig, data_dir: Path, params: Dict[str, Any], kind: str, test_labels: pd.DataFrame,
                     classes: List[str]) -> Dict[str, Any]:
    from pipelines.vertical_rf import train_vertical_rf

    run_params = dict(params, he_param={"kind": kind, "key_length": params["he_param"].get("key_length", 1024)})
    run = train_vertical_rf(cfg, data_dir, run_params, predict_test=True)
    predictions = run.test_predictions.assign(id=lambda f: f["id"].astype(int)).merge(test_labels, on="id")
    proba = fate_probabilities(predictions, len(classes))
    result = classification_metrics(predictions["label_y" if "label_y" in predictions else "label"].to_numpy(),
                                    proba, classes)
    summary = {m["name"]: m["data"] for m in run.train_metrics if m.get("type") is None}
    guest = summary.get("train_summary", {})
    train_s = task_seconds(cfg, run.train_job_id, "rf_0")
    result.update(
        train_job_id=run.train_job_id, predict_job_id=run.predict_job_id, train_seconds=train_s,
        component_seconds=guest.get("total_seconds"), per_tree_seconds=guest.get("mean_tree_seconds"),
        encrypt_seconds=guest.get("encrypt_seconds"),
        encryption_share=(guest.get("encrypt_seconds", 0.0) / train_s) if train_s else None,
        cipher=kind, sent_bytes=bytes_sent_by_role(run.train_job_id),
    )
    return result


def secureboost_round(cfg: PartiesConfig, data_dir: Path, classes: List[str], max_depth: int, key_length: int,
                      test_labels: pd.DataFrame, kind: str = "paillier") -> Dict[str, Any]:
    """One round of FATE's hetero_secureboost (multi:ce: one tree per class) and its test metrics."""
    from fate_client.pipeline.components.fate import PSI, HeteroSecureBoost

    from pipelines.common import new_pipeline, reader_task, run_job
    from pipelines.vertical_rf import PIPELINE, party_tables, predict_test_split

    pipeline = new_pipeline(cfg, "psi_check")
    reader = reader_task("reader_0", cfg, PIPELINE, party_tables(data_dir, cfg, "train"))
    psi = PSI("psi_0", input_data=reader.outputs["output_data"])
    n_classes = len(classes)
    objective = "multi:ce" if n_classes > 2 else "binary:bce"
    sbt = HeteroSecureBoost("sbt_0", num_trees=1, max_depth=max_depth, max_bin=32, objective=objective,
                            num_class=n_classes, he_param={"kind": kind, "key_length": key_length},
                            train_data=psi.outputs["output_data"])
    pipeline.add_tasks([reader, psi, sbt])
    pipeline.compile()
    run_job(pipeline, "train")
    job_id = pipeline.model_info.job_id
    seconds = task_seconds(cfg, job_id, "sbt_0")
    trees = n_classes if n_classes > 2 else 1
    _, predictions = predict_test_split(cfg, data_dir, pipeline, [psi, sbt])
    predictions = predictions.assign(id=lambda f: f["id"].astype(int)).merge(test_labels, on="id")
    proba = fate_probabilities(predictions, n_classes)
    result = classification_metrics(predictions["label_y" if "label_y" in predictions else "label"].to_numpy(),
                                    proba, classes)
    result.update(train_job_id=job_id, train_seconds=seconds, trees_per_round=trees,
                  per_class_tree_seconds=seconds / trees, per_round_seconds=seconds, cipher=kind,
                  max_depth=max_depth)
    return result


def machine() -> Dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d")}


def run_rf_benchmark(cfg: PartiesConfig, data_dir: Path, params: Dict[str, Any], with_mock: bool = True,
                     with_secureboost: bool = True, secureboost_depth: Optional[int] = None,
                     out: Optional[Path] = None) -> Dict[str, Any]:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    classes = list(manifest["classes"])
    train, test = party_frames(data_dir, "train"), party_frames(data_dir, "test")
    a_cols = [c for c in train["A"].columns if c not in ("id", "label")]
    b_cols = [c for c in train["B"].columns if c != "id"]
    pooled_train = train["A"].merge(train["B"], on="id")
    pooled_test = test["A"].merge(test["B"], on="id")
    test_labels = test["A"][["id", "label"]]
    results: Dict[str, Any] = {"machine": machine(), "data": str(data_dir), "dataset": manifest["dataset"],
                               "protocol": manifest["protocol"], "train_rows": len(pooled_train),
                               "test_rows": len(pooled_test), "params": params, "classes": classes, "models": {}}
    models = results["models"]
    models["federated_rf_paillier"] = federated_forest(cfg, data_dir, params, "paillier", test_labels, classes)
    if with_mock:
        models["federated_rf_mock"] = federated_forest(cfg, data_dir, params, "mock", test_labels, classes)
    models["sklearn_rf_central"] = centralized_forest(pooled_train, pooled_test, a_cols + b_cols, params, classes)
    models["sklearn_rf_A_only"] = centralized_forest(pooled_train, pooled_test, a_cols, params, classes)
    models["sklearn_rf_B_only"] = centralized_forest(pooled_train, pooled_test, b_cols, params, classes)
    if with_secureboost:
        depth = secureboost_depth or params["max_depth"]
        models["fate_secureboost_1_round"] = secureboost_round(
            cfg, data_dir, classes, depth, params["he_param"].get("key_length", 1024), test_labels)
        fed = models["federated_rf_paillier"]
        sbt = models["fate_secureboost_1_round"]
        if fed.get("per_tree_seconds"):
            results["sbt_class_tree_over_rf_tree"] = sbt["per_class_tree_seconds"] / fed["per_tree_seconds"]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=float))
    return results


def markdown_table(results: Dict[str, Any]) -> str:
    lines = ["| model | accuracy | macro-F1 | weighted F1 | AUC (OvR macro) | train s | s per tree |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, m in results["models"].items():
        per_tree = m.get("per_tree_seconds", m.get("per_class_tree_seconds"))
        lines.append(f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['weighted_f1']:.4f} | "
                     f"{m['auc_ovr_macro']:.4f} | {m['train_seconds']:.2f} | {per_tree:.3f} |")
    classes = results["classes"]
    lines += ["", "| model | " + " | ".join(f"recall {c}" for c in classes) + " |",
              "| --- | " + " | ".join("---" for _ in classes) + " |"]
    for name, m in results["models"].items():
        lines.append(f"| {name} | " + " | ".join(f"{m['recall_per_class'][c]:.3f}" for c in classes) + " |")
    sent = {name: m["sent_bytes"] for name, m in results["models"].items() if m.get("sent_bytes")}
    if sent:
        lines += ["", "| model | party | bytes sent in training | largest messages |", "| --- | --- | --- | --- |"]
        for name, by_party in sent.items():
            for role, by_name in sorted(by_party.items()):
                lines.append(f"| {name} | {role} | {sum(by_name.values()):,} | "
                             + ", ".join(f"{n} {b:,}" for n, b in largest_messages(by_name)) + " |")
    return "\n".join(lines)


# Protocols of the full benchmark (issue: KDDTrain+_20Percent -> KDDTest+, and 80/20 of KDDTrain+).
# FATE's SecureBoost runs on the first only: its per-tree time needs one data set, and on the
# 100k-row split one depth-10 round alone would take hours here.
FULL_VARIANTS = {
    "nsl20_official": (dict(protocol="official", train_file="KDDTrain+_20Percent.txt"), True),
    "nsl_split": (dict(protocol="split"), False),
}
QUICK_VARIANT = {"nsl_quick": (dict(protocol="paper", subset_size=2000), True)}


def prepare_and_upload(cfg: PartiesConfig, nsl_dir: Path, out: Path, variant: Dict[str, Any]) -> Path:
    """Prepare a vertical NSL-KDD split (once) and upload it (a no-op when already in FATE)."""
    from data_upload.fate_upload import FlowTables
    from data_upload.prepare import prepare
    from data_upload.upload import upload_manifest

    if not (out / "manifest.json").is_file():
        prepare("nsl-kdd", str(nsl_dir), "vertical", out_dir=str(out), show_progress=False, **variant)
    upload_manifest(out, FlowTables(cfg.flow))
    return out


def bench_rf(cfg: PartiesConfig, nsl_dir: Path, work_dir: Path, profile_params: Dict[str, Any], quick: bool,
             with_secureboost: bool = True, with_mock: bool = True,
             only: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    """Run the benchmark on every variant (or those named in ``only``); one JSON per variant in work_dir."""
    variants = QUICK_VARIANT if quick else FULL_VARIANTS
    if only:
        unknown = sorted(set(only) - set(variants))
        if unknown:
            raise ValueError(f"unknown benchmark variant {unknown[0]!r}; choose among {', '.join(variants)}")
        variants = {name: variants[name] for name in only}
    params = dict(profile_params)
    if quick:
        params.update(num_trees=5, max_depth=5)
    outputs = []
    for name, (variant, secureboost_here) in variants.items():
        data_dir = prepare_and_upload(cfg, nsl_dir, work_dir / name, variant)
        result = run_rf_benchmark(cfg, data_dir, params, with_mock=with_mock,
                                  with_secureboost=with_secureboost and secureboost_here,
                                  out=work_dir / f"rf_{name}_{time.strftime('%Y%m%d_%H%M%S')}.json")
        result["variant"] = name
        outputs.append(result)
    return outputs
