"""The evaluation report (report/): metrics against hand-computed values, and a report built from a
synthetic but realistic run directory (docs/run-directory.md)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
import pytest

from report.build import UnfinishedRunError, build_report
from report.cli import EXIT_REPORT_ERROR, add_report_command
from report.metrics import load_predictions, model_metrics

CLASSES = ["normal", "DoS", "Probe", "R2L", "U2R"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# name: (kind, family, label, strength of the true class in the logits)
MODELS = {
    "rf": ("federated", "rf", "RF (vertical, FATE)", 2.6),
    "crnn": ("federated", "crnn", "CRNN (homo_nn, FedProx)", 2.3),
    "cnn": ("federated", "crnn", "CNN only (homo_nn, FedProx)", 1.9),
    "rnn": ("federated", "crnn", "RNN only (homo_nn, FedProx)", 1.7),
    "fusion_vote": ("federated (fused at A)", "fusion", "soft vote of RF and CRNN", None),
    "fusion_stacking": ("federated (fused at A)", "fusion", "stacking of RF and CRNN", None),
    "central_rf": ("centralized baseline", "rf", "RF, pooled columns (scikit-learn)", 3.0),
    "central_crnn": ("centralized baseline", "crnn", "CRNN, pooled rows (torch)", 2.7),
    "local_rf_A": ("local-only", "rf", "RF on A's columns", 1.5),
    "local_rf_B": ("local-only", "rf", "RF on B's columns (counterfactual)", 1.1),
    "local_crnn_A": ("local-only", "crnn", "CRNN on A's rows", 1.6),
    "local_crnn_B": ("local-only", "crnn", "CRNN on B's rows", 1.4),
}
CURVE_MODELS = ("crnn", "cnn", "rnn", "central_crnn")


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _write_predictions(path: Path, ids: List[str], y: np.ndarray, proba: np.ndarray) -> None:
    frame = pd.DataFrame({"id": ids, "label": y})
    for code, name in enumerate(CLASSES):
        frame[f"p_{name}"] = proba[:, code]
    frame.to_csv(path, index=False)


def make_run_dir(root: Path, protocol: str = "official", weak_vote: bool = False, seed: int = 7,
                 adapted: bool = False, class_weights: Optional[Dict[str, str]] = None) -> Path:
    """A finished run directory: predictions of every model on valid and test, curves, fusion.json,
    run.json. With weak_vote, fusion_vote is a poor model, so it cannot beat rf and crnn. With adapted,
    the test split's class mix differs from valid's and the demo's own adaptation step has run."""
    rng = np.random.default_rng(seed)
    run_id = f"20261204-231500-{protocol}"
    run_dir = root / run_id
    (run_dir / "predictions").mkdir(parents=True)
    (run_dir / "curves").mkdir()
    mixes = {"valid": [0.45, 0.3, 0.13, 0.09, 0.03],
             "test": [0.2, 0.2, 0.1, 0.4, 0.1] if adapted else [0.45, 0.3, 0.13, 0.09, 0.03]}
    for split, n in (("valid", 100), ("test", 300)):
        y = rng.choice(len(CLASSES), size=n, p=mixes[split])
        y[: len(CLASSES)] = np.arange(len(CLASSES))  # every class present
        ids = [f"{split}-{i:05d}" for i in range(n)]
        onehot = np.eye(len(CLASSES))[y]
        proba: Dict[str, np.ndarray] = {}
        for name, (_kind, _family, _label, strength) in MODELS.items():
            if strength is not None:
                proba[name] = _softmax(rng.normal(0.0, 1.0, (n, len(CLASSES))) + strength * onehot)
        proba["fusion_vote"] = 0.4 * proba["rf"] + 0.6 * proba["crnn"]
        if weak_vote:
            proba["fusion_vote"] = _softmax(rng.normal(0.0, 1.0, (n, len(CLASSES))) + 1.5 * onehot)
        proba["fusion_stacking"] = _softmax(np.log(proba["rf"]) + np.log(proba["crnn"]))
        for name, p in proba.items():
            _write_predictions(run_dir / "predictions" / f"{name}.{split}.csv", ids, y, p)
    for name in CURVE_MODELS:
        pace = 1.0 + 0.2 * CURVE_MODELS.index(name)
        points = [{"epoch": e, "loss": round(1.2 / (e * pace), 4),
                   "accuracy": round(0.95 - 0.2 / (e * pace), 4), "seconds": 3.0 * e} for e in range(1, 6)]
        (run_dir / "curves" / f"{name}.json").write_text(json.dumps(points))
    fusion = {  # FusedDetector's JSON (fedids/fusion.py)
        "classes": CLASSES,
        "weight_rf": 0.4,
        "select_by": "macro_f1",
        "selection": "one_se",
        "score_se": 0.03,
        "candidates": [{"weight_rf": w, "macro_f1": 0.80 + w / 10 - (w > 0.5) * w / 5} for w in (0.0, 0.2, 0.4, 0.6,
                                                                                                0.8, 1.0)],
        "stacking_coef": [[0.5, -0.1, 0.2]], "stacking_intercept": [0.01], "stacking_classes": [0, 1],
    }
    if adapted:
        from fedids.label_shift import source_priors

        valid_labels = pd.read_csv(run_dir / "predictions" / "rf.valid.csv")["label"].to_numpy()
        fusion.update(trained_priors=source_priors(valid_labels, len(CLASSES)).tolist(),  # as fedids.demo.fuse
                      adaptation={"method": "em", "max_iter": 1000, "tol": 1e-8, "min_records": 100})
    (run_dir / "fusion.json").write_text(json.dumps(fusion))
    models: Dict[str, Any] = {}
    for name, (kind, family, label, _strength) in MODELS.items():
        entry: Dict[str, Any] = {"kind": kind, "family": family, "label": label}
        if kind.startswith("federated") and not name.startswith("fusion"):
            entry["train_job_id"] = f"20261204231{len(models):03d}"
            entry["predict_job_ids"] = {"valid": f"20261204232{len(models):03d}",
                                        "test": f"20261204233{len(models):03d}"}
        models[name] = entry
    adaptation = None
    if adapted:
        from fedids.demo import ADAPTED_SUFFIX, adapt_detectors

        detectors = ["rf", "crnn", "cnn", "rnn", "fusion_vote", "fusion_stacking"]
        adaptation = adapt_detectors(run_dir, CLASSES, detectors, {"method": "em", "max_iter": 1000, "tol": 1e-8,
                                                                   "min_records": 100}, "temperature",
                                     class_weights or {"rf": "none", "crnn": "none"})
        for name in detectors:
            models[name + ADAPTED_SUFFIX] = {"kind": "federated", "family": "adapted", "adapted_from": name,
                                             "label": f"{models[name]['label']}; adapted (EM)"}
    run = {
        "run_id": run_id, "profile": "quick", "dataset": "nsl-kdd", "protocol": protocol,
        "started": "2026-12-04T23:15:00", "finished": "2026-12-04T23:41:10",
        "machine": {"cores": 2, "python": "3.11.7", "platform": "Linux-x86_64", "date": "2026-12-04"},
        "classes": CLASSES,
        "class_mapping": {name: code for code, name in enumerate(CLASSES)},
        "config": {"demo": {"profile": "quick"}, "rf": {"n_trees": 10, "max_depth": 6},
                   "crnn": {"epochs": 5, "algo": "fedprox", "mu": 0.01},
                   "parties": {"A": 9999, "B": 10000, "C": 10001}},
        "data": {
            "vertical": {"dir": "runs/x/data/vertical",
                         "sources": [{"file": "KDDTrain+.txt", "sha256": "a" * 64, "rows": 125973},
                                     {"file": "KDDTest+.txt", "sha256": "b" * 64, "rows": 22544}],
                         "rows": {"train": 2000, "valid": 100, "test": 300}},
            "horizontal": {"dir": "runs/x/data/horizontal", "sources": [], "rows": {"A": 1000, "B": 1000}},
        },
        "models": models,
        "stages": [{"name": "train rf", "seconds": 123.4, "job_ids": ["20261204231000"],
                    "logs": [".fate/flow/logs/20261204231000"]},
                   {"name": "fusion", "seconds": 1.2, "job_ids": [], "logs": []}],
        "traffic": {"rf": {"sent_in_training": {"guest": {"encrypted_labels": 13294770, "partition": 414673},
                                                "host": {"host_histogram": 3808310, "goes_left": 517190}},
                           "source": "audit trail"},
                    "crnn": {"parameter_count": 50309,
                             "bytes_per_round": {"A": {"sent": 201500, "received": 201800, "rounds": 5},
                                                 "B": {"sent": 201500, "received": 201800, "rounds": 5}}}},
        "fusion": {"weight_rf": 0.4, "select_by": "macro_f1"},
        "adaptation": adaptation,
        "paper_claims": {
            "rf": {"accuracy": 0.999, "precision": 0.999, "source": "Zou et al., Table 3"},
            "crnn": {"accuracy": 0.999, "f1": 0.998, "source": "Zou et al., Table 3"},
            "fusion_vote": {"accuracy": 0.999, "source": "Zou et al., abstract"},
        },
    }
    (run_dir / "run.json").write_text(json.dumps(run, indent=2))
    return run_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    run_dir = make_run_dir(root / "runs")
    return build_report(run_dir, root / "reports" / run_dir.name)


