"""Builds the evaluation report of one finished run directory (docs/run-directory.md).

It reads only the run directory (run.json, predictions/*.csv, curves/*.json, fusion.json), so a
report can be rebuilt anywhere without FATE Flow. The sections are assembled once as a list of
blocks and rendered twice: report.md (figures linked from figures/) and report.html (the same
figures embedded as base64, no external file, no JavaScript). Every number goes to metrics.json.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import yaml

from fedids.audit_view import largest_messages
from fedids.fusion import HOLDOUT_SPLIT
from fedids.label_shift import ADAPTED_SUFFIX
from report.figures import figure_name, fusion_weight_figure, write_figures
from report.metrics import load_predictions, model_metrics

ABLATION_MODELS = ("cnn", "rnn", "crnn", "rf", "fusion_vote", "fusion_stacking")
FUSED_MODELS = ("fusion_vote", "fusion_stacking")
SINGLE_FEDERATED = ("rf", "crnn")
REPORT_SPLIT = "test"
VALID_SPLIT = "valid"
PAPER_ACCURACY = 0.999
FATE_LOG_DIR = ".fate/flow/logs"
FIGURES_DIR = "figures"


class ReportError(Exception):
    """The run directory cannot be reported on; the message names the file at fault."""


class UnfinishedRunError(ReportError):
    """No run directory, or no run.json in it (run.json is written last: the run did not finish)."""


# --------------------------------------------------------------------------- the run directory


@dataclass
class RunData:
    """What the report needs from a run directory, read once."""

    run_dir: Path
    run: Dict[str, Any]
    classes: List[str]
    models: Dict[str, Dict[str, Any]]
    predictions: Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray]]]
    curves: Dict[str, List[Dict[str, Any]]]
    fusion: Dict[str, Any]
    fusion_source: str

    def label(self, model: str) -> str:
        return str(self.models.get(model, {}).get("label") or model)

    def named(self, model: str) -> str:
        """`model` (label), the way every model is shown in the report."""
        return f"`{model}` ({self.label(model)})"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot be read as JSON ({exc})") from None


def read_run(run_dir: Path) -> RunData:
    """Read a finished run directory; UnfinishedRunError when it is missing or has no run.json."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UnfinishedRunError(
            f"{run_dir}: no such run directory, so it is not a finished run (a finished run holds run.json)"
        )
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise UnfinishedRunError(
            f"{run_json} does not exist: {run_dir} is not a finished run (run.json is written last)"
        )
    run = _read_json(run_json)
    classes = run.get("classes") if isinstance(run, dict) else None
    if not isinstance(classes, list) or not classes:
        raise ReportError(f"{run_json}: no list of classes under 'classes'")
    classes = [str(name) for name in classes]

    predictions: Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray]]] = {}
    for path in sorted((run_dir / "predictions").glob("*.csv")):
        model, _, split = path.stem.rpartition(".")
        if not model:
            continue  # not MODEL.SPLIT.csv
        try:
            y_true, proba, _ids = load_predictions(path, classes)
        except ValueError as exc:
            raise ReportError(str(exc)) from None
        predictions.setdefault(split, {})[model] = (y_true, proba)

    curves: Dict[str, List[Dict[str, Any]]] = {}
    for path in sorted((run_dir / "curves").glob("*.json")):
        points = _read_json(path)
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            raise ReportError(f"{path}: expected a list of {{epoch, loss, accuracy, seconds}} objects")
        curves[path.stem] = points

    fusion_json = run_dir / "fusion.json"
    if fusion_json.is_file():
        fusion, fusion_source = _read_json(fusion_json), "fusion.json"
        if not isinstance(fusion, dict):
            raise ReportError(f"{fusion_json}: expected a JSON object (weight_rf, select_by, ...)")
    else:
        fusion = dict(run.get("fusion") or {})
        fusion_source = "run.json (no fusion.json in the run directory)"

    models = {name: dict(entry or {}) for name, entry in (run.get("models") or {}).items()}
    for split_models in predictions.values():
        for name in split_models:
            models.setdefault(name, {"kind": "not in run.json", "label": name})
    curves = {name: curves[name] for name in [*models, *curves] if name in curves}  # in run.json's order
    return RunData(run_dir, run, classes, models, predictions, curves, fusion, fusion_source)


# --------------------------------------------------------------------------- document blocks


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str


@dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


Block = Union[Heading, Paragraph, Table, Figure, Code]


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{float(value):.{digits}f}"


def _points(delta: float) -> str:
    """A difference of two fractions in percentage points, signed: +0.84."""
    return f"{100.0 * delta:+.2f}"


def _bytes(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return _num(value)
    size, unit = float(value), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            break
        size /= 1024.0
    return f"{value:,.0f} B" if unit == "B" else f"{value:,.0f} B ({size:.1f} {unit})"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False, default=str)


def _records(metrics: Mapping[str, Dict[str, Any]], models: Sequence[str]) -> str:
    """How many records the numbers rest on; a range if the models' prediction files differ."""
    sizes = sorted({int(metrics[m]["n"]) for m in models})
    if len(sizes) == 1:
        return f"{sizes[0]:,} records"
    return f"{sizes[0]:,} to {sizes[-1]:,} records depending on the model"


def _kind(entry: Mapping[str, Any]) -> str:
    """federated / centralized / local / other, from run.json's free-text kind."""
    kind = str(entry.get("kind", "")).lower()
    if kind.startswith("federated"):
        return "federated"
    if kind.startswith("central"):
        return "centralized"
    if kind.startswith("local"):
        return "local"
    return "other"


def _family(name: str, entry: Mapping[str, Any]) -> str:
    """run.json's family, or the model name without central_/local_ and the party suffix."""
    if entry.get("family"):
        return str(entry["family"])
    if name.startswith("central_"):
        return name[len("central_"):]
    if name.startswith("local_"):
        return re.sub(r"_[^_]+$", "", name[len("local_"):])
    return name


# --------------------------------------------------------------------------- sections


