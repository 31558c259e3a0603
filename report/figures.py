"""The report's PNG figures: confusion matrices, one-vs-rest ROC curves and the learning curve.

Matplotlib is switched to the file-only "Agg" backend when a figure is drawn, not at import, so
importing this module never changes the backend of a program that uses pyplot itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np

DPI = 110


def _pyplot() -> Any:
    """pyplot on the Agg backend: figures go to files, no display needed (CI, FATE's containers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_name(kind: str, model: str) -> str:
    """File name of a per-model figure, e.g. confusion_rf.png (model names made file-safe)."""
    return f"{kind}_{re.sub(r'[^A-Za-z0-9_.-]', '_', model)}.png"


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def confusion_figure(
    matrix: Sequence[Sequence[int]], classes: Sequence[str], model: str, label: str, out_dir: Path
) -> Path:
    """confusion_<model>.png: counts in the cells, colour = share of the true class (row-normalised),
    so rare classes (U2R, R2L) stay readable next to thousands of DoS records."""
    plt = _pyplot()
    counts = np.asarray(matrix, dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=float), where=rows > 0)
    k = len(classes)
    side = max(4.8, 0.75 * k + 2.6)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.set_yticklabels(classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix: {model} ({label})", fontsize=10)
    for (i, j), count in np.ndenumerate(counts):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if share[i, j] > 0.5 else "black")
    return _save(fig, Path(out_dir) / figure_name("confusion", model))


def roc_figure(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str], model: str, label: str, out_dir: Path
) -> Path:
    """roc_<model>.png: one-vs-rest ROC curve of every class with its AUC; a class absent from
    y_true has no curve and is named as such in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    y_true = np.asarray(y_true)
    fig, ax = plt.subplots(figsize=(6.0, 5.2))
    for code, name in enumerate(classes):
        positive = y_true == code
        if positive.all() or not positive.any():
            ax.plot([], [], " ", label=f"{name} (absent: no AUC)")
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, code])
        ax.plot(fpr, tpr, lw=1.4, label=f"{name} (AUC {roc_auc_score(positive, proba[:, code]):.4f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC, one vs rest: {model} ({label})", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, Path(out_dir) / figure_name("roc", model))


def learning_curve_figure(
    curves: Mapping[str, Sequence[Mapping[str, Any]]], labels: Mapping[str, str], out_dir: Path
) -> Optional[Path]:
    """learning_curve.png: loss and accuracy per epoch of every model with a curve, side by side;
    None when there is no curve to draw."""
    drawable = {model: points for model, points in curves.items() if points}
    if not drawable:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11.0, 4.2))
    for model, points in drawable.items():
        legend = f"{model} ({labels.get(model, model)})"
        for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            xy = [(p["epoch"], p[key]) for p in points
                  if p.get("epoch") is not None and p.get(key) is not None]
            if xy:
                x, y = zip(*xy)
                ax.plot(x, y, marker="o", ms=3, lw=1.4, label=legend)
    for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(f"{key} per epoch", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, Path(out_dir) / "learning_curve.png")


def fusion_weight_figure(weights: Sequence[float], test_scores: Mapping[str, Sequence[float]],
                         chosen: Optional[float], out_dir: Path,
                         valid_scores: Optional[Tuple[str, Sequence[float]]] = None, chosen_on: str = "valid"
                         ) -> Path:
    """fusion_weights.png: the soft vote's test accuracy and macro-F1 at every weight on rf (a diagnostic
    drawn after the weight was fixed on the ``chosen_on`` split: weight 1 is rf alone, 0 the CRNN alone)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for metric, scores in test_scores.items():
        line, = ax.plot(weights, scores, marker="o", ms=3, lw=1.4, label=f"test {metric}")
        for end in (0, -1):  # weight 0 is crnn alone, 1 is rf alone
            ax.axhline(scores[end], color=line.get_color(), lw=0.8, ls="--", alpha=0.6)
    if valid_scores is not None:
        metric, scores = valid_scores
        ax.plot(weights, scores, ls=":", lw=1.4, color="grey", label=f"{chosen_on} {metric} (where the weight is chosen)")
    if chosen is not None:
        ax.axvline(chosen, color="black", lw=1.0, label=f"chosen on {chosen_on}: {chosen:g}")
    ax.set_xlabel("weight on rf (0: crnn alone, 1: rf alone)")
    ax.set_ylabel("score")
    ax.set_title("Soft vote by weight; dashed: the single models on test", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, Path(out_dir) / "fusion_weights.png")


def write_figures(
    out_dir: Path,
    classes: Sequence[str],
    labels: Mapping[str, str],
    predictions: Mapping[str, Tuple[np.ndarray, np.ndarray]],
    confusions: Mapping[str, Sequence[Sequence[int]]],
    curves: Mapping[str, Sequence[Mapping[str, Any]]],
) -> List[Path]:
    """Every figure of the report: a confusion matrix and a ROC plot per model in `predictions`
    ((y_true, proba) each), then the learning curve; the paths written, in that order."""
    written: List[Path] = []
    for model, (y_true, proba) in predictions.items():
        label = labels.get(model, model)
        written.append(confusion_figure(confusions[model], classes, model, label, out_dir))
        written.append(roc_figure(y_true, proba, classes, model, label, out_dir))
    curve_path = learning_curve_figure(curves, labels, out_dir)
    if curve_path is not None:
        written.append(curve_path)
    return written

