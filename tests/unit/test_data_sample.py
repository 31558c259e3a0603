"""Sampling a raw KDD-family file: stratified, seeded, every attack name kept, same format."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data_upload.errors import DataError
from data_upload.sample import sample_kdd_file

NSL_TRAIN = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "nsl-kdd" / "KDDTrain+_20Percent.txt.gz"


@pytest.mark.skipif(not NSL_TRAIN.is_file(), reason=f"{NSL_TRAIN} absent")
def test_sample_is_stratified_seeded_and_keeps_rare_attacks(tmp_path):
    out = sample_kdd_file(NSL_TRAIN, 2000, tmp_path / "s.txt", seed=7)
    source = pd.read_csv(NSL_TRAIN, header=None, dtype=str)
    sample = pd.read_csv(out, header=None, dtype=str)
    assert len(sample) == 2000 and sample.shape[1] == source.shape[1]
    assert set(sample[41]) >= {"normal", "neptune", "buffer_overflow"}  # a U2R name with few records
    share = sample[41].eq("normal").mean()
    assert abs(share - source[41].eq("normal").mean()) < 0.01
    assert sample_kdd_file(NSL_TRAIN, 2000, tmp_path / "again.txt", seed=7).read_bytes() == out.read_bytes()


def test_sampling_a_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match="nothing.txt"):
        sample_kdd_file(tmp_path / "nothing.txt", 10, tmp_path / "out.txt", seed=1)