def _title(data: RunData, test: Mapping[str, Dict[str, Any]], numbers: Dict[str, Any]) -> List[Block]:
    run = data.run
    machine = run.get("machine") or {}
    date = machine.get("date") or str(run.get("started") or "")[:10] or "unknown"
    blocks: List[Block] = [
        Heading(1, f"FedIDS report: run {run.get('run_id', data.run_dir.name)}"),
        Paragraph(
            f"Profile `{run.get('profile', '?')}` · data set `{run.get('dataset', '?')}` · "
            f"protocol `{run.get('protocol', '?')}` · date {date}"
        ),
    ]
    headline: Dict[str, Any] = {}
    numbers["headline"] = headline
    if not test:
        blocks.append(Paragraph(
            "**Headline.** No model has predictions on the test split in this run directory "
            "(predictions/MODEL.test.csv), so there is nothing to rank."
        ))
        return blocks

    def best(models: Sequence[str], key: str) -> str:
        return max(models, key=lambda m: test[m][key])

    everyone = list(test)
    best_acc, best_f1 = best(everyone, "accuracy"), best(everyone, "f1_macro")
    headline["best_accuracy"] = {"model": best_acc, "accuracy": test[best_acc]["accuracy"]}
    headline["best_f1_macro"] = {"model": best_f1, "f1_macro": test[best_f1]["f1_macro"]}
    text = [
        f"**Headline.** On the test split ({_records(test, everyone)}) the best model by accuracy is "
        f"{data.named(best_acc)} at {test[best_acc]['accuracy']:.4f}, and the best by macro-F1 is "
        f"{data.named(best_f1)} at {test[best_f1]['f1_macro']:.4f}."
    ]
    federated = [m for m in everyone if _kind(data.models.get(m, {})) == "federated"]
    if federated and {best_acc, best_f1} - set(federated):
        fed_acc, fed_f1 = best(federated, "accuracy"), best(federated, "f1_macro")
        text.append(
            f"Among federated models the best are {data.named(fed_acc)} by accuracy "
            f"({test[fed_acc]['accuracy']:.4f}) and {data.named(fed_f1)} by macro-F1 "
            f"({test[fed_f1]['f1_macro']:.4f})."
        )
    fused_present = [m for m in FUSED_MODELS if m in test]
    singles_missing = [m for m in SINGLE_FEDERATED if m not in test]
    headline["fusion"] = {}
    if not fused_present:
        text.append(
            "There is no fused detector (`fusion_vote`, `fusion_stacking`) with test predictions in this run."
        )
    for fused in fused_present:
        if singles_missing:
            text.append(
                f"The fused detector {data.named(fused)} cannot be compared with both single federated "
                f"models: no test predictions for {', '.join(f'`{m}`' for m in singles_missing)}."
            )
            continue
        text.append(_fusion_sentence(data, test, fused, headline["fusion"]))
    adapted_singles = tuple(m + ADAPTED_SUFFIX for m in SINGLE_FEDERATED)
    for fused in (m + ADAPTED_SUFFIX for m in FUSED_MODELS):
        if fused in test and all(m in test for m in adapted_singles):
            text.append(_fusion_sentence(data, test, fused, headline["fusion"], adapted_singles))
    blocks.append(Paragraph(" ".join(text)))
    return blocks


def _fusion_sentence(
    data: RunData, test: Mapping[str, Dict[str, Any]], fused: str, numbers: Dict[str, Any],
    singles: Tuple[str, str] = SINGLE_FEDERATED,
) -> str:
    """Does the fused detector beat both single models (rf, crnn) on accuracy or macro-F1, by how many points."""
    names = {"accuracy": "accuracy", "f1_macro": "macro-F1"}
    deltas = {
        key: {single: test[fused][key] - test[single][key] for single in singles} for key in names
    }
    beaten = [key for key in names if all(d > 0 for d in deltas[key].values())]
    numbers[fused] = {
        **{f"{key}_points": {s: 100.0 * d for s, d in deltas[key].items()} for key in names},
        "beats_both_on": beaten,
    }

    first, second = singles

    def phrase(key: str, word: str) -> str:
        first_delta, second_delta = (deltas[key][s] for s in singles)
        return f"{_points(first_delta)} points {names[key]} {word} `{first}`, {_points(second_delta)} {word} `{second}`"

    if not beaten:
        return (
            f"The fused detector {data.named(fused)} does not beat both single federated models `{first}` and "
            f"`{second}` on accuracy or on macro-F1 ({phrase('accuracy', 'vs')}; {phrase('f1_macro', 'vs')})."
        )
    sentence = (
        f"The fused detector {data.named(fused)} beats both single federated models `{first}` and `{second}` on "
        f"{' and '.join(names[k] for k in beaten)}: {'; '.join(phrase(k, 'over') for k in beaten)}"
    )
    rest = [key for key in names if key not in beaten]
    if rest:
        sentence += f"; on {names[rest[0]]} it does not ({phrase(rest[0], 'vs')})"
    return sentence + "."


_ABLATION_HEADERS = (
    "model", "P (macro)", "R (macro)", "F1 (macro)", "P (weighted)", "R (weighted)", "F1 (weighted)",
    "ACC", "AUC (macro)", "AUC (weighted)",
)
_ABLATION_KEYS = (
    "precision_macro", "recall_macro", "f1_macro", "precision_weighted", "recall_weighted", "f1_weighted",
    "accuracy", "auc_macro", "auc_weighted",
)


def _skipped_note(metrics: Mapping[str, Dict[str, Any]], models: Sequence[str]) -> List[Block]:
    skipped = {m: metrics[m]["auc_classes_skipped"] for m in models if metrics[m]["auc_classes_skipped"]}
    if not skipped:
        return []
    listed = "; ".join(f"`{m}`: {', '.join(classes)}" for m, classes in skipped.items())
    return [Paragraph(
        "AUC averages leave out classes absent from the split (no one-vs-rest AUC exists for them): "
        f"{listed}."
    )]


def _ablation(data: RunData, test: Mapping[str, Dict[str, Any]], ablation: Sequence[str]) -> List[Block]:
    blocks: List[Block] = [Heading(2, "Ablation (paper Table 3)")]
    if not ablation:
        return blocks + [Paragraph(
            f"None of the ablation models ({', '.join(f'`{m}`' for m in ABLATION_MODELS)}) "
            "has test predictions."
        )]
    blocks.append(Paragraph(
        f"Test split, {_records(test, ablation)}; the predicted class is the argmax of the probabilities. "
        "Macro averages weigh every class alike, weighted averages weigh each class by its support; "
        "AUC is one vs rest."
    ))
    rows = [
        [data.named(m), *(_num(test[m][key]) for key in _ABLATION_KEYS)] for m in ablation
    ]
    blocks.append(Table(_ABLATION_HEADERS, rows))
    return blocks + _skipped_note(test, ablation)


def _per_class(data: RunData, test: Mapping[str, Dict[str, Any]], ablation: Sequence[str]) -> List[Block]:
    blocks: List[Block] = [Heading(2, "Per class (paper Table 6)")]
    if not ablation:
        return blocks + [Paragraph("No ablation model has test predictions.")]
    blocks.append(Paragraph(
        "Test split. ACC is the one-vs-rest accuracy of the class, (TP + TN) / N; AUC is n/a for a class "
        "absent from the split."
    ))
    for model in ablation:
        blocks += [Heading(3, data.named(model)), _per_class_table(data, test[model])]
    return blocks


