"""The loaders on the real NSL-KDD and KDD Cup 99 files reproduce the published class counts.

The files live in ../shared/datasets (see its README); they are never copied into the repository.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from data_upload.loaders import load_kddcup99, load_nsl_kdd
from data_upload.taxonomy import KDD_TEST_ONLY_ATTACKS

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
NSL = SHARED / "nsl-kdd"
KDD99_10 = SHARED / "kddcup99" / "kddcup99_10_percent.csv.gz"

pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"real data sets not available: {SHARED} is absent (see the project README)"
)


def class_counts(frame) -> dict:
    return {str(k): int(v) for k, v in frame["traffic_class"].value_counts(sort=False).items()}


def test_kddtrain_plus_has_the_published_class_counts():
    frame = load_nsl_kdd(NSL / "KDDTrain+.txt.gz")
    assert len(frame) == 125973
    assert class_counts(frame) == {"normal": 67343, "DoS": 45927, "Probe": 11656, "R2L": 995, "U2R": 52}


@pytest.mark.parametrize(
    "httptunnel, r2l, u2r",
    [("U2R", 2754, 200), ("R2L", 2887, 67)],
)
def test_kddtest_plus_has_the_published_class_counts_for_both_httptunnel_mappings(httptunnel, r2l, u2r):
    frame = load_nsl_kdd(NSL / "KDDTest+.txt.gz", httptunnel_class=httptunnel)
    assert class_counts(frame) == {"normal": 9711, "DoS": 7458, "Probe": 2421, "R2L": r2l, "U2R": u2r}


def test_every_test_only_attack_name_of_kddtest_plus_is_mapped():
    frame = load_nsl_kdd(NSL / "KDDTest+.txt.gz")  # unknown_label="error": an unmapped name would raise
    names = set(frame["attack_name"].astype(str))
    assert set(KDD_TEST_ONLY_ATTACKS) <= names  # all 17 occur in the file ...
    test_only = frame[frame["attack_name"].isin(KDD_TEST_ONLY_ATTACKS)]
    assert len(test_only) == 3750  # ... the ~3,750 records a training-only mapping would get wrong
    assert test_only["traffic_class"].notna().all() and (test_only["traffic_class"] != "normal").all()


def test_kddcup99_10_percent_loads_494020_rows_with_five_class_counts(capsys):
    frame = load_kddcup99(KDD99_10)
    counts = class_counts(frame)
    with capsys.disabled():
        print(f"\nKDD Cup 99 10 % ({len(frame)} rows) by class: {counts}")
    assert len(frame) == 494020
    # computed from the file, then checked by hand against the README's per-name counts
    # (DoS = smurf 280,790 + neptune 107,201 + back 2,203 + teardrop 979 + pod 264 + land 21)
    assert counts == {"normal": 97277, "DoS": 391458, "Probe": 4107, "R2L": 1126, "U2R": 52}


@pytest.mark.parametrize("name, rows", [("KDDTrain+_20Percent.txt.gz", 25192), ("KDDTest-21.txt.gz", 11850)])
def test_nsl_kdd_subsets_load_completely(name, rows):
    assert len(load_nsl_kdd(NSL / name)) == rows


def test_loading_full_kddtrain_plus_takes_seconds_not_minutes():
    start = time.perf_counter()
    load_nsl_kdd(NSL / "KDDTrain+.txt.gz")
    assert time.perf_counter() - start < 10.0
