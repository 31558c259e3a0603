"""`fedids predict --model RUN_ID --input FILE`: score new records with a run's deployed models.

The input has the training data set's format. It is loaded and checked by the data layer
(its errors name the file and line), given ids in file order, and partitioned the way the
run's training data was: vertically (A's columns, B's columns, label only at A when the
file has one) for the forest, horizontally (alternate records at clients A and B) for the
CRNN. Each party's table is transformed with that party's preprocessor from the run (fitted
on training rows only), uploaded (all or nothing, content-hashed names), and scored by FATE
predict jobs of the run's deployed pipelines; A fuses the two by id with the run's fusion.
Output: one row per record: id, the fused prediction, each class's fused probability, and
what the forest, the CRNN and the stacking model said.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd

from data_upload.errors import DataError
from data_upload.manifest import sha256_of
from fedids.config import PartiesConfig
from fedids.fusion import FusedDetector, join_by_id


class PredictError(RuntimeError):
    """The run cannot score records (unfinished run, missing model files); the message says which file."""


def load_run(runs_dir: Path, run_id: str) -> Dict[str, Any]:
    run_dir = Path(runs_dir) / run_id
    record_path = run_dir / "run.json"
    if not record_path.is_file():
        raise PredictError(f"{record_path} not found: {run_id} is not a finished run (run `fedids demo` first)")
    for needed in ("pipelines/rf.pkl", "pipelines/crnn.pkl", "fusion.json"):
        if not (run_dir / needed).is_file():
            raise PredictError(f"{run_dir / needed} not found: the run has no deployed model to predict with")
    return json.loads(record_path.read_text(encoding="utf-8"))


def _manifest(path: Path) -> Dict[str, Any]:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def party_tables(raw: pd.DataFrame, record: Dict[str, Any]) -> Dict[str, Dict[str, pd.DataFrame]]:
    """Each party's transformed table per layout: {"vertical": {A: ..., B: ...}, "horizontal": {...}}."""
    from data_upload.preprocess import Preprocessor

    out: Dict[str, Dict[str, pd.DataFrame]] = {}
    for layout in ("vertical", "horizontal"):
        data_dir = Path(record["data"][layout]["dir"])
        manifest = _manifest(data_dir)
        tables = {}
        parties = list(manifest["parties"])
        for i, party in enumerate(parties):
            pre = Preprocessor.load(data_dir / manifest["parties"][party]["preprocessor"])
            rows = raw if layout == "vertical" else raw.iloc[i::len(parties)]
            tables[party] = pre.transform(rows).reset_index(drop=True)
        out[layout] = tables
    return out


def _upload(cfg: PartiesConfig, run_id: str, tables: Dict[str, Dict[str, pd.DataFrame]], work: Path
            ) -> Dict[str, Dict[str, Any]]:
    """Write and upload every party table (all or nothing); TableRefs by layout and party."""
    from data_upload.fate_upload import FlowTables, TableRef, TableUpload, table_meta, upload_tables

    uploads, refs = [], {}
    for layout, by_party in tables.items():
        refs[layout] = {}
        for party, frame in by_party.items():
            path = work / f"{layout}_{party}.csv"
            frame.to_csv(path, index=False, float_format="%.10g")
            digest = sha256_of(path)[:8]
            ref = TableRef("fedids_predict", f"{run_id.replace('-', '_')}_{layout}_{party}_{digest}")
            label = "label" if "label" in frame else None
            uploads.append(TableUpload(file=str(path), table=ref, meta=table_meta("id", label), expected_rows=len(frame)))
            refs[layout][party] = ref
    upload_tables(FlowTables(cfg.flow), uploads)
    return refs


