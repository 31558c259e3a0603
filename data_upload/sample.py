"""A stratified sample of a raw KDD-family file (NSL-KDD, KDD Cup 99), same format as the source.

Small runs (the demo's tiny profile, the CRNN benchmark's 3 x 10,000 records) need fewer
records than the published files; sampling the raw lines keeps every later step (loading,
taxonomy, ids, preprocessing) exactly the one the full files go through.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_upload.errors import DataError

KDD_LABEL_FIELD = 41  # 0-based: the attack name follows the 41 features


def sample_kdd_file(source: Path, rows: int, out: Path, seed: int) -> Path:
    """Write ``rows`` records of ``source`` (stratified by attack name, seeded) to ``out``; reuse ``out`` if present."""
    source, out = Path(source), Path(out)
    if out.is_file():
        return out
    if not source.is_file():
        raise DataError("file not found", file=source, hint="give the folder holding the data set's files")
    frame = pd.read_csv(source, header=None, dtype=str)
    if frame.shape[1] <= KDD_LABEL_FIELD or rows < 1:
        raise DataError(f"cannot sample {rows} records from a file with {frame.shape[1]} fields per line",
                        file=source, hint="sampling is for the KDD-family files (42 or 43 fields)")
    label = frame.columns[KDD_LABEL_FIELD]
    fraction = min(1.0, rows / len(frame))
    # every attack name keeps at least one record (U2R names have a handful in total)
    picked = pd.concat([group.sample(n=max(1, round(len(group) * fraction)), random_state=seed)
                        for _, group in frame.groupby(label)])
    picked = picked.sample(n=min(rows, len(picked)), random_state=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(out.name + ".tmp")
    picked.to_csv(staging, header=False, index=False)
    staging.replace(out)
    return out