def _per_class_table(data: RunData, metrics: Mapping[str, Any]) -> Table:
    rows = []
    for name in data.classes:
        c = metrics["per_class"][name]
        rows.append([name, *(_num(c[k]) for k in ("precision", "recall", "f1", "accuracy", "auc")),
                     _num(c["support"])])
    return Table(("class", "P", "R", "F1", "ACC (one vs rest)", "AUC (one vs rest)", "support"), rows)


def _settings(
    data: RunData, test: Mapping[str, Dict[str, Any]], numbers: Dict[str, Any]
) -> List[Block]:
    blocks: List[Block] = [
        Heading(2, "Federated vs centralized vs local-only"),
        Paragraph("Test split, every model of the run; kind and label as recorded in run.json."),
    ]
    rows = []
    for model, entry in data.models.items():
        kind = str(entry.get("kind", "?"))
        if model in test:
            m = test[model]
            rows.append([f"`{model}`", data.label(model), kind,
                         *(_num(m[k]) for k in ("accuracy", "f1_macro", "f1_weighted", "auc_macro"))])
        else:
            rows.append([f"`{model}`", data.label(model), kind, "no test predictions", "-", "-", "-"])
    headers = ("model", "label", "kind", "ACC", "F1 (macro)", "F1 (weighted)", "AUC (macro)")
    blocks.append(Table(headers, rows))

    families: Dict[str, Dict[str, List[str]]] = {}
    for model, entry in data.models.items():
        if model in test:
            group = families.setdefault(_family(model, entry), {})
            group.setdefault(_kind(entry), []).append(model)
    numbers["federation"] = {}
    for family, group in families.items():
        if not group.get("local") and not group.get("centralized"):
            continue
        sentence = _family_sentence(data, test, family, group, numbers["federation"])
        if sentence:
            blocks.append(Paragraph(sentence))
    return blocks


def _family_sentence(
    data: RunData, test: Mapping[str, Dict[str, Any]], family: str, group: Mapping[str, List[str]],
    numbers: Dict[str, Any],
) -> str:
    """What federation buys over the best local-only model, and costs against the centralized one."""
    federated = group.get("federated", [])
    if not federated:
        return f"Family `{family}`: no federated model with test predictions, so no comparison."

    def f1(model: str) -> float:
        return float(test[model]["f1_macro"])

    fed = family if family in federated else max(federated, key=f1)
    entry: Dict[str, Any] = {"federated": fed, "f1_macro": f1(fed)}
    numbers[family] = entry
    parts = [f"Family `{family}`: federated {data.named(fed)} reaches macro-F1 {f1(fed):.4f}."]
    if group.get("local"):
        local = max(group["local"], key=f1)
        gain = f1(fed) - f1(local)
        entry.update(best_local=local, gain_over_best_local_points=100.0 * gain)
        if gain > 0:
            parts.append(f"Federation buys {_points(gain)} points macro-F1 over the best local-only model, "
                         f"{data.named(local)} ({f1(local):.4f}).")
        else:
            parts.append(f"Federation buys nothing here: the best local-only model, {data.named(local)} "
                         f"({f1(local):.4f}), is {abs(100.0 * gain):.2f} points macro-F1 ahead or level.")
    if group.get("centralized"):
        central = max(group["centralized"], key=f1)
        cost = f1(central) - f1(fed)
        entry.update(centralized=central, cost_vs_centralized_points=100.0 * cost)
        against = f"Against the centralized baseline {data.named(central)} ({f1(central):.4f}) it costs"
        if cost > 0:
            parts.append(f"{against} {100.0 * cost:.2f} points macro-F1.")
        else:
            parts.append(f"{against} nothing: it is {abs(100.0 * cost):.2f} points macro-F1 ahead or level.")
    return " ".join(parts)


def _claim_keys(metric: str) -> Tuple[str, ...]:
    """Our metric keys for a metric name of paper_claims; an unqualified P/R/F1/AUC maps to both
    averages, because the paper does not say which one it used."""
    key = re.sub(r"[\s-]+", "_", metric.strip().lower())
    for long, short in (("f1_score", "f1"), ("f_score", "f1"), ("roc_auc", "auc"), ("auc_roc", "auc"),
                        ("auc_ovr", "auc")):
        key = key.replace(long, short)
    if key in ("acc", "accuracy"):
        return ("accuracy",)
    for base in ("precision", "recall", "f1", "auc"):
        for average in ("macro", "weighted"):
            if key in (f"{base}_{average}", f"{average}_{base}"):
                return (f"{base}_{average}",)
        if key == base:
            return (f"{base}_macro", f"{base}_weighted")
    return ()


def _claims(
    data: RunData, test: Mapping[str, Dict[str, Any]], numbers: Dict[str, Any]
) -> List[Block]:
    blocks: List[Block] = [
        Heading(2, "Paper's claims (not our measurements)"),
        Paragraph(
            "Figures the paper reports (run.json `paper_claims`), kept apart from every other table. Beside "
            "each, our value for the same model and metric on this run's test split."
        ),
    ]
    claims = data.run.get("paper_claims") or {}
    rows: List[List[str]] = []
    recorded: List[Dict[str, Any]] = []
    for model, entry in claims.items():
        if not isinstance(entry, Mapping):
            continue
        source = str(entry.get("source", "-"))
        for metric, claimed in entry.items():
            if metric == "source":
                continue
            keys = _claim_keys(metric)
            measured: Dict[str, Any] = {}
            if model not in test:
                shown, basis = "not measured (no test predictions)", "-"
            elif not keys:
                shown, basis = "no matching measurement", "-"
            else:
                measured = {k: test[model][k] for k in keys}
                shown = " / ".join(_num(v) for v in measured.values())
                basis = " / ".join(keys)
            name = data.named(model) if model in data.models else f"`{model}`"
            rows.append([name, metric, str(claimed), shown, basis, source])  # the paper's number as printed
            recorded.append({"model": model, "metric": metric, "claimed": claimed, "measured": measured,
                             "source": source})
    numbers["paper_claims"] = recorded
    if rows:
        blocks.append(Table(
            ("model", "metric", "claimed (paper)", "measured (this run)", "measured as", "source"), rows
        ))
    else:
        blocks.append(Paragraph("run.json holds no paper claims."))

    protocol = data.run.get("protocol")
    federated = [m for m in data.models if _kind(data.models[m]) == "federated" and m in test]
    if protocol == "split":
        reached = {m: bool(test[m]["accuracy"] >= PAPER_ACCURACY) for m in federated}
        numbers["paper_accuracy_reached"] = reached
        listed = "; ".join(
            f"`{m}` {test[m]['accuracy']:.4f}: {'yes' if reached[m] else 'no'}" for m in federated
        ) or "no federated model has test predictions"
        blocks.append(Paragraph(
            f"This run uses protocol `split`, the paper's 80/20 split of the training set. Whether each "
            f"federated model reached the paper's {PAPER_ACCURACY} accuracy here "
            f"(measured accuracy: yes or no): {listed}."
        ))
    else:
        blocks.append(Paragraph(
            f"The paper's {PAPER_ACCURACY} accuracy figures refer to an 80/20 split of the training set, "
            f"not to this run's protocol `{protocol}`, so the two are not the same experiment: "
            "see a run with `--protocol split` for that comparison."
        ))
    return blocks


