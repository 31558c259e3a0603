"""The main job: NSL-KDD from files to a fused, evaluated federated detector and its report.

Stages (each timed, its FATE job ids kept): prepare the vertical (A: labels + basic/content
features, B: traffic features) and horizontal (clients A and B) data sets with a validation
split held out by id; upload them; train the vertical forest (A guest, B host, C arbiter) and
predict valid and test; train the federated CRNN and its CNN/RNN ablations (homo_nn, FedProx,
arbiter C) with the valid split predicted in the training job, then predict test; centralized
and local-only baselines; with ``fusion.weight_from: attack_holdout``, a second forest + CRNN pair
trained without a seeded share of each attack class's names, whose predictions of those names
choose the soft-vote weight; fuse RF and CRNN at A (weight on valid, or on that pair's records);
write the run directory (docs/run-directory.md) and the report.

Evaluation view: the demo runs every party on one machine, so the run directory collects
each party's prediction outputs. The CRNN's predictions of B's rows are B's in a real
deployment (docs/privacy.md says what each party learns).
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from benchmarks.metrics import fate_probabilities
from crnn_component.config import CrnnParams, load_crnn_profile
from fedids.audit_view import bytes_sent_by_role
from fedids.config import PartiesConfig
from fedids.demo_config import DemoProfile
from fedids.fusion import (HOLDOUT_SPLIT, FusedDetector, WeightRecords, calibrate_inputs, fit_fusion,
                           fit_input_temperatures, join_by_id, prediction_frame, probability_columns)
from fedids.label_shift import ADAPTED_SUFFIX
from fedids.model_config import load_rf_profile
from fedids.paths import conf_dir, project_root
from fedids.progress import StageProgress

ARCH_LABELS = {"crnn": "CRNN (horizontal, FATE homo_nn)", "cnn": "CNN only (horizontal, FATE homo_nn)",
               "rnn": "RNN only (horizontal, FATE homo_nn)"}


class DemoError(RuntimeError):
    """A stage failed; the message names the stage, the FATE job and where its logs are."""


@dataclass
class DemoResult:
    run_id: str
    run_dir: Path
    report_dir: Optional[Path]
    headline: List[str]


def new_run_id(profile: str, protocol: str) -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{profile}" + ("" if protocol == "official" else f"-{protocol}")


def _machine() -> Dict[str, Any]:
    import os

    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d")}


# -- data ----------------------------------------------------------------------------------

def original_files(profile: DemoProfile, data_dir: Path) -> Dict[str, Optional[Path]]:
    """The published files the profile reads (before any sampling)."""
    from data_upload.config import load_data_config
    from data_upload.sources import locate_sources

    settings = load_data_config().settings(profile.dataset)
    found = locate_sources(settings, data_dir, profile.protocol, profile.train_file, profile.test_file)
    return {"train": found.train, "test": found.test}


def source_files(profile: DemoProfile, data_dir: Path, sources_dir: Path, seed: int) -> Dict[str, Optional[str]]:
    """The train/test files the profile reads (sampled into ``sources_dir`` when the profile samples)."""
    from data_upload.sample import sample_kdd_file

    found = original_files(profile, data_dir)
    train, test = found["train"], found["test"]
    if profile.sample:
        train = sample_kdd_file(train, profile.sample["train"], sources_dir / f"train_{profile.sample['train']}.txt", seed)
        if test is not None and "test" in profile.sample:
            test = sample_kdd_file(test, profile.sample["test"], sources_dir / f"test_{profile.sample['test']}.txt", seed)
    return {"train": str(train), "test": str(test) if test is not None and profile.protocol == "official" else None}


def prepare_both_layouts(profile: DemoProfile, data_dir: Path, run_dir: Path, clients: int, seed: int,
                         holdout_attack_fraction: float = 0.0) -> Dict[str, Path]:
    """Vertical and horizontal preparations of the same records and ids (validation split included);
    with ``holdout_attack_fraction``, the leave-attack-out preparation for the weight choice, under
    ``data/attack_holdout/`` (same records and ids; data_upload/holdout.py says where the held-out
    names' records go in each layout)."""
    from data_upload.prepare import prepare

    files = source_files(profile, data_dir, run_dir / "data" / "sources", seed)
    root = run_dir / "data" / (HOLDOUT_SPLIT if holdout_attack_fraction else "")
    out = {}
    for layout in ("vertical", "horizontal"):
        target = root / layout
        extra = {"clients": clients} if layout == "horizontal" else {}
        prepare(profile.dataset, str(data_dir), layout, profile.protocol, str(target), train_file=files["train"],
                test_file=files["test"], validation_fraction=profile.validation_fraction, seed=seed,
                holdout_attack_fraction=holdout_attack_fraction, show_progress=False, **extra)
        out[layout] = target
    return out


def upload_both(cfg: PartiesConfig, dirs: Dict[str, Path]) -> None:
    from data_upload.fate_upload import FlowTables
    from data_upload.upload import upload_manifest

    tables = FlowTables(cfg.flow)
    for path in dirs.values():
        upload_manifest(path, tables)


# -- prediction frames ---------------------------------------------------------------------

def fate_predictions(frame: pd.DataFrame, classes: Sequence[str], labels: Optional[pd.Series] = None) -> pd.DataFrame:
    """FATE's prediction output (id, predict_detail, maybe label) as id, label, p_<class>, sorted by id."""
    ids = frame["id"].astype(np.int64).to_numpy()
    proba = fate_probabilities(frame, len(classes))
    if labels is not None:
        label_values = labels.reindex(ids).to_numpy()
    elif "label" in frame:
        label_values = frame["label"].astype(float).astype(np.int64).to_numpy()
    else:
        label_values = None
    return prediction_frame(ids, proba, classes, label_values).sort_values("id").reset_index(drop=True)


def _labels(vertical_dir: Path, split: str, guest: str) -> pd.Series:
    manifest = json.loads((vertical_dir / "manifest.json").read_text())
    frame = pd.read_csv(vertical_dir / manifest["parties"][guest]["splits"][split]["file"], usecols=["id", "label"])
    return frame.set_index("id")["label"]


def held_out_ids(data_dir: Path, party: str) -> np.ndarray:
    """The ids of ``party``'s records of held-out attack names (its holdout_ids.csv, never uploaded)."""
    manifest = json.loads((data_dir / "manifest.json").read_text())
    return pd.read_csv(data_dir / manifest["holdout"]["ids_files"][party], usecols=["id"])["id"].to_numpy()


def _write(run_dir: Path, model: str, split: str, frame: pd.DataFrame) -> None:
    path = run_dir / "predictions" / f"{model}.{split}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")