def adapt_to_batch(detector: FusedDetector, fused: np.ndarray, adapt: bool = False) -> np.ndarray:
    """With ``adapt``, the fused probabilities re-weighted to the batch's own class mix (EM,
    fedids/label_shift.py) with the run's adaptation settings; a batch under ``min_records`` is too
    small to estimate a mix from and keeps the trained one (a note says so). Off by default: on
    KDDTest+ the unseen attacks look like normal traffic, EM under-estimates them and the fused
    detector loses accuracy (benchmarks/RESULTS.md)."""
    from fedids.label_shift import adapt_to_priors

    settings = detector.adaptation or {}
    if not adapt or settings.get("method", "none") == "none" or not detector.trained_priors:
        return fused
    if len(fused) < int(settings["min_records"]):
        print(f"note: {len(fused)} records are fewer than adaptation.min_records ({settings['min_records']}); "
              "the trained class mix is kept (no label-shift adaptation)")
        return fused
    return adapt_to_priors(fused, np.asarray(detector.trained_priors), settings["max_iter"], settings["tol"]).proba


def predict_file(cfg: PartiesConfig, runs_dir: Path, run_id: str, input_file: Path, out_file: Optional[Path] = None,
                 adapt: bool = False) -> pd.DataFrame:
    """Score ``input_file`` with run ``run_id``'s deployed forest and CRNN, fuse (with ``adapt``, adapted to
    the file's class mix when the run recorded how), write and return the rows."""
    from fate_client.pipeline import FateFlowPipeline

    from data_upload.loaders import LoadOptions, load_dataset
    from pipelines.homo_crnn import predict_deployed
    from pipelines.vertical_rf import predict_tables

    record = load_run(runs_dir, run_id)
    run_dir = Path(runs_dir) / run_id
    classes: List[str] = record["classes"]
    taxonomy = _manifest(Path(record["data"]["vertical"]["dir"]))["taxonomy"]
    options = LoadOptions(classes=taxonomy["mode"], httptunnel_class=taxonomy.get("httptunnel_class") or "U2R",
                          unknown_label=taxonomy["unknown_label"])
    raw = load_dataset(record["dataset"], Path(input_file), options)
    if len(raw) == 0:
        raise DataError("the file has no records to score", file=input_file)
    raw.insert(0, "id", np.arange(len(raw), dtype=np.int64))
    work = run_dir / "predict" / sha256_of(input_file)[:12]
    work.mkdir(parents=True, exist_ok=True)
    refs = _upload(cfg, run_id, party_tables(raw, record), work)

    from fedids.demo import fate_predictions

    rf_pipeline = FateFlowPipeline.load_model(str(run_dir / "pipelines" / "rf.pkl"))
    _, rf_frame = predict_tables(cfg, rf_pipeline, ["psi_0", "rf_0"], refs["vertical"], deploy=False)
    crnn_pipeline = FateFlowPipeline.load_model(str(run_dir / "pipelines" / "crnn.pkl"))
    _, crnn_frames = predict_deployed(cfg, crnn_pipeline, refs["horizontal"])
    rf = fate_predictions(rf_frame, classes)
    crnn = fate_predictions(pd.concat([f for f in crnn_frames.values() if f is not None], ignore_index=True), classes)
    ids, _, p_rf, p_crnn = join_by_id(rf.drop(columns=["label"], errors="ignore"),
                                      crnn.drop(columns=["label"], errors="ignore"), classes)
    detector = FusedDetector.load(run_dir / "fusion.json")
    fused = adapt_to_batch(detector, detector.vote(p_rf, p_crnn), adapt)
    out = pd.DataFrame({"id": ids, "predicted": np.asarray(classes)[fused.argmax(1)]})
    for i, c in enumerate(classes):
        out[f"p_{c}"] = fused[:, i]
    out["rf_predicted"] = np.asarray(classes)[p_rf.argmax(1)]
    out["crnn_predicted"] = np.asarray(classes)[p_crnn.argmax(1)]
    if detector.stacking_coef is not None:
        out["stacking_predicted"] = np.asarray(classes)[detector.stack(p_rf, p_crnn).argmax(1)]
    in_file = raw.set_index("id").loc[ids]
    if "traffic_class" in in_file:  # the file's own label, when it has one: for checking, never used to predict
        out["class_in_file"] = in_file["traffic_class"].astype(str).to_numpy()
    if "attack_name" in in_file:
        out["attack_name_in_file"] = in_file["attack_name"].astype(str).to_numpy()
    out_file = Path(out_file) if out_file else work / "predictions.csv"
    out.to_csv(out_file, index=False, float_format="%.6g")
    return out
