"""`./standalone_deploy.sh demo --profile tiny` end to end through the running FATE Flow.

One run (a few minutes): data prepared and uploaded, the vertical RF and the federated CRNN,
CNN and RNN trained and predicted through FATE, a second RF + CRNN pair without half of each
attack class's names (the soft-vote weight is chosen on them), baselines, fusion at A, the run
directory and the report. The checks read what a user reads: the run directory, report.md, report.html and
the PNG figures; then `fedids report` rebuilds the report from the run directory alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.fate

MODELS = ["rf", "crnn", "cnn", "rnn", "fusion_vote", "fusion_stacking", "central_rf", "central_crnn",
          "local_rf_A", "local_rf_B", "local_crnn_A", "local_crnn_B",
          "rf_adapted", "crnn_adapted", "cnn_adapted", "rnn_adapted", "fusion_vote_adapted", "fusion_stacking_adapted"]
CLASSES = ["normal", "DoS", "Probe", "R2L", "U2R"]


@pytest.fixture(scope="module")
def tiny_demo(repo_root, fate_flow, tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, FEDIDS_FLOW_HTTP_PORT=str(fate_flow.flow.http_port))
    result = subprocess.run(
        ["./standalone_deploy.sh", "demo", "--profile", "tiny", "--quiet",
         "--data-dir", str(repo_root.parent / "shared" / "datasets" / "nsl-kdd"),
         "--runs-dir", str(work / "runs"), "--reports-dir", str(work / "reports")],
        cwd=repo_root, capture_output=True, text=True, env=env, timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_id = re.search(r"run (\S+): ", result.stdout).group(1)
    return work, run_id, result.stdout


def test_demo_prints_the_report_paths_and_the_headline_table(tiny_demo):
    work, run_id, out = tiny_demo
    assert f"report: {work / 'reports' / run_id / 'report.md'}" in out
    assert "fusion_vote" in out and "accuracy" in out
    assert re.search(r"fusion_vote vs rf / crnn: accuracy [+-]\d+\.\d\d / [+-]\d+\.\d\d; macro-F1 ", out)
    assert "fusion_vote_adapted vs rf_adapted / crnn_adapted: accuracy" in out


def test_run_directory_holds_every_model_prediction_and_the_fate_job_ids(tiny_demo):
    work, run_id, _ = tiny_demo
    run_dir = work / "runs" / run_id
    record = json.loads((run_dir / "run.json").read_text())
    assert set(MODELS) <= set(record["models"])
    for name in ("rf", "crnn", "cnn", "rnn"):
        assert record["models"][name]["train_job_id"] and record["models"][name]["predict_job_ids"]["test"]
    test_ids = None
    for name in MODELS:
        frame = pd.read_csv(run_dir / "predictions" / f"{name}.test.csv")
        assert list(frame.columns) == ["id", "label"] + [f"p_{c}" for c in CLASSES]
        assert (frame[[f"p_{c}" for c in CLASSES]].sum(axis=1) - 1).abs().max() < 1e-3
        if name in ("rf", "crnn", "fusion_vote"):
            ids = set(frame["id"])
            test_ids = ids if test_ids is None else test_ids
            assert ids == test_ids  # fusion joined the same records by id
    fusion = json.loads((run_dir / "fusion.json").read_text())
    assert 0.0 <= fusion["weight_rf"] <= 1.0 and fusion["stacking_coef"]
    assert fusion["selection"] == "one_se" and fusion["score_se"] >= 0
    best = max(c["macro_f1"] for c in fusion["candidates"])
    kept = [c["weight_rf"] for c in fusion["candidates"] if c["macro_f1"] >= best - fusion["score_se"] - 1e-12]
    assert fusion["weight_rf"] == min(kept, key=lambda w: (abs(w - 0.5), w))
    assert set(fusion["temperatures"]) == {"rf", "crnn"} and all(t > 0 for t in fusion["temperatures"].values())
    assert fusion["adaptation"]["method"] == "em" and abs(sum(fusion["trained_priors"]) - 1) < 1e-9
    adaptation = record["adaptation"]
    assert set(adaptation["detectors"]) == {"rf", "crnn", "cnn", "rnn", "fusion_vote", "fusion_stacking"}
    for name, found in adaptation["detectors"].items():
        # EM converges slowly towards a class mix with a zero share; then it stops at max_iter, says so
        assert found["converged"] or found["iterations"] == fusion["adaptation"]["max_iter"]
        assert abs(sum(found["priors"]) - 1) < 1e-6 and found["records"] > 0
        assert record["models"][f"{name}_adapted"]["adapted_from"] == name
    assert (run_dir / "pipelines" / "rf.pkl").is_file() and (run_dir / "pipelines" / "crnn.pkl").is_file()
    # the forest's bytes per party come from the audit trail of its training job
    forest = record["traffic"]["rf"]["sent_in_training"]
    assert set(forest) == {"guest", "host", "arbiter"}
    assert forest["guest"]["encrypted_labels"] > 0 and forest["host"]["host_histogram"] > 0
    assert set(record["traffic"]) == {"rf", "crnn", "cnn", "rnn"}
    assert [s["name"] for s in record["stages"]][0].startswith("prepare data")
    assert all(s["seconds"] > 0 for s in record["stages"])


def test_report_has_every_table_figure_model_and_class(tiny_demo):
    work, run_id, _ = tiny_demo
    report = work / "reports" / run_id
    text = (report / "report.md").read_text()
    for name in MODELS + CLASSES:
        assert name in text, name
    for section in ("Table 3", "Table 6", "Figure 7", "Figure 6", "claimed"):
        assert section in text
    pngs = list((report / "figures").glob("*.png"))
    assert any(p.name.startswith("confusion_") for p in pngs) and any(p.name.startswith("roc_") for p in pngs)
    assert any(p.name == "learning_curve.png" for p in pngs)
    assert any(p.name == "fusion_weights.png" for p in pngs) and "nothing is chosen from it" in text
    assert "class mix (label shift)" in text and "`fusion_vote` → `fusion_vote_adapted`" in text
    assert "### `rf`" in text and "`encrypted_labels`" in text  # Communication: the forest's bytes per party
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    html = (report / "report.html").read_text()
    assert "data:image/png;base64," in html and 'src="figures/' not in html


def test_report_command_rebuilds_from_the_run_directory_alone(tiny_demo, tmp_path):
    work, run_id, _ = tiny_demo
    result = subprocess.run([sys.executable, "-m", "fedids.cli", "report", run_id, "--runs-dir", str(work / "runs"),
                             "--out-dir", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / run_id / "report.md").read_text() == (work / "reports" / run_id / "report.md").read_text()


def test_the_weight_is_the_one_se_choice_on_the_held_out_pairs_predictions(tiny_demo):
    from fedids.demo import held_out_weight_records
    from fedids.fusion import choose_weight

    work, run_id, _ = tiny_demo
    run_dir = work / "runs" / run_id
    run = json.loads((run_dir / "run.json").read_text())
    fusion = json.loads((run_dir / "fusion.json").read_text())
    selection = run["fusion"]["weight_selection"]
    assert fusion["weight_chosen_on"] == "attack_holdout" and selection["held_out_names"]
    for model in ("rf", "crnn"):  # the pair's own FATE jobs, not the deployed models'
        job = selection["models"][model]["train_job_id"]
        assert job and job != run["models"][model]["train_job_id"]
    vertical = run_dir / "data" / "attack_holdout" / "vertical"
    records, record = held_out_weight_records(run_dir, vertical, "A", run["classes"], "temperature")
    assert record["held_out_records"] == selection["held_out_records"] > 0
    settings = run["config"]["demo"]["fusion"]
    weight, candidates, _ = choose_weight(records, len(run["classes"]), settings["select_by"], settings["grid_step"],
                                          settings["selection"], settings["bootstrap"], int(run["config"]["rf"]["seed"]))
    assert fusion["weight_rf"] == weight and fusion["candidates"] == candidates
    # both models of the pair scored every held-out record: the forest in its training job (weight 0)
    held = set(pd.read_csv(vertical / "A" / "holdout_ids.csv")["id"])
    for model in ("rf", "crnn"):
        assert held <= set(pd.read_csv(run_dir / "predictions" / f"{model}.attack_holdout.csv")["id"])


def test_b_trains_the_held_out_pair_on_the_same_fate_tables_as_the_deployed_forest(tiny_demo):
    work, run_id, _ = tiny_demo
    run_dir = work / "runs" / run_id
    records = [json.loads((run_dir / "data" / d / "vertical" / "fate_tables.json").read_text())["parties"]
               for d in ("", "attack_holdout")]
    # the FATE table names are content hashes; the second upload of B's tables found them in FATE already
    tables = [{party: {split: (e["namespace"], e["name"], e["rows"]) for split, e in splits.items()}
               for party, splits in record.items()} for record in records]
    assert tables[0]["B"] == tables[1]["B"]                 # not a row less: B cannot tell which are held out
    assert all(e["job_id"] is None for e in records[1]["B"].values())    # nothing of B's uploaded again
    assert tables[0]["A"]["train"] != tables[1]["A"]["train"]            # A's carries the weights
    a_train = pd.read_csv(run_dir / "data" / "attack_holdout" / "vertical" / "A" / "train.csv")
    assert set(np.unique(a_train["sample_weight"])) == {0.0, 1.0}


def test_the_report_says_where_the_weight_was_chosen_and_on_which_names(tiny_demo):
    work, run_id, _ = tiny_demo
    run = json.loads((work / "runs" / run_id / "run.json").read_text())
    text = (work / "reports" / run_id / "report.md").read_text()
    assert "chosen on the leave-attack-out split" in text and "Leave-attack-out weight choice" in text
    for names in run["fusion"]["weight_selection"]["held_out_names"].values():
        assert all(name in text for name in names)
    assert "`rf` trained without the held-out names" in text


@pytest.fixture(scope="module")
def new_records(tmp_path_factory, repo_root):
    from data_upload.sample import sample_kdd_file

    source = repo_root.parent / "shared" / "datasets" / "nsl-kdd" / "KDDTest-21.txt.gz"
    return sample_kdd_file(source, 200, tmp_path_factory.mktemp("new") / "records.txt", seed=3)


def predict(work, run_id, input_file, out=None, *extra):
    command = [sys.executable, "-m", "fedids.cli", "predict", "--model", run_id, "--runs-dir", str(work / "runs"),
               "--input", str(input_file)] + (["--out", str(out)] if out else []) + list(extra)
    return subprocess.run(command, capture_output=True, text=True)


def test_predict_scores_new_records_through_the_deployed_models(tiny_demo, new_records, tmp_path):
    work, run_id, _ = tiny_demo
    result = predict(work, run_id, new_records, tmp_path / "scored.csv", "--adapt")
    assert result.returncode == 0, result.stderr[-3000:]
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert len(scored) == 200 and sorted(scored["id"]) == list(range(200))
    assert set(scored["predicted"]) <= set(CLASSES)
    for column in [f"p_{c}" for c in CLASSES] + ["rf_predicted", "crnn_predicted", "stacking_predicted"]:
        assert column in scored
    assert (scored[[f"p_{c}" for c in CLASSES]].sum(axis=1) - 1).abs().max() < 1e-3
    assert (scored["predicted"] == scored["class_in_file"]).mean() > 0.3  # a real detector, not noise
    assert "fewer than adaptation.min_records (1000)" in result.stdout  # 200 records: too few to estimate a mix


def test_predict_refuses_a_malformed_file_before_uploading_anything(tiny_demo, new_records, tmp_path):
    work, run_id, _ = tiny_demo
    lines = new_records.read_text().splitlines()
    lines[4] = ",".join(lines[4].split(",")[:10])  # a truncated record on line 5
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    before = set((work / "runs" / run_id / "predict").glob("*")) if (work / "runs" / run_id / "predict").is_dir() \
        else set()
    result = predict(work, run_id, bad)
    assert result.returncode == 2
    assert "bad.txt" in result.stderr and "line 5" in result.stderr
    after = set((work / "runs" / run_id / "predict").glob("*")) if (work / "runs" / run_id / "predict").is_dir() \
        else set()
    assert after == before


def test_predict_with_an_unknown_run_names_the_missing_file(tiny_demo, new_records):
    work, _, _ = tiny_demo
    result = predict(work, "no-such-run", new_records)
    assert result.returncode == 2 and "no-such-run" in result.stderr and "not a finished run" in result.stderr


def test_a_failed_fate_job_stops_the_demo_naming_stage_task_job_and_logs(tiny_demo, repo_root, fate_flow, tmp_path):
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(repo_root / "conf", conf)
    rf = (conf / "rf.yaml").read_text()
    (conf / "rf.yaml").write_text(rf.replace("    max_depth: 4", "    max_depth: 0"))  # FATE refuses it in the task
    env = dict(os.environ, FEDIDS_CONF_DIR=str(conf), FEDIDS_FLOW_HTTP_PORT=str(fate_flow.flow.http_port))
    result = subprocess.run(
        [sys.executable, "-m", "fedids.cli", "demo", "--profile", "tiny", "--quiet",
         "--data-dir", str(repo_root.parent / "shared" / "datasets" / "nsl-kdd"),
         "--runs-dir", str(tmp_path / "runs"), "--reports-dir", str(tmp_path / "reports")],
        cwd=repo_root, capture_output=True, text=True, env=env, timeout=900,
    )
    assert result.returncode == 3
    message = result.stderr
    assert "stage 'train + predict vertical RF' failed in FATE task rf_0" in message
    job = re.search(r"FATE job (\d+), logs: (\S+)", message)
    assert job and (repo_root / job.group(2)).is_dir()
    assert "max_depth" in message
    assert not list((tmp_path / "runs").glob("*/run.json"))  # an unfinished run is not a run