def _figures(data: RunData, figure_models: Sequence[str], figures_dir: Path) -> List[Block]:
    blocks: List[Block] = [Heading(2, "Confusion matrices (paper Figure 7)")]
    if not figure_models:
        blocks.append(Paragraph("No ablation or fused model has test predictions."))
    for model in figure_models:
        caption = f"Confusion matrix of {data.named(model)}, test split (colour: share of the true class)"
        blocks.append(Figure(figures_dir / figure_name("confusion", model), caption))
    blocks.append(Heading(2, "ROC curves"))
    if not figure_models:
        blocks.append(Paragraph("No ablation or fused model has test predictions."))
    for model in figure_models:
        blocks.append(Figure(figures_dir / figure_name("roc", model),
                             f"One-vs-rest ROC curves of {data.named(model)}, test split"))
    return blocks


def _learning_curve(data: RunData, curve_path: Optional[Path], numbers: Dict[str, Any]) -> List[Block]:
    blocks: List[Block] = [Heading(2, "Learning curve (paper Figure 6)")]
    if curve_path is None:
        return blocks + [Paragraph("No learning curves in this run (curves/ holds no MODEL.json).")]
    blocks.append(Figure(curve_path, "Loss and accuracy per epoch of every model with a learning curve"))
    rows = []
    numbers["learning_curves_last_epoch"] = {}
    for model, points in data.curves.items():
        if not points:
            continue
        last = points[-1]
        numbers["learning_curves_last_epoch"][model] = last
        rows.append([data.named(model), _num(len(points)), _num(last.get("epoch")), _num(last.get("loss")),
                     _num(last.get("accuracy")), _num(last.get("seconds"), 1)])
    blocks.append(Paragraph("The last epoch of each curve, as recorded in curves/MODEL.json."))
    blocks.append(Table(("model", "epochs", "last epoch", "loss", "accuracy", "seconds (as recorded)"), rows))
    return blocks


def _candidates_table(candidates: Any, chosen: Any, select_by: Any, score_se: Any, split: str = VALID_SPLIT
                      ) -> Optional[Table]:
    """fusion.json's candidate weights with their score on ``split`` and, under the 1-SE rule, whether each was kept."""
    if not (isinstance(candidates, list) and candidates and isinstance(select_by, str)
            and all(isinstance(c, Mapping) and "weight_rf" in c and select_by in c for c in candidates)):
        return None
    best = max(float(c[select_by]) for c in candidates)
    with_se = isinstance(score_se, (int, float))
    columns = ("weight on rf", f"{split} {select_by}") + (("within 1 SE of best",) if with_se else ()) + ("chosen",)
    rows = []
    for c in candidates:
        row = [f"{float(c['weight_rf']):g}", _num(c[select_by])]
        if with_se:
            row.append("yes" if float(c[select_by]) >= best - float(score_se) - 1e-12 else "")
        rows.append(row + ["yes" if _same(c["weight_rf"], chosen) else ""])
    return Table(columns, rows)


def _same(a: Any, b: Any) -> bool:
    try:
        return a is not None and math.isclose(float(a), float(b), abs_tol=1e-9)
    except (TypeError, ValueError):
        return False


def fusion_test_sweep(data: RunData) -> Optional[Dict[str, Any]]:
    """The soft vote's test scores at every candidate weight, from rf's and crnn's test predictions joined
    by id; None without candidates in fusion.json or without both prediction files."""
    import pandas as pd

    from fedids.fusion import calibrate_inputs, join_by_id, weight_sweep

    candidates = data.fusion.get("candidates") if data.fusion else None
    files = [data.run_dir / "predictions" / f"{m}.{REPORT_SPLIT}.csv" for m in SINGLE_FEDERATED]
    if not (isinstance(candidates, list) and candidates and all(isinstance(c, Mapping) and "weight_rf" in c
                                                               for c in candidates)) \
            or not all(f.is_file() for f in files):
        return None
    weights = [float(c["weight_rf"]) for c in candidates]
    try:
        _ids, y, p_rf, p_crnn = join_by_id(pd.read_csv(files[0]), pd.read_csv(files[1]), data.classes)
    except KeyError as exc:
        raise ReportError(f"{files[0]} / {files[1]}: missing column {exc} (id, label, p_<class>)") from None
    if y is None or len(y) == 0:
        return None
    temperatures = data.fusion.get("temperatures")
    # the vote is of the probabilities as the fusion scaled them
    p_rf, p_crnn = calibrate_inputs(temperatures if isinstance(temperatures, Mapping) else None, p_rf, p_crnn)
    scores = weight_sweep(y, p_rf, p_crnn, weights, len(data.classes))
    sweep: Dict[str, Any] = {"weights": weights, "records": int(len(y)),
                             "test": {m: scores[m].tolist() for m in ("accuracy", "macro_f1")}}
    trained, settings = data.fusion.get("trained_priors"), data.fusion.get("adaptation")
    if trained and isinstance(settings, Mapping) and settings.get("method") == "em":
        sweep["test"].update(_adapted_sweep(y, p_rf, p_crnn, weights, trained, settings, len(data.classes)))
    metric = data.fusion.get("select_by")
    if isinstance(metric, str) and all(metric in c for c in candidates):
        sweep["valid"] = {"metric": metric, "scores": [float(c[metric]) for c in candidates]}
    return sweep