def _read(run_dir: Path, model: str, split: str) -> pd.DataFrame:
    return pd.read_csv(run_dir / "predictions" / f"{model}.{split}.csv")


# -- stages ----------------------------------------------------------------------------------

def train_forest(cfg: PartiesConfig, vertical_dir: Path, params: Dict[str, Any], run_dir: Path,
                 classes: Sequence[str], deployed: bool = True) -> Dict[str, Any]:
    """Vertical RF through FATE: train, predict test and valid, keep the deployed pipeline.

    ``deployed=False``: the forest of the leave-attack-out pair (weight choice only), trained with the
    guest weighing the held-out names' rows 0: its predictions of those training rows (from the
    training job) and of the valid split go to ``rf.attack_holdout.csv``; no pipeline is kept, no
    test record predicted.
    """
    from pipelines.vertical_rf import PIPELINE, predict_test_split, train_vertical_rf

    guest = cfg.roles(PIPELINE).guest
    run = train_vertical_rf(cfg, vertical_dir, params, predict_test=deployed)
    if deployed:
        _write(run_dir, "rf", "test",
               fate_predictions(run.test_predictions, classes, _labels(vertical_dir, "test", guest)))
    # the test prediction deployed the model; without it, this job deploys it
    valid_job, valid_frame = predict_test_split(cfg, vertical_dir, run.pipeline, ["psi_0", "rf_0"], split="valid",
                                                deploy=not deployed)
    valid = fate_predictions(valid_frame, classes, _labels(vertical_dir, "valid", guest))
    if not deployed:
        trained = fate_predictions(run.train_predictions, classes, _labels(vertical_dir, "train", guest))
        held = trained[trained["id"].isin(held_out_ids(vertical_dir, guest))]
        _write(run_dir, "rf", HOLDOUT_SPLIT, pd.concat([valid, held]).sort_values("id").reset_index(drop=True))
        return {"train_job_id": run.train_job_id, "predict_job_ids": {HOLDOUT_SPLIT: valid_job},
                "train_seconds": run.timings.get("train_job_s")}
    _write(run_dir, "rf", "valid", valid)
    (run_dir / "pipelines").mkdir(exist_ok=True)
    run.pipeline.dump_model(str(run_dir / "pipelines" / "rf.pkl"))
    balanced = ", class-balanced" if params.get("class_weight") == "balanced" else ""
    entry = {"kind": "federated", "family": "rf",
             "label": "RF (vertical, FATE, " + params["he_param"]["kind"] + balanced + ")",
             "train_job_id": run.train_job_id,
             "predict_job_ids": {"test": run.predict_job_id, "valid": valid_job},
             "train_seconds": run.timings.get("train_job_s")}
    sent = bytes_sent_by_role(run.train_job_id)
    if sent is not None:  # from this site's audit trail; absent when the trail is off
        entry["traffic"] = {"sent_in_training": sent, "source": "audit trail (fedids audit show JOB)"}
    return entry