def _sections(markdown: str) -> Dict[str, str]:
    """Level-2 sections of report.md by heading; the part before the first one under 'title'."""
    parts = re.split(r"^## ", markdown, flags=re.M)
    sections = {"title": parts[0]}
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        sections[heading.strip()] = body
    return sections


# ---------------------------------------------------------------------------- metrics


def _tiny_example() -> Dict[str, Any]:
    # true 0,0,0,1,1,2; predicted 0,0,1,1,2,2 (0.7 on the predicted class, 0.15 elsewhere)
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    proba = np.full((6, 3), 0.15)
    proba[np.arange(6), y_pred] = 0.7
    return model_metrics(y_true, proba, ["a", "b", "c"])


def test_macro_and_weighted_precision_recall_f1_match_hand_computed_values():
    m = _tiny_example()
    # per class: a P=1 R=2/3 F1=0.8; b P=1/2 R=1/2 F1=1/2; c P=1/2 R=1 F1=2/3; supports 3, 2, 1
    assert m["precision_macro"] == pytest.approx(2 / 3)
    assert m["recall_macro"] == pytest.approx(13 / 18)
    assert m["f1_macro"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["precision_weighted"] == pytest.approx(4.5 / 6)
    assert m["recall_weighted"] == pytest.approx(4 / 6)
    assert m["f1_weighted"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6)
    assert m["accuracy"] == pytest.approx(4 / 6)


def test_per_class_metrics_and_confusion_matrix_match_hand_computed_values():
    m = _tiny_example()
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert [m["per_class"][c]["accuracy"] for c in "abc"] == pytest.approx([5 / 6, 4 / 6, 5 / 6])
    assert [m["per_class"][c]["precision"] for c in "abc"] == pytest.approx([1.0, 0.5, 0.5])
    assert [m["per_class"][c]["recall"] for c in "abc"] == pytest.approx([2 / 3, 0.5, 1.0])
    assert [m["per_class"][c]["support"] for c in "abc"] == [3, 2, 1]
    # class a: positives score 0.7, 0.7, 0.15, negatives all 0.15 -> (6 wins + 3 ties / 2) / 9
    assert m["per_class"]["a"]["auc"] == pytest.approx(7.5 / 9)
    assert m["auc_classes_skipped"] == []


def test_auc_leaves_out_a_class_absent_from_y_true_and_names_it():
    y_true = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6]])
    m = model_metrics(y_true, proba, ["a", "b", "c"])
    assert m["auc_classes_skipped"] == ["c"]
    assert np.isnan(m["per_class"]["c"]["auc"])
    assert m["per_class"]["a"]["auc"] == pytest.approx(1.0)
    assert m["auc_macro"] == pytest.approx(np.mean([m["per_class"]["a"]["auc"], m["per_class"]["b"]["auc"]]))
    assert m["per_class"]["c"]["support"] == 0