def _adapted_sweep(y: np.ndarray, p_rf: np.ndarray, p_crnn: np.ndarray, weights: Sequence[float],
                   trained: Sequence[float], settings: Mapping[str, Any], n_classes: int) -> Dict[str, List[float]]:
    """The vote at every weight, each adapted to the test records' class mix as `fusion_vote_adapted` is."""
    from fedids.fusion import resampled_scores
    from fedids.label_shift import adapt_to_priors

    whole = np.arange(len(y))[None, :]
    out: Dict[str, List[float]] = {"accuracy (adapted)": [], "macro_f1 (adapted)": []}
    for w in weights:
        adapted = adapt_to_priors(w * p_rf + (1 - w) * p_crnn, np.asarray(trained, dtype=float),
                                  int(settings["max_iter"]), float(settings["tol"])).proba.argmax(axis=1)
        for metric in ("accuracy", "macro_f1"):
            out[f"{metric} (adapted)"].append(float(resampled_scores(y, adapted, whole, metric, n_classes)[0]))
    return out


def _sweep_blocks(data: RunData, sweep: Mapping[str, Any], figures_dir: Path, numbers: Dict[str, Any]) -> List[Block]:
    """The test-by-weight diagnostic: how far the validation-chosen weight is from the best weight in hindsight."""
    weights, test = sweep["weights"], sweep["test"]
    chosen = data.fusion.get("weight_rf")
    rows, summary = [], {}
    for metric, scores in test.items():
        best = int(np.argmax(scores))
        at_chosen = next((s for w, s in zip(weights, scores) if _same(w, chosen)), None)
        beats = [w for w, s in zip(weights, scores) if s > max(scores[0], scores[-1])]
        summary[metric] = {"at_chosen": at_chosen, "best_in_hindsight": scores[best], "best_weight": weights[best],
                           "rf": scores[-1], "crnn": scores[0], "weights_beating_both": beats}
        rows.append([metric, _num(at_chosen) if at_chosen is not None else "-", _num(scores[best]),
                     f"{weights[best]:g}", _num(scores[-1]), _num(scores[0]),
                     f"{min(beats):g} to {max(beats):g} ({len(beats)} of {len(weights)})" if beats else "none"])
    numbers["fusion_test_sweep"] = {**sweep, "summary": summary}
    return [
        Heading(3, "Diagnostic: the soft vote on test at every weight"),
        Paragraph(f"Drawn after the weight was fixed on the {data.fusion.get('weight_chosen_on') or VALID_SPLIT} "
                  "split; nothing is chosen from it. It shows "
                  "how much the fused detector's test result depends on the weight, and how far the "
                  "validation choice is from the best weight in hindsight (which would be tuning on test). "
                  f"{sweep['records']} test records scored by both models; weight 1 is `rf` alone, 0 `crnn` alone. "
                  "Rows marked (adapted): the vote at each weight adapted to the test records' class mix, as "
                  "`fusion_vote_adapted` is (its ends are then `rf` and `crnn` adapted the same way)."),
        Table(("metric", "at the chosen weight", "best in hindsight", "at weight", "rf (weight 1)", "crnn (weight 0)",
               "weights beating both"), rows),
        Figure(figures_dir / "fusion_weights.png", "Soft vote by weight on rf: test accuracy and macro-F1 "
               "(dashed: the single models), the valid score it was chosen by, and the chosen weight"),
    ]


def _fusion(
    data: RunData, splits: Mapping[str, Dict[str, Dict[str, Any]]], numbers: Dict[str, Any],
    sweep: Optional[Mapping[str, Any]] = None, figures_dir: Optional[Path] = None,
) -> List[Block]:
    blocks: List[Block] = [Heading(2, "Fusion")]
    fusion = data.fusion
    if not fusion:
        return blocks + [Paragraph("This run has no fusion.json and no fusion entry in run.json.")]
    blocks.append(Paragraph(f"Source: {data.fusion_source}."))
    weight, select_by = fusion.get("weight_rf"), fusion.get("select_by")
    selection, score_se = fusion.get("selection"), fusion.get("score_se")
    chosen_on = str(fusion.get("weight_chosen_on") or VALID_SPLIT)
    if weight is not None:
        other = f"{1.0 - float(weight):.4g}" if isinstance(weight, (int, float)) else "1 - weight"
        scored_on = "validation" if chosen_on == VALID_SPLIT else f"`{chosen_on}`"
        if selection == "one_se" and isinstance(score_se, (int, float)):
            how = (f"by the one-standard-error rule on `{select_by}`: the weight nearest 0.5 among those "
                   f"within one bootstrap standard error ({score_se:.4f}) of the best {scored_on} score")
        else:
            how = f"by the best {scored_on} `{select_by or 'unrecorded'}`"
        temperatures = fusion.get("temperatures")
        scaled = ""
        if isinstance(temperatures, Mapping) and temperatures:
            scaled = (" temperature-scaled (" + ", ".join(f"`{m}` T = {float(t):.3f}" for m, t in temperatures.items())
                      + ", fitted on the valid split by log-likelihood)")
        where = ("the leave-attack-out split, described below," if chosen_on == HOLDOUT_SPLIT else "the valid split")
        blocks.append(Paragraph(
            f"Soft vote: `fusion_vote` = {weight} × `rf` + {other} × `crnn`{scaled} probabilities; "
            f"the weight for `rf` was chosen on {where} (never on test) {how}."
        ))
    else:
        blocks.append(Paragraph(f"No soft-vote weight recorded (selected by `{select_by or 'unrecorded'}`)."))
    if chosen_on == HOLDOUT_SPLIT:
        blocks += _leave_attack_out_blocks(data, splits, numbers)
    table = _candidates_table(fusion.get("candidates"), weight, select_by, score_se, chosen_on)
    if table is not None:
        blocks += [Paragraph(f"Score of every candidate weight on the {chosen_on} split:"), table]
    rest = {k: v for k, v in fusion.items()
            if k not in ("weight_rf", "select_by", "selection", "score_se", "candidates")}
    if rest:
        blocks += [Paragraph("Everything else recorded about the fusion (e.g. stacking coefficients):"),
                   Code("\n".join(f"{k}: {json.dumps(v, ensure_ascii=False, default=str)}" for k, v in rest.items()),
                        "yaml")]

    valid = splits.get(VALID_SPLIT, {})
    shown = [m for m in (*SINGLE_FEDERATED, *FUSED_MODELS) if m in valid]
    if shown:
        keys = ("accuracy", "f1_macro", "f1_weighted", "auc_macro")
        numbers["fusion_valid"] = {m: {k: valid[m][k] for k in keys} for m in shown}
        where = ", where the weight is chosen" if chosen_on == VALID_SPLIT else ""
        blocks.append(Paragraph(f"Measured here on the valid split (predictions/MODEL.valid.csv){where}:"))
        blocks.append(Table(("model", "ACC", "F1 (macro)", "F1 (weighted)", "AUC (macro)"), [
            [data.named(m), *(_num(valid[m][k]) for k in keys)] for m in shown
        ]))
    if sweep is not None and figures_dir is not None:
        blocks += _sweep_blocks(data, sweep, figures_dir, numbers)
    return blocks