def _pooled(frames: Dict[str, Any]) -> pd.DataFrame:
    """The clients' prediction frames of one split as one frame."""
    return pd.concat([f for f in frames.values() if f is not None and len(f)], ignore_index=True)


def train_federated_nn(cfg: PartiesConfig, horizontal_dir: Path, params: CrnnParams, arch: str, run_dir: Path,
                       classes: Sequence[str], deployed: bool = True) -> Dict[str, Any]:
    """One federated homo_nn model (CRNN or an ablation): train (valid predicted in the job), predict test.

    ``deployed=False``: the CRNN of the leave-attack-out pair (weight choice only): its valid
    predictions go to ``ARCH.attack_holdout.csv``; no test prediction, curve or pipeline is kept.
    """
    from pipelines.homo_crnn import train_homo_crnn

    run = train_homo_crnn(cfg, horizontal_dir, params.with_overrides(architecture=arch), predict_test=deployed,
                          predict_valid=True)
    if not deployed:
        _write(run_dir, arch, HOLDOUT_SPLIT, fate_predictions(_pooled(run.valid_predictions), classes))
        return {"train_job_id": run.train_job_id, "predict_job_ids": {HOLDOUT_SPLIT: run.train_job_id},
                "train_seconds": run.timings.get("train_job_s")}
    for split, frames in (("test", run.test_predictions), ("valid", run.valid_predictions)):
        _write(run_dir, arch, split, fate_predictions(_pooled(frames), classes))
    (run_dir / "curves").mkdir(exist_ok=True)
    (run_dir / "curves" / f"{arch}.json").write_text(json.dumps(run.curve, indent=1))
    (run_dir / "pipelines").mkdir(exist_ok=True)
    run.pipeline.dump_model(str(run_dir / "pipelines" / f"{arch}.pkl"))
    balanced = ", class-balanced" if params.class_weight == "balanced" else ""
    return {"kind": "federated", "family": arch, "label": ARCH_LABELS[arch] + f", {run.algo} mu={run.mu}{balanced}",
            "train_job_id": run.train_job_id, "predict_job_ids": {"test": run.predict_job_id,
                                                                  "valid": run.train_job_id},
            "train_seconds": run.timings.get("train_job_s"),
            "traffic": {"parameter_count": run.parameter_count, "bytes_per_round": run.bytes_per_round}}