def test_load_predictions_returns_probabilities_in_class_order(tmp_path):
    path = tmp_path / "rf.test.csv"
    frame = pd.DataFrame({"id": [1, 2], "p_b": [0.9, 0.2], "label": [1, 0], "p_a": [0.1, 0.8]})
    frame.to_csv(path, index=False)
    y_true, proba, ids = load_predictions(path, ["a", "b"])
    assert y_true.tolist() == [1, 0]
    assert proba.tolist() == [[0.1, 0.9], [0.8, 0.2]]
    assert ids.tolist() == [1, 2]


def test_load_predictions_names_the_file_and_the_missing_column(tmp_path):
    path = tmp_path / "rf.test.csv"
    pd.DataFrame({"id": [1], "label": [0], "p_a": [1.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*p_b"):
        load_predictions(path, ["a", "b"])


# ---------------------------------------------------------------------------- the built report


def test_build_report_writes_markdown_html_metrics_and_png_figures(built):
    for key in ("markdown", "html", "metrics"):
        assert built[key].is_file() and built[key].stat().st_size > 0
    pngs = sorted(built["figures"].glob("*.png"))
    names = {p.name for p in pngs}
    for model in ("cnn", "rnn", "crnn", "rf", "fusion_vote", "fusion_stacking"):
        assert {f"confusion_{model}.png", f"roc_{model}.png"} <= names
    assert "learning_curve.png" in names
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC
    markdown = built["markdown"].read_text()
    assert "](figures/confusion_rf.png)" in markdown and "](figures/learning_curve.png)" in markdown


def test_html_report_is_self_contained_with_embedded_pngs(built):
    page = built["html"].read_text()
    assert 'src="figures/' not in page
    assert "<script" not in page.lower()
    assert page.count('src="data:image/png;base64,') == len(list(built["figures"].glob("*.png")))
    assert "<table>" in page


def test_markdown_names_every_model_with_its_label_and_every_class(built):
    markdown = built["markdown"].read_text()
    for name, (_kind, _family, label, _strength) in MODELS.items():
        assert f"`{name}`" in markdown
        assert label in markdown
    for name in CLASSES:
        assert name in markdown


def test_sections_come_in_the_documented_order(built):
    headings = [h for h in _sections(built["markdown"].read_text()) if h != "title"]
    assert headings == [
        "Ablation (paper Table 3)", "Per class (paper Table 6)", "Federated vs centralized vs local-only",
        "Paper's claims (not our measurements)", "Confusion matrices (paper Figure 7)", "ROC curves",
        "Learning curve (paper Figure 6)", "Fusion", "Adapted to the test records' class mix (label shift)",
        "Communication", "Run",
    ]


def test_both_reports_open_with_contents_linking_every_section(built):
    from report.build import section_anchor

    markdown, page = built["markdown"].read_text(), built["html"].read_text()
    headings = [h for h in _sections(markdown) if h != "title"]
    contents_line = next(line for line in markdown.splitlines() if line.startswith("Contents: "))
    assert markdown.index(contents_line) < markdown.index("## ")
    for heading in headings:
        anchor = section_anchor(heading)
        assert f"](#{anchor})" in contents_line
        assert f'<a href="#{anchor}">' in page and f'<h2 id="{anchor}">' in page
    assert section_anchor("Paper's claims (not our measurements)") == "papers-claims-not-our-measurements"


def test_ablation_table_names_macro_and_weighted_columns(built):
    ablation = _sections(built["markdown"].read_text())["Ablation (paper Table 3)"]
    headers = ("P (macro)", "F1 (macro)", "P (weighted)", "F1 (weighted)", "AUC (macro)", "AUC (weighted)")
    for header in headers:
        assert header in ablation


def test_headline_states_the_fusion_comparison_in_points(built):
    test = json.loads(built["metrics"].read_text())["splits"]["test"]
    title = _sections(built["markdown"].read_text())["title"]
    assert "run 20261204-231500-official" in title and "`nsl-kdd`" in title and "`official`" in title
    for fused in ("fusion_vote", "fusion_stacking"):
        assert f"`{fused}`" in title
        for key, name in (("f1_macro", "macro-F1"), ("accuracy", "accuracy")):
            rf_points = 100 * (test[fused][key] - test["rf"][key])
            crnn_points = 100 * (test[fused][key] - test["crnn"][key])
            assert re.search(rf"{re.escape(f'{rf_points:+.2f}')} points {name} (over|vs) `rf`, "
                             rf"{re.escape(f'{crnn_points:+.2f}')} (over|vs) `crnn`", title)
    best_f1 = max(test, key=lambda m: test[m]["f1_macro"])
    assert f"the best by macro-F1 is `{best_f1}`" in title


def test_paper_claims_sit_in_their_own_section_beside_measured_values(built):
    sections = _sections(built["markdown"].read_text())
    claims = sections["Paper's claims (not our measurements)"]
    assert "claimed (paper)" in claims and "measured (this run)" in claims
    assert "Zou et al., Table 3" in claims
    for heading, body in sections.items():
        if heading != "Paper's claims (not our measurements)":
            assert "claimed" not in body.lower(), heading
    assert "`--protocol split`" in claims  # official protocol: 0.999 refers to the paper's 80/20 split


def test_federation_sentences_compare_with_best_local_and_centralized(built):
    body = _sections(built["markdown"].read_text())["Federated vs centralized vs local-only"]
    numbers = json.loads(built["metrics"].read_text())["federation"]
    assert numbers["rf"]["best_local"] == "local_rf_A" and numbers["rf"]["centralized"] == "central_rf"
    assert numbers["crnn"]["federated"] == "crnn"
    assert "Family `rf`" in body and "Family `crnn`" in body
    assert "centralized baseline `central_crnn`" in body


def test_metrics_json_is_strict_json_with_every_model_and_both_splits(built):
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    doc = json.loads(built["metrics"].read_text(), parse_constant=refuse)
    assert set(doc["splits"]) == {"valid", "test"}
    assert set(doc["splits"]["test"]) == set(MODELS)
    assert doc["traffic"]["crnn"]["A"]["sent_per_parameter"] == pytest.approx(201500 / 50309)
    assert doc["traffic"]["rf"]["host"]["sent_in_training"] == 3808310 + 517190


def test_communication_and_run_sections_show_traffic_jobs_and_logs(built):
    sections = _sections(built["markdown"].read_text())
    assert "50,309 parameters" in sections["Communication"]
    assert "201,500 B" in sections["Communication"]
    forest = sections["Communication"].split("### `rf`")[1].split("###")[0]
    assert "| guest | 13,709,443 B (13.1 MiB) | `encrypted_labels` 13,294,770 B (12.7 MiB), `partition` 414,673 B" in forest
    run = sections["Run"]
    assert "`.fate/flow/logs/20261204231000/`" in run
    assert "a" * 64 in run and "n_trees: 10" in run
    assert "weight" in sections["Fusion"] and "macro_f1" in sections["Fusion"]


def test_fusion_section_lists_candidate_weights_and_the_one_se_choice(built):
    fusion = _sections(built["markdown"].read_text())["Fusion"]
    assert "one-standard-error rule" in fusion and "0.0300" in fusion
    rows = [line for line in fusion.splitlines() if re.match(r"\| (0|0\.[2468]|1) \|", line)]
    assert len(rows) == 6
    chosen = [r for r in rows if r.rstrip(" |").endswith("yes") and r.startswith("| 0.4 ")]
    assert chosen, rows


def test_test_weight_sweep_is_a_labelled_diagnostic_whose_ends_are_the_single_models(built):
    doc = json.loads(built["metrics"].read_text())
    sweep = doc["fusion_test_sweep"]
    test = doc["splits"]["test"]
    assert sweep["weights"] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] and sweep["records"] == 300
    assert sweep["test"]["accuracy"][-1] == pytest.approx(test["rf"]["accuracy"])
    assert sweep["test"]["accuracy"][0] == pytest.approx(test["crnn"]["accuracy"])
    assert sweep["test"]["macro_f1"][-1] == pytest.approx(test["rf"]["f1_macro"])
    # the fixture's fusion_vote is the 0.4 soft vote: the sweep at 0.4 is its score
    assert sweep["summary"]["accuracy"]["at_chosen"] == pytest.approx(test["fusion_vote"]["accuracy"])
    fusion = _sections(built["markdown"].read_text())["Fusion"]
    assert "nothing is chosen from it" in fusion and "](figures/fusion_weights.png)" in fusion
    assert (built["figures"] / "fusion_weights.png").read_bytes().startswith(PNG_MAGIC)


def test_split_protocol_says_whether_each_federated_model_reached_0999_and_weak_fusion_loses(tmp_path):
    run_dir = make_run_dir(tmp_path / "runs", protocol="split", weak_vote=True)
    paths = build_report(run_dir, tmp_path / "out")
    sections = _sections(paths["markdown"].read_text())
    claims = sections["Paper's claims (not our measurements)"]
    assert "protocol `split`" in claims
    for model in ("rf", "crnn", "cnn", "rnn", "fusion_vote", "fusion_stacking"):
        assert re.search(rf"`{model}` \d\.\d{{4}}: (yes|no)", claims)
    assert "`fusion_vote` (soft vote of RF and CRNN) does not beat both" in sections["title"]


# ---------------------------------------------------------------------------- the command


def _run_cli(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="fedids")
    add_report_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_report_command_on_a_missing_run_exits_2_and_names_the_path(tmp_path, capsys):
    code = _run_cli(["report", "nope", "--runs-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")])
    assert code == EXIT_REPORT_ERROR == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nope") in err and "not a finished run" in err


def test_report_command_on_a_run_without_run_json_says_it_is_unfinished(tmp_path, capsys):
    (tmp_path / "half" / "predictions").mkdir(parents=True)
    code = _run_cli(["report", "half", "--runs-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "half" / "run.json") in err and "not a finished run" in err
    with pytest.raises(UnfinishedRunError):
        build_report(tmp_path / "half", tmp_path / "out")


def test_report_command_builds_into_out_dir_run_id_and_prints_both_paths(tmp_path, capsys):
    run_dir = make_run_dir(tmp_path / "runs", seed=11)
    out = tmp_path / "reports"
    code = _run_cli(["report", run_dir.name, "--runs-dir", str(tmp_path / "runs"), "--out-dir", str(out)])
    assert code == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / run_dir.name / "report.md"), str(out / run_dir.name / "report.html")]


# ---------------------------------------------------------------------------- the demo's printed headline

def test_demo_headline_prints_the_reports_numbers_in_run_order_and_the_fusion_margins(built):
    from fedids.demo import headline

    report_dir = built["markdown"].parent
    run_dir = report_dir.parent.parent / "runs" / report_dir.name
    doc = json.loads(built["metrics"].read_text())
    from_report = headline(run_dir, CLASSES, report_dir)
    rows = {line.split()[0]: line.split()[1:] for line in from_report[1:] if len(line.split()) == 4}
    assert list(rows) == list(MODELS)  # run.json's order
    for name, (acc, f1, auc) in rows.items():
        test = doc["splits"]["test"][name]
        assert (acc, f1, auc) == (f"{test['accuracy']:.4f}", f"{test['f1_macro']:.4f}", f"{test['auc_macro']:.4f}")
    margins = [line for line in from_report if line.startswith("fusion_vote vs rf / crnn:")]
    points = doc["headline"]["fusion"]["fusion_vote"]["accuracy_points"]
    assert margins and f"accuracy {points['rf']:+.2f} / {points['crnn']:+.2f}" in margins[0]
    # without a report the table is computed from the prediction files: the same numbers
    assert headline(run_dir, CLASSES)[1:len(rows) + 1] == from_report[1:len(rows) + 1]


@pytest.fixture(scope="module")
def built_adapted(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("report_adapted")
    run_dir = make_run_dir(root / "runs", adapted=True)
    return build_report(run_dir, root / "reports" / run_dir.name)


def test_adaptation_section_shows_each_detectors_class_mix_and_before_after_numbers(built_adapted):
    doc = json.loads(built_adapted["metrics"].read_text())
    section = _sections(built_adapted["markdown"].read_text())["Adapted to the test records' class mix (label shift)"]
    test, run = doc["splits"]["test"], json.loads((built_adapted["markdown"].parent.parent.parent / "runs" /
                                                   built_adapted["markdown"].parent.name / "run.json").read_text())
    for base in ("rf", "crnn", "cnn", "rnn", "fusion_vote", "fusion_stacking"):
        adapted = f"{base}_adapted"
        assert f"`{base}` → `{adapted}`" in section and f"Per class: `{adapted}`" in section
        points = doc["adaptation"]["detectors"][base]["accuracy_points"]
        assert points == pytest.approx(100 * (test[adapted]["accuracy"] - test[base]["accuracy"]))
        estimated = run["adaptation"]["detectors"][base]["priors"]
        assert f"estimated by `{base}`" in section and f"{estimated[3]:.4f}" in section
        # the test split is 40 % R2L against 9 % in valid: every detector's estimate moves towards it
        assert estimated[3] > run["adaptation"]["trained_priors"][3]
    assert doc["adaptation"]["test_true_mix"][3] == pytest.approx(np.mean(load_predictions(
        built_adapted["markdown"].parent.parent.parent / "runs" / built_adapted["markdown"].parent.name /
        "predictions" / "rf.test.csv", CLASSES)[0] == 3))
    assert "confusion_fusion_vote_adapted.png" in {p.name for p in built_adapted["figures"].glob("*.png")}


def test_headline_compares_the_adapted_fusion_with_the_adapted_single_models(built_adapted):
    doc = json.loads(built_adapted["metrics"].read_text())
    title = _sections(built_adapted["markdown"].read_text())["title"]
    test = doc["splits"]["test"]
    margins = doc["headline"]["fusion"]["fusion_vote_adapted"]
    assert set(margins["accuracy_points"]) == {"rf_adapted", "crnn_adapted"}
    points = 100 * (test["fusion_vote_adapted"]["f1_macro"] - test["rf_adapted"]["f1_macro"])
    assert f"{points:+.2f} points macro-F1" in title and "`crnn_adapted`" in title


def test_a_run_without_adaptation_says_so_in_its_section(built):
    section = _sections(built["markdown"].read_text())["Adapted to the test records' class mix (label shift)"]
    assert "did not adapt" in section and "adaptation.method: none" in section


def test_weight_diagnostic_also_shows_the_adapted_vote_at_every_weight(built_adapted):
    doc = json.loads(built_adapted["metrics"].read_text())
    sweep = doc["fusion_test_sweep"]
    for metric in ("accuracy (adapted)", "macro_f1 (adapted)"):
        assert len(sweep["test"][metric]) == len(sweep["weights"]) and metric in sweep["summary"]
        assert all(0.0 <= v <= 1.0 for v in sweep["test"][metric])
    assert "macro_f1 (adapted)" in _sections(built_adapted["markdown"].read_text())["Fusion"]


def test_a_class_balanced_model_is_adapted_from_a_uniform_trained_mix_the_report_shows(tmp_path):
    run_dir = make_run_dir(tmp_path / "runs", adapted=True, class_weights={"rf": "balanced", "crnn": "none"})
    run = json.loads((run_dir / "run.json").read_text())
    detectors, valid_mix = run["adaptation"]["detectors"], run["adaptation"]["trained_priors"]
    assert detectors["rf"]["trained_priors"] == pytest.approx([0.2] * 5)
    for name in ("crnn", "cnn", "rnn", "fusion_stacking"):
        assert detectors[name]["trained_priors"] == pytest.approx(valid_mix)
    assert "uniform for the class-balanced rf" in run["adaptation"]["trained_priors_from"]
    section = _sections(build_report(run_dir, tmp_path / "reports")["markdown"].read_text())[
        "Adapted to the test records' class mix (label shift)"]
    assert "trained: `rf`" in section and "trained: `crnn`" not in section


def test_an_em_that_stopped_at_max_iter_is_flagged_not_converged(tmp_path):
    run_dir = make_run_dir(tmp_path / "runs", adapted=True)
    run = json.loads((run_dir / "run.json").read_text())
    run["adaptation"]["detectors"]["rnn"].update(converged=False, iterations=1000)
    (run_dir / "run.json").write_text(json.dumps(run))
    built = build_report(run_dir, tmp_path / "reports")
    section = _sections(built["markdown"].read_text())["Adapted to the test records' class mix (label shift)"]
    assert re.search(r"`rnn` → `rnn_adapted` \| [0-9.]+ \| 1000 \(not converged\) \|", section)
    assert section.count("(not converged)") == 1  # only the detector whose EM stopped early


def test_a_leave_attack_out_weight_is_chosen_on_the_held_out_records_and_the_report_says_how(tmp_path):
    from fedids.demo import held_out_weight_records
    from fedids.fusion import fit_fusion, join_by_id
    from fedids.label_shift import fit_temperature

    run_dir = make_run_dir(tmp_path / "runs")
    rng = np.random.default_rng(3)
    # the leave-attack-out pair: valid records plus 60 records of held-out names, which only the CRNN gets right
    held_ids = [f"held-{i:05d}" for i in range(60)]
    held_y = rng.choice([1, 3], size=60)
    held_onehot = np.eye(len(CLASSES))[held_y]
    for name, strength in (("rf", -1.0), ("crnn", 3.0)):
        valid = pd.read_csv(run_dir / "predictions" / f"{name}.valid.csv")
        held = _softmax(rng.normal(0.0, 1.0, (60, len(CLASSES))) + strength * held_onehot)
        _write_predictions(run_dir / "predictions" / f"{name}.attack_holdout.csv",
                           list(valid["id"]) + held_ids, np.concatenate([valid["label"].to_numpy(), held_y]),
                           np.vstack([valid[[f"p_{c}" for c in CLASSES]].to_numpy(), held]))
    holdout_dir = tmp_path / "data" / "attack_holdout" / "vertical"
    (holdout_dir / "A").mkdir(parents=True)
    pd.DataFrame({"id": held_ids, "attack_name": "neptune"}).to_csv(holdout_dir / "A" / "holdout_ids.csv", index=False)
    (holdout_dir / "manifest.json").write_text(json.dumps({"holdout": {
        "attack_fraction": 0.5, "names": {"DoS": ["neptune"]}, "records": {"neptune": 60}, "held_out_in": "train",
        "ids_files": {"A": "A/holdout_ids.csv"}}}))

    records, record = held_out_weight_records(run_dir, holdout_dir, "A", CLASSES, "temperature")
    assert (record["records"], record["held_out_records"]) == (160, 60) and len(records.labels) == 160
    valid = pd.read_csv(run_dir / "predictions" / "rf.valid.csv")
    # calibrated on the names the pair was trained on only, as the deployed pair is on its valid split
    assert record["temperatures"]["rf"] == pytest.approx(
        fit_temperature(valid[[f"p_{c}" for c in CLASSES]].to_numpy(), valid["label"].to_numpy()))
    _, y, p_rf, p_crnn = join_by_id(valid, pd.read_csv(run_dir / "predictions" / "crnn.valid.csv"), CLASSES)
    fused, on_valid = (fit_fusion(y, p_rf, p_crnn, CLASSES, calibration="temperature", selection="best",
                                  weight_records=r) for r in (records, None))
    assert fused.weight_rf < on_valid.weight_rf          # the held-out names pull the weight to the CRNN
    fused.save(run_dir / "fusion.json")
    run = json.loads((run_dir / "run.json").read_text())
    run["fusion"] = {"weight_rf": fused.weight_rf, "weight_chosen_on": "attack_holdout", "weight_selection": record}
    (run_dir / "run.json").write_text(json.dumps(run))

    paths = build_report(run_dir, tmp_path / "reports")
    section = _sections(paths["markdown"].read_text())["Fusion"]
    assert "chosen on the leave-attack-out split" in section and "Leave-attack-out weight choice" in section
    assert "| DoS | neptune (60) |" in section and "attack_holdout macro_f1" in section
    assert "`rf` trained without the held-out names" in section
    metrics = json.loads(paths["metrics"].read_text())
    assert set(metrics["fusion_attack_holdout"]) == {"rf", "crnn"}
    assert metrics["splits"]["attack_holdout"]["crnn"]["accuracy"] > metrics["splits"]["attack_holdout"]["rf"]["accuracy"]