def _leave_attack_out_blocks(data: RunData, splits: Mapping[str, Dict[str, Dict[str, Any]]],
                             numbers: Dict[str, Any]) -> List[Block]:
    """How the weight was chosen on attack names held out of training: which names, how many records,
    and how the second pair scored there."""
    record = (data.run.get("fusion") or {}).get("weight_selection") or {}
    names = record.get("held_out_names") or {}
    blocks: List[Block] = [Paragraph(
        "Leave-attack-out weight choice: a second forest and CRNN, with the deployed pair's settings, were "
        f"trained through FATE without {record.get('attack_fraction', '?')} of each attack class's names (seeded: "
        "the CRNN's clients moved their records of those names to their valid split; the forest's guest weighed "
        "them 0, so B's tables and messages are those of any training). Their predictions of the valid records "
        f"and the held-out names' records, {record.get('records', '?')} records of which "
        f"{record.get('held_out_records', '?')} are of held-out "
        "names, are the `attack_holdout` split: each model temperature-scaled on the records of names it was "
        "trained on, then every candidate weight scored on all of them. The deployed `rf` and `crnn` (trained "
        "on every name) take that weight; their calibration and stacking come from the valid split.")]
    if names:
        counts = record.get("held_out_records_by_name") or {}
        blocks.append(Table(("class", "held-out attack names (records)"), [
            [cls, ", ".join(f"{n} ({counts.get(n, '?')})" for n in group)] for cls, group in names.items()]))
    scored = splits.get(HOLDOUT_SPLIT, {})
    shown = [m for m in SINGLE_FEDERATED if m in scored]
    if shown:
        keys = ("accuracy", "f1_macro", "f1_weighted", "auc_macro")
        numbers["fusion_attack_holdout"] = {m: {k: scored[m][k] for k in keys} for m in shown}
        blocks.append(Paragraph("The leave-attack-out pair on its `attack_holdout` split "
                                "(predictions/MODEL.attack_holdout.csv; not the deployed models):"))
        blocks.append(Table(("model", "ACC", "F1 (macro)", "F1 (weighted)", "AUC (macro)"),
                            [[f"`{m}` trained without the held-out names", *(_num(scored[m][k]) for k in keys)]
                             for m in shown]))
    return blocks


def _adaptation(data: RunData, test: Mapping[str, Dict[str, Any]], numbers: Dict[str, Any]) -> List[Block]:
    """Every detector before and after label-shift adaptation, and the class mix each one estimated."""
    blocks: List[Block] = [Heading(2, "Adapted to the test records' class mix (label shift)")]
    record = data.run.get("adaptation") or {}
    pairs = [(str(e["adapted_from"]), m) for m, e in data.models.items()
             if e.get("adapted_from") and m in test and str(e["adapted_from"]) in test]
    if not record or not pairs:
        return blocks + [Paragraph("This run did not adapt its detectors (conf/demo.yaml `adaptation.method: none`).")]
    detectors = record.get("detectors") or {}
    blocks.append(Paragraph(
        "The training file's class mix is not the test file's (nor a deployment's). At A, each detector's "
        "test probabilities were re-weighted to the class mix estimated from the unlabelled test records by "
        "EM (Saerens, Latinne & Decaestecker 2002), after temperature scaling on the valid split "
        f"(calibration: `{record.get('calibration')}`); the trained class mix is {record.get('trained_priors_from')}. "
        "No label of the test split is used and no party sends anything new; every federated detector is "
        "treated alike. The test split's true mix is shown for evaluation only."
    ))
    y_true = data.predictions[REPORT_SPLIT][pairs[0][0]][0]
    true_mix = np.bincount(y_true, minlength=len(data.classes)) / len(y_true)
    trained = record.get("trained_priors") or [None] * len(data.classes)
    estimated = [b for b, _ in pairs if isinstance(detectors.get(b), Mapping)]
    # a class-balanced model (or a vote over one) was trained under another mix than the valid labels'
    own_mix = [b for b in estimated if detectors[b].get("trained_priors") is not None and None not in trained
               and not np.allclose(detectors[b]["trained_priors"], trained)]
    headers = ("class", "trained (valid)", *(f"trained: `{b}`" for b in own_mix), "test (true)",
               *(f"estimated by `{b}`" for b in estimated))
    rows = [[name, _num(trained[i]), *(_num(detectors[b]["trained_priors"][i]) for b in own_mix),
             _num(float(true_mix[i])), *(_num(detectors[b]["priors"][i]) for b in estimated)]
            for i, name in enumerate(data.classes)]
    blocks += [Paragraph("Class mix:"), Table(headers, rows)]

    keys = (("accuracy", "ACC"), ("f1_macro", "F1 (macro)"), ("f1_weighted", "F1 (weighted)"), ("auc_macro", "AUC (macro)"))
    rows, summary = [], {}
    for base, adapted in pairs:
        before, after = test[base], test[adapted]
        info = detectors.get(base) or {}
        summary[base] = {"adapted": adapted, "temperature": info.get("temperature"), "iterations": info.get("iterations"),
                         **{f"{k}_points": 100.0 * (after[k] - before[k]) for k, _ in keys}}
        em = f"{info.get('iterations')}{'' if info.get('converged', True) else ' (not converged)'}"
        rows.append([f"`{base}` → `{adapted}`", _num(info.get("temperature"), 3), em,
                     *(f"{_num(before[k])} → {_num(after[k])} ({_points(after[k] - before[k])})" for k, _ in keys)])
    numbers["adaptation"] = {"trained_priors": trained, "test_true_mix": true_mix.tolist(), "detectors": summary}
    blocks += [Paragraph("Test split, before → after (change in points):"),
               Table(("detector", "temperature", "EM iterations", *(label for _, label in keys)), rows)]
    for _, adapted in pairs:
        blocks += [Heading(3, f"Per class: {data.named(adapted)}"), _per_class_table(data, test[adapted])]
    return blocks