def train_baselines(dirs: Dict[str, Path], rf_params: Dict[str, Any], crnn_params: CrnnParams, run_dir: Path,
                    classes: Sequence[str], vertical_parties: Sequence[str], clients: Sequence[str]
                    ) -> Dict[str, Dict[str, Any]]:
    """Centralized and local-only forests (vertical columns) and CRNNs (horizontal rows), on the test split."""
    from crnn_component.centralized import pooled_arrays
    from fedids.baselines import crnn_probabilities, forest_probabilities, in_fresh_process, vertical_frames

    models: Dict[str, Dict[str, Any]] = {}
    k = len(classes)
    train = vertical_frames(dirs["vertical"], "train", vertical_parties)
    test = vertical_frames(dirs["vertical"], "test", vertical_parties)
    manifest = json.loads((dirs["vertical"] / "manifest.json").read_text())
    columns = {p: [c for c in manifest["parties"][p]["splits"]["train"]["columns"]
                   if c not in ("label", manifest.get("weight_column"))]
               for p in vertical_parties}
    every = [c for p in vertical_parties for c in columns[p]]
    forests = {"central_rf": (every, "centralized baseline", "RF, scikit-learn on pooled A+B columns")}
    for p in vertical_parties:
        note = "" if p == vertical_parties[0] else " (counterfactual: B holds no labels; trained with A's)"
        forests[f"local_rf_{p}"] = (columns[p], "local-only", f"RF on {p}'s columns only{note}")
    for name, (cols, kind, label) in forests.items():
        started = time.perf_counter()
        proba = forest_probabilities(train, test, cols, rf_params, k)
        _write(run_dir, name, "test", prediction_frame(test["id"].to_numpy(), proba, classes, test["label"].to_numpy()))
        models[name] = {"kind": kind, "family": "rf", "label": label, "train_seconds": time.perf_counter() - started}

    horizontal = dirs["horizontal"]
    x_test, y_test = pooled_arrays(horizontal, clients, "test")
    test_ids = pd.concat([pd.read_csv(horizontal / c / "test.csv", usecols=["id"]) for c in clients])["id"].to_numpy()
    crnns = {"central_crnn": (list(clients), "centralized baseline", "CRNN, plain torch on pooled clients' rows")}
    for c in clients:
        crnns[f"local_crnn_{c}"] = ([c], "local-only", f"CRNN on {c}'s rows only")
    for name, (holders, kind, label) in crnns.items():
        started = time.perf_counter()
        x, y = pooled_arrays(horizontal, holders, "train")
        proba, curve = in_fresh_process(crnn_probabilities, x, y, x_test, crnn_params, k)
        frame = prediction_frame(test_ids, proba, classes, y_test).sort_values("id")
        _write(run_dir, name, "test", frame)
        if name == "central_crnn":
            (run_dir / "curves" / f"{name}.json").write_text(json.dumps(curve, indent=1))
        models[name] = {"kind": kind, "family": "crnn", "label": label, "train_seconds": time.perf_counter() - started}
    return models


def held_out_weight_records(run_dir: Path, holdout_vertical_dir: Path, guest: str, classes: Sequence[str],
                            calibration: str) -> Tuple[WeightRecords, Dict[str, Any]]:
    """The leave-attack-out pair's valid predictions as the records the soft-vote weight is chosen on.

    Each model of the pair is temperature-scaled (``calibration``) on the valid records of names it
    was trained on, as the deployed pair is on its own valid split; the weight is then scored on all
    of them, seen names and held-out names together, as a test file or a deployment mixes them.
    """
    ids, labels, p_rf, p_crnn = join_by_id(_read(run_dir, "rf", HOLDOUT_SPLIT), _read(run_dir, "crnn", HOLDOUT_SPLIT),
                                           classes)
    holdout = json.loads((holdout_vertical_dir / "manifest.json").read_text())["holdout"]
    unseen = np.isin(ids, held_out_ids(holdout_vertical_dir, guest))
    temperatures = None
    if calibration == "temperature":
        temperatures = fit_input_temperatures(labels[~unseen], p_rf[~unseen], p_crnn[~unseen])
        p_rf, p_crnn = calibrate_inputs(temperatures, p_rf, p_crnn)
    record = {"held_out_names": holdout["names"], "attack_fraction": holdout["attack_fraction"],
              "records": int(len(ids)), "held_out_records": int(unseen.sum()),
              "held_out_records_by_name": holdout["records"], "temperatures": temperatures}
    return WeightRecords(labels, p_rf, p_crnn, HOLDOUT_SPLIT), record


def fuse(run_dir: Path, classes: Sequence[str], settings: Dict[str, Any], adaptation: Dict[str, Any],
         seed: int, class_weights: Dict[str, str], weight_records: Optional[WeightRecords] = None
         ) -> Dict[str, Any]:
    """Fit the fused detector on valid (records both models scored) and apply it to test.

    ``class_weights``: the forest's and the CRNN's ``class_weight`` ("rf", "crnn"); the vote's trained
    class mix (for label-shift adaptation) is the weighted mix of its two inputs' trained mixes.
    ``weight_records``: where the soft-vote weight is chosen instead of valid (``held_out_weight_records``).
    """
    from fedids.label_shift import model_priors

    _, y_valid, rf_valid, crnn_valid = join_by_id(_read(run_dir, "rf", "valid"), _read(run_dir, "crnn", "valid"), classes)
    detector = fit_fusion(y_valid, rf_valid, crnn_valid, classes, select_by=settings["select_by"],
                          grid_step=settings["grid_step"], stacking=settings["stacking"], seed=seed,
                          selection=settings["selection"], bootstrap=settings["bootstrap"],
                          calibration=settings["calibration"], weight_records=weight_records)
    if adaptation["method"] != "none":
        w = detector.weight_rf
        priors = (w * model_priors(y_valid, len(classes), class_weights["rf"])
                  + (1.0 - w) * model_priors(y_valid, len(classes), class_weights["crnn"]))
        detector.trained_priors = priors.tolist()
        detector.adaptation = dict(adaptation)
    detector.save(run_dir / "fusion.json")
    ids, y_test, rf_test, crnn_test = join_by_id(_read(run_dir, "rf", "test"), _read(run_dir, "crnn", "test"), classes)
    _write(run_dir, "fusion_vote", "test", prediction_frame(ids, detector.vote(rf_test, crnn_test), classes, y_test))
    out = {"weight_rf": detector.weight_rf, "select_by": detector.select_by, "selection": detector.selection,
           "weight_chosen_on": detector.weight_chosen_on, "score_se": detector.score_se, "calibration": detector.calibration, "temperatures": detector.temperatures,
           "valid_records": int(len(y_valid)), "test_records": int(len(ids))}
    if detector.stacking_coef is not None:
        _write(run_dir, "fusion_stacking", "test",
               prediction_frame(ids, detector.stack(rf_test, crnn_test), classes, y_test))
    return out


def adapt_detectors(run_dir: Path, classes: Sequence[str], detectors: Sequence[str], settings: Dict[str, Any],
                    calibration: str, class_weights: Dict[str, str]) -> Dict[str, Any]:
    """Every federated detector alike: temperature-scale on valid (single models; the fused ones are
    built from calibrated inputs), then EM to the test records' class mix; writes MODEL_adapted.test.csv.

    rf's and crnn's temperatures are the fused detector's (fusion.json, fitted on A's validation
    records); the other models' temperatures are fitted here on the same records. Each detector's
    trained class mix is the one its probabilities carry: A's valid labels, uniform for a class-balanced
    model (``class_weights``: "rf", "crnn"; the CNN/RNN ablations are trained like the CRNN), the
    vote's from fusion.json, and the valid labels for stacking (fitted on them).
    """
    from fedids.label_shift import adapt_to_priors, apply_temperature, fit_temperature, model_priors

    fused = FusedDetector.load(run_dir / "fusion.json")
    temperatures = dict(fused.temperatures or {})
    cols = probability_columns(classes)
    # the records the fusion was fitted on: those both models scored
    _, valid_labels, _, _ = join_by_id(_read(run_dir, "rf", "valid"), _read(run_dir, "crnn", "valid"), classes)
    source = model_priors(valid_labels, len(classes))
    trained_of = {"rf": model_priors(valid_labels, len(classes), class_weights["rf"]),
                  "fusion_vote": np.asarray(fused.trained_priors, dtype=float), "fusion_stacking": source}
    balanced = sorted(k for k, v in class_weights.items() if v == "balanced")
    record: Dict[str, Any] = {"method": settings["method"], "calibration": calibration, "trained_priors": source.tolist(),
                              "trained_priors_from": f"valid labels at A ({len(valid_labels)} records, +1 per class)"
                              + (f"; uniform for the class-balanced {', '.join(balanced)}" if balanced else ""),
                              "detectors": {}}
    for name in detectors:
        trained = trained_of.get(name, model_priors(valid_labels, len(classes), class_weights["crnn"]))
        test = _read(run_dir, name, "test")
        proba, temperature = test[cols].to_numpy(float), temperatures.get(name)
        valid_file = run_dir / "predictions" / f"{name}.valid.csv"
        if calibration == "temperature" and temperature is None and valid_file.is_file():
            valid = pd.read_csv(valid_file)
            temperature = fit_temperature(valid[cols].to_numpy(float), valid["label"].to_numpy(np.int64))
        if temperature is not None:
            proba = apply_temperature(proba, temperature)
        adapted = adapt_to_priors(proba, trained, max_iter=settings["max_iter"], tol=settings["tol"])
        _write(run_dir, name + ADAPTED_SUFFIX, "test",
               prediction_frame(test["id"].to_numpy(), adapted.proba, classes, test["label"].to_numpy()))
        record["detectors"][name] = {"temperature": temperature, "priors": adapted.priors,
                                     "trained_priors": trained.tolist(),
                                     "iterations": adapted.iterations, "converged": adapted.converged,
                                     "records": int(len(test))}
    return record