def _communication(data: RunData, numbers: Dict[str, Any]) -> List[Block]:
    blocks: List[Block] = [Heading(2, "Communication")]
    traffic = data.run.get("traffic") or {}
    if not traffic:
        return blocks + [Paragraph("run.json records no traffic.")]
    blocks.append(Paragraph(
        "Bytes each party sent (run.json `traffic`). Federated networks: per client and round, sent and "
        "received; totals are per round × rounds, bytes per parameter are per round. The forest: every "
        "message of its training job, per party, from the audit trail."
    ))
    numbers["traffic"] = {}
    for model, entry in traffic.items():
        blocks.append(Heading(3, f"`{model}`"))
        if not isinstance(entry, Mapping):
            blocks.append(Code(_compact(entry), "json"))
            continue
        if isinstance(entry.get("sent_in_training"), Mapping):
            blocks += _sent_in_training(entry["sent_in_training"], numbers["traffic"].setdefault(model, {}))
            continue
        params = entry.get("parameter_count")
        if params is not None:
            blocks.append(Paragraph(f"{_num(params)} parameters."))
        per_client = entry.get("bytes_per_round") or {}
        derived: Dict[str, Any] = {}
        rows = []
        for client, b in per_client.items():
            if not isinstance(b, Mapping):
                b = {}
            sent, received, rounds = b.get("sent"), b.get("received"), b.get("rounds")
            counts = [v for v in (sent, received, rounds) if isinstance(v, (int, float))]
            d: Dict[str, Any] = {}
            if len(counts) == 3:
                d.update(sent_total=sent * rounds, received_total=received * rounds)
            if isinstance(params, (int, float)) and params and len(counts) >= 2:
                d.update(sent_per_parameter=sent / params, received_per_parameter=received / params)
            derived[str(client)] = d
            rows.append([str(client), _bytes(sent), _bytes(received), _num(rounds),
                         _bytes(d.get("sent_total")), _bytes(d.get("received_total")),
                         _num(d.get("sent_per_parameter"), 2), _num(d.get("received_per_parameter"), 2)])
        numbers["traffic"][model] = derived
        if rows:
            headers = ("client", "sent per round", "received per round", "rounds", "sent in total",
                       "received in total", "sent bytes / parameter", "received bytes / parameter")
            blocks.append(Table(headers, rows))
        rest = {k: v for k, v in entry.items() if k not in ("parameter_count", "bytes_per_round")}
        if rest:
            blocks.append(Code(json.dumps(rest, indent=2, ensure_ascii=False, default=str), "json"))
    return blocks


def _sent_in_training(by_role: Mapping[str, Any], totals: Dict[str, Any]) -> List[Block]:
    """The forest's bytes per party (role) in its training job, with its three largest messages."""
    rows = []
    for role, by_name in by_role.items():
        messages = largest_messages(by_name, count=len(by_name or {}))  # every message, largest first
        sent = sum(b for _, b in messages)
        totals[str(role)] = {"sent_in_training": sent}
        rows.append([str(role), _bytes(sent), ", ".join(f"`{n}` {_bytes(b)}" for n, b in messages[:3])])
    if not rows:
        return [Paragraph("No message recorded.")]
    return [Table(("party (role)", "sent in training", "largest messages"), rows)]


def _logs(job_ids: Sequence[str]) -> str:
    return ", ".join(f"`{FATE_LOG_DIR}/{job}/`" for job in job_ids) or "-"


def _run_section(data: RunData) -> List[Block]:
    run = data.run
    blocks: List[Block] = [
        Heading(2, "Run"),
        Paragraph(f"Started {run.get('started', '?')}, finished {run.get('finished', '?')}. FATE logs are "
                  f"relative to the project root."),
        Heading(3, "Configuration"),
        Code(yaml.safe_dump(run.get("config") or {}, sort_keys=False, allow_unicode=True,
                            default_flow_style=False).rstrip(), "yaml"),
        Heading(3, "Data sets"),
    ]
    data_rows = []
    layouts = run.get("data") or {}
    for layout, entry in layouts.items():
        entry = entry or {}
        for source in entry.get("sources") or []:
            data_rows.append([layout, f"`{source.get('file', '?')}`", _num(source.get("rows", source.get("rows_kept"))),
                              f"`{source.get('sha256', '?')}`"])
    for role, published in (run.get("published_files") or {}).items():
        data_rows.append([f"published {role} file", f"`{published.get('file', '?')}`", "",
                          f"`{published.get('sha256', '?')}`"])
    if data_rows:
        blocks.append(Table(("layout", "source file", "rows", "sha256"), data_rows))
    for layout, entry in layouts.items():
        entry = entry or {}
        blocks.append(Paragraph(f"`{layout}`: prepared in `{entry.get('dir', '?')}`, rows "
                                f"`{_compact(entry.get('rows', {}))}`."))
    if not layouts:
        blocks.append(Paragraph("run.json records no data sets."))

    mapping = run.get("class_mapping") or {name: code for code, name in enumerate(data.classes)}
    blocks += [Heading(3, "Class mapping"),
               Table(("class", "code"), [[str(name), _num(code)] for name, code in mapping.items()])]
    missing = [name for name in data.classes if name not in mapping]
    if missing:
        blocks.append(Paragraph(f"Classes without a mapping entry: {', '.join(missing)}."))

    job_rows = []
    for model, entry in data.models.items():
        train = entry.get("train_job_id")
        predict = entry.get("predict_job_ids") or {}
        jobs = ([train] if train else []) + [job for job in predict.values() if job]
        predicted = ", ".join(f"{split}: `{job}`" for split, job in predict.items()) or "-"
        job_rows.append([data.named(model), f"`{train}`" if train else "-", predicted, _logs(jobs)])
    blocks += [Heading(3, "FATE jobs"),
               Table(("model", "train job", "predict jobs", "logs"), job_rows)]

    stages = run.get("stages") or []
    blocks.append(Heading(3, "Wall time per stage"))
    if stages:
        total = sum(float(s.get("seconds") or 0.0) for s in stages)
        rows = [[str(s.get("name", "?")), _num(s.get("seconds"), 1),
                 ", ".join(f"`{j}`" for j in s.get("job_ids") or []) or "-",
                 ", ".join(f"`{p}`" for p in s.get("logs") or []) or "-"] for s in stages]
        rows.append(["total", _num(total, 1), "", ""])
        blocks.append(Table(("stage", "seconds", "FATE jobs", "logs"), rows))
    else:
        blocks.append(Paragraph("run.json records no stages."))

    machine = run.get("machine") or {}
    blocks += [Heading(3, "Machine"),
               Table(("key", "value"), [[str(k), str(v)] for k, v in machine.items()])
               if machine else Paragraph("run.json records no machine.")]
    return blocks


# --------------------------------------------------------------------------- rendering


def _md_inline(text: str) -> str:
    return text.replace("|", "\\|")


def _html_inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)


def section_anchor(title: str) -> str:
    """The anchor of a section heading, as GitHub and most Markdown viewers derive it (lowercase,
    punctuation dropped, spaces to hyphens); report.html gives its sections the same ids."""
    kept = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return kept.replace(" ", "-")