def train_leave_attack_out_pair(cfg: PartiesConfig, profile: DemoProfile, data_dir: Path, run_dir: Path,
                                clients: Sequence[str], seed: int, rf_params: Dict[str, Any], crnn_params: CrnnParams,
                                classes: Sequence[str], stage: Callable[[str, Callable[[], Any]], Any]
                                ) -> Tuple[WeightRecords, Dict[str, Any]]:
    """Three stages: prepare and upload the leave-attack-out data, train its forest and CRNN (same
    settings as the deployed pair) through FATE; return the records the weight is chosen on and
    what run.json keeps of them (held-out names, counts, temperatures, FATE jobs)."""
    from pipelines.vertical_rf import PIPELINE as RF_PIPELINE

    fraction = float(profile.fusion["holdout_attack_fraction"])

    def prepare_and_upload() -> Dict[str, Path]:
        dirs = prepare_both_layouts(profile, data_dir, run_dir, len(clients), seed, holdout_attack_fraction=fraction)
        upload_both(cfg, dirs)
        return dirs

    dirs = stage(f"prepare + upload data without {fraction:g} of each class's attack names (weight choice)",
                 prepare_and_upload)
    jobs = {"rf": stage("train + predict vertical RF without the held-out names",
                        lambda: train_forest(cfg, dirs["vertical"], rf_params, run_dir, classes, deployed=False)),
            "crnn": stage("train + predict federated CRNN without the held-out names",
                          lambda: train_federated_nn(cfg, dirs["horizontal"], crnn_params, "crnn", run_dir, classes,
                                                     deployed=False))}
    records, record = held_out_weight_records(run_dir, dirs["vertical"], cfg.roles(RF_PIPELINE).guest, classes,
                                              profile.fusion["calibration"])
    record.update({"data_dir": {layout: str(path) for layout, path in dirs.items()}, "models": jobs})
    return records, record


def load_paper_claims() -> Dict[str, Any]:
    import yaml

    path = conf_dir() / "paper_claims.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}


# -- the whole run -------------------------------------------------------------------------

def run_demo(cfg: PartiesConfig, profile: DemoProfile, data_dir: Path, runs_dir: Path, reports_dir: Path,
             show_progress: bool = True, build: Optional[Callable[[Path, Path], Any]] = None) -> DemoResult:
    """Every stage of the demo; raises DemoError naming the failed stage, its job and its logs."""
    from data_upload.manifest import sha256_of
    from pipelines.homo_crnn import client_parties
    from pipelines.vertical_rf import PIPELINE as RF_PIPELINE

    rf_params = load_rf_profile(profile.rf_profile)
    crnn_params = load_crnn_profile(profile.crnn_profile)
    seed = int(rf_params["seed"])
    run_id = new_run_id(profile.name, profile.protocol)
    run_dir = Path(runs_dir) / run_id
    run_dir.mkdir(parents=True)
    clients = list(client_parties(cfg))
    vertical_parties = [cfg.roles(RF_PIPELINE).guest, *cfg.roles(RF_PIPELINE).hosts]
    models: Dict[str, Dict[str, Any]] = {}
    leave_attack_out = profile.fusion["weight_from"] == HOLDOUT_SPLIT
    n_stages = (4 + len(profile.architectures) + int(profile.baselines) + int(profile.adaptation['method'] != 'none')
                + 1 + 3 * int(leave_attack_out))
    logs_root = str((project_root() / ".fate" / "flow" / "logs").relative_to(project_root()))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    with StageProgress(n_stages, enabled=show_progress) as progress:
        progress.say(f"FedIDS demo, profile {profile.name}, run {run_id} -> {run_dir}")

        def stage(name: str, work: Callable[[], Any]) -> Any:
            try:
                with progress.stage(name):
                    return work()
            except Exception as exc:  # a stage's failure ends the run with its job and log folder named
                from pipelines.homo_crnn import job_error_details

                record = progress.records[-1]
                job = record.job_ids[-1] if record.job_ids else None
                details = job_error_details(job) if job else ""
                component = f" in FATE task {record.task}" if record.task else ""
                where = f"{component}; FATE job {job}, logs: {logs_root}/{job}/" if job else ""
                raise DemoError(f"stage '{name}' failed{where}\n{type(exc).__name__}: {exc}"
                                + (f"\n{details}" if details and details not in str(exc) else "")) from exc

        dirs = stage("prepare data (vertical + horizontal, validation split)",
                     lambda: prepare_both_layouts(profile, Path(data_dir), run_dir, len(clients), seed))
        manifests = {layout: json.loads((path / "manifest.json").read_text()) for layout, path in dirs.items()}
        classes = list(manifests["vertical"]["classes"])
        stage("upload tables to FATE", lambda: upload_both(cfg, dirs))
        models["rf"] = stage("train + predict vertical RF", lambda: train_forest(cfg, dirs["vertical"], rf_params,
                                                                               run_dir, classes))
        for arch in profile.architectures:
            models[arch] = stage(f"train + predict federated {arch.upper()}",
                                 lambda arch=arch: train_federated_nn(cfg, dirs["horizontal"], crnn_params, arch,
                                                                      run_dir, classes))
        if profile.baselines:
            models.update(stage("centralized and local-only baselines",
                                lambda: train_baselines(dirs, rf_params, crnn_params, run_dir, classes,
                                                        vertical_parties, clients)))
        weight_records, weight_selection = None, None
        if leave_attack_out:
            weight_records, weight_selection = train_leave_attack_out_pair(
                cfg, profile, Path(data_dir), run_dir, clients, seed, rf_params, crnn_params, classes, stage)
        class_weights = {"rf": rf_params["class_weight"], "crnn": crnn_params.class_weight}
        fusion = stage("fuse RF and CRNN at A", lambda: fuse(run_dir, classes, profile.fusion, profile.adaptation,
                                                            seed, class_weights, weight_records))
        if weight_selection is not None:
            fusion["weight_selection"] = weight_selection
        calibrated = " of temperature-scaled probabilities" if profile.fusion["calibration"] == "temperature" else ""
        models["fusion_vote"] = {"kind": "federated", "family": "fusion",
                                 "label": f"fusion: soft vote{calibrated}, weight {fusion['weight_rf']:.2f} on RF"
                                 + (", chosen on held-out attack names" if leave_attack_out else "")}
        if (run_dir / "predictions" / "fusion_stacking.test.csv").is_file():
            models["fusion_stacking"] = {"kind": "federated", "family": "fusion",
                                         "label": f"fusion: stacking (logistic regression on RF + CRNN{calibrated})"}
        adaptation = None
        if profile.adaptation["method"] != "none":
            detectors = [m for m in ("rf", *profile.architectures, "fusion_vote", "fusion_stacking") if m in models]
            adaptation = stage("adapt to the test records' class mix at A",
                               lambda: adapt_detectors(run_dir, classes, detectors, profile.adaptation,
                                                       profile.fusion["calibration"], class_weights))
            for name in detectors:
                models[name + ADAPTED_SUFFIX] = {
                    "kind": "federated", "family": "adapted", "adapted_from": name,
                    "label": f"{models[name]['label']}; adapted to the scored records' class mix (EM)"}
        record = {
            "run_id": run_id, "profile": profile.name, "dataset": profile.dataset, "protocol": profile.protocol,
            "started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": _machine(),
            "classes": classes, "class_mapping": {c: i for i, c in enumerate(classes)},
            "config": {"demo": profile.to_dict(), "rf": rf_params, "crnn": crnn_params.to_dict(),
                       "parties": {"party_ids": cfg.party_ids, "flow": cfg.flow.url,
                                   "vertical_rf": cfg.roles(RF_PIPELINE).__dict__,
                                   "homo_crnn": cfg.roles("homo_crnn").__dict__}},
            "data": {layout: {"dir": str(path), "sources": manifests[layout]["sources"],
                              "rows": {p: {s: i["rows"] for s, i in e["splits"].items()}
                                       for p, e in manifests[layout]["parties"].items()}}
                     for layout, path in dirs.items()},
            "published_files": {role: {"file": str(path), "sha256": sha256_of(path)}
                                for role, path in original_files(profile, Path(data_dir)).items() if path},
            "models": models,
            "stages": progress.as_dicts(logs_root),
            "traffic": {name: models[name]["traffic"] for name in ("rf", *profile.architectures)
                        if "traffic" in models[name]},
            "fusion": fusion,
            "adaptation": adaptation,
            "paper_claims": load_paper_claims(),
        }
        (run_dir / "run.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        report_dir = None
        if build is not None:
            report_dir = Path(reports_dir) / run_id
            # run.json is final before the report is written: `fedids report` rebuilds the same report
            stage("write the report", lambda: build(run_dir, report_dir))
    return DemoResult(run_id=run_id, run_dir=run_dir, report_dir=report_dir,
                      headline=headline(run_dir, classes, report_dir))


def headline(run_dir: Path, classes: Sequence[str], report_dir: Optional[Path] = None) -> List[str]:
    """The test-split table printed at the end (accuracy, macro-F1, AUC of every model, in run.json's
    order) and the fusion's margins over rf and crnn; read from the report's metrics.json when there is
    one, so the numbers printed are the report's."""
    metrics_json = Path(report_dir) / "metrics.json" if report_dir is not None else None
    if metrics_json is not None and metrics_json.is_file():
        doc = json.loads(metrics_json.read_text(encoding="utf-8"))
        test, fusion = doc["splits"]["test"], doc.get("headline", {}).get("fusion", {})
    else:
        from benchmarks.metrics import classification_metrics
        from fedids.fusion import probability_columns

        test, fusion = {}, {}
        for path in sorted((run_dir / "predictions").glob("*.test.csv")):
            frame = pd.read_csv(path)
            m = classification_metrics(frame["label"].to_numpy(), frame[probability_columns(classes)].to_numpy(),
                                       classes)
            test[path.name.split(".")[0]] = {"accuracy": m["accuracy"], "f1_macro": m["macro_f1"],
                                             "auc_macro": m["auc_ovr_macro"]}
    run_json = run_dir / "run.json"
    order = list(json.loads(run_json.read_text(encoding="utf-8")).get("models", {})) if run_json.is_file() else []
    names = [m for m in order if m in test] + sorted(m for m in test if m not in order)
    lines = [f"{'model':<24} {'accuracy':>9} {'macro-F1':>9} {'AUC':>7}"]
    for name in names:
        m = test[name]
        auc = f"{m['auc_macro']:>7.4f}" if isinstance(m.get("auc_macro"), (int, float)) else f"{'-':>7}"
        lines.append(f"{name:<24} {m['accuracy']:>9.4f} {m['f1_macro']:>9.4f} {auc}")
    for fused, margins in fusion.items():
        points = "; ".join(
            f"{label} {' / '.join(f'{v:+.2f}' for v in margins[f'{key}_points'].values())}"
            for key, label in (("accuracy", "accuracy"), ("f1_macro", "macro-F1")))
        beats = " and ".join({"f1_macro": "macro-F1"}.get(k, k) for k in margins["beats_both_on"]) or "neither metric"
        lines.append(f"{fused} vs {' / '.join(margins['accuracy_points'])}: {points} points; beats both on {beats}")
    return lines