def _sections(blocks: Sequence[Block]) -> List[str]:
    return [b.text for b in blocks if isinstance(b, Heading) and b.level == 2]


def render_markdown(blocks: Sequence[Block], base: Path) -> str:
    """report.md: figures linked relative to `base`, the folder report.md is written to; a contents
    line under the title, because the report is long."""
    out: List[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
            if block.level == 1:
                out.append("Contents: " + " · ".join(f"[{_md_inline(t)}](#{section_anchor(t)})"
                                                    for t in _sections(blocks)))
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(_md_inline(h) for h in block.headers) + " |",
                     "|" + "|".join(" --- " for _ in block.headers) + "|"]
            lines += ["| " + " | ".join(_md_inline(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, Figure):
            alt = block.caption.replace("`", "").replace("[", "(").replace("]", ")")
            out.append(f"![{alt}]({block.path.relative_to(base).as_posix()})\n\n_{block.caption}_")
        else:
            out.append(f"```{block.language}\n{block.text}\n```")
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1120px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #333; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { background: #f4f4f4; padding: 0 .2em; border-radius: 3px; font-size: .92em; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; border: 1px solid #ddd; }
pre code { background: none; padding: 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #555; }
nav { background: #f8f8f8; border: 1px solid #ddd; padding: .5em 1em; }
ul.contents { columns: 2; margin: .3em 0; }
"""

_NUMBER = re.compile(r"^[+-]?[\d,]+(\.\d+)?$")
_NUM_CELL = '<td class="num">'


def render_html(blocks: Sequence[Block], title: str) -> str:
    """report.html: one self-contained file, figures as base64 data URIs, inline CSS, no script."""
    body: List[str] = []
    for block in blocks:
        if isinstance(block, Heading) and block.level == 2:
            body.append(f"<h2 id=\"{section_anchor(block.text)}\">{_html_inline(block.text)}</h2>")
        elif isinstance(block, Heading):
            body.append(f"<h{block.level}>{_html_inline(block.text)}</h{block.level}>")
            if block.level == 1:
                links = "".join(f"<li><a href=\"#{section_anchor(t)}\">{_html_inline(t)}</a></li>"
                                for t in _sections(blocks))
                body.append(f"<nav><strong>Contents</strong><ul class=\"contents\">{links}</ul></nav>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_html_inline(block.text)}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_html_inline(h)}</th>" for h in block.headers)
            rows = "\n".join(
                "<tr>" + "".join(
                    (_NUM_CELL if _NUMBER.match(c) else "<td>") + f"{_html_inline(c)}</td>" for c in row
                ) + "</tr>"
                for row in block.rows
            )
            body.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>")
        elif isinstance(block, Figure):
            encoded = base64.b64encode(block.path.read_bytes()).decode("ascii")
            alt = html.escape(block.caption.replace("`", ""))
            body.append(f"<figure><img alt=\"{alt}\" src=\"data:image/png;base64,{encoded}\">"
                        f"<figcaption>{_html_inline(block.caption)}</figcaption></figure>")
        else:
            body.append(f"<pre><code>{html.escape(block.text, quote=False)}</code></pre>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _json_ready(value: Any) -> Any:
    """NaN becomes null, so metrics.json is strict JSON that any reader accepts."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    return value


# --------------------------------------------------------------------------- entry point


def build_report(run_dir: Path, out_dir: Path) -> Dict[str, Path]:
    """Write report.md, report.html, metrics.json and figures/*.png of a finished run into out_dir.

    Returns their paths under the keys markdown, html, metrics and figures (the folder).
    Raises UnfinishedRunError for a missing run directory or run.json, ReportError for unusable files.
    """
    data = read_run(Path(run_dir))
    out_dir = Path(out_dir)
    figures_dir = out_dir / FIGURES_DIR
    figures_dir.mkdir(parents=True, exist_ok=True)

    splits = {
        split: {model: model_metrics(y, proba, data.classes) for model, (y, proba) in models.items()}
        for split, models in data.predictions.items()
    }
    ordered = [m for m in data.models if m in splits.get(REPORT_SPLIT, {})]
    test = {m: splits[REPORT_SPLIT][m] for m in ordered}
    ablation = [m for m in ABLATION_MODELS if m in test]
    adapted = [m + ADAPTED_SUFFIX for m in ABLATION_MODELS if m + ADAPTED_SUFFIX in test]

    labels = {m: data.label(m) for m in data.models}
    sweep = fusion_test_sweep(data)
    written = write_figures(
        figures_dir, data.classes, labels,
        {m: data.predictions[REPORT_SPLIT][m] for m in [*ablation, *adapted]},
        {m: test[m]["confusion_matrix"] for m in [*ablation, *adapted]},
        data.curves,
    )
    if sweep is not None:
        valid = sweep.get("valid")
        written.append(fusion_weight_figure(sweep["weights"], sweep["test"], data.fusion.get("weight_rf"),
                                            figures_dir, (valid["metric"], valid["scores"]) if valid else None,
                                            str(data.fusion.get("weight_chosen_on") or VALID_SPLIT)))
    for stale in set(figures_dir.glob("*.png")) - set(written):
        stale.unlink()  # a figure of an earlier build of this report, for a model no longer present
    curve_path = figures_dir / "learning_curve.png"

    numbers: Dict[str, Any] = {}
    blocks: List[Block] = []
    blocks += _title(data, test, numbers)
    blocks += _ablation(data, test, ablation)
    blocks += _per_class(data, test, ablation)
    blocks += _settings(data, test, numbers)
    blocks += _claims(data, test, numbers)
    blocks += _figures(data, [*ablation, *adapted], figures_dir)
    blocks += _learning_curve(data, curve_path if curve_path in written else None, numbers)
    blocks += _fusion(data, splits, numbers, sweep, figures_dir)
    blocks += _adaptation(data, test, numbers)
    blocks += _communication(data, numbers)
    blocks += _run_section(data)

    title = f"FedIDS report: run {data.run.get('run_id', data.run_dir.name)}"
    paths = {
        "markdown": out_dir / "report.md",
        "html": out_dir / "report.html",
        "metrics": out_dir / "metrics.json",
        "figures": figures_dir,
    }
    paths["markdown"].write_text(render_markdown(blocks, out_dir), encoding="utf-8")
    paths["html"].write_text(render_html(blocks, title), encoding="utf-8")
    metrics_doc = {
        "run_id": data.run.get("run_id", data.run_dir.name),
        "classes": data.classes,
        "report_split": REPORT_SPLIT,
        "splits": splits,
        **numbers,
    }
    paths["metrics"].write_text(json.dumps(_json_ready(metrics_doc), indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    return paths
