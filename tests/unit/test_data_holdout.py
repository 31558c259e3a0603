"""Leave-attack-out: whole attack names held out of training, seeded; B's tables never show which."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data_upload.errors import DataError
from data_upload.holdout import SAMPLE_WEIGHT_COLUMN, choose_held_out_names, held_out_count, held_out_rows
from data_upload.prepare import prepare
from data_upload.schema import ATTACK_NAME_COLUMN, CLASS_COLUMN
from data_upload.stratify import seeded_rng

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
needs_real_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data sets not available: {SHARED} is absent")


def frame(rows):
    """rows: (id, class, attack name)."""
    return pd.DataFrame(rows, columns=["id", CLASS_COLUMN, ATTACK_NAME_COLUMN])


@pytest.mark.parametrize("n_names, fraction, expected", [
    (1, 0.5, 0), (2, 0.5, 1), (3, 0.5, 1), (4, 0.5, 2), (8, 0.5, 4), (2, 0.9, 1), (5, 0.1, 1), (4, 0.0, 0),
])
def test_held_out_count_keeps_every_class_learnable(n_names, fraction, expected):
    assert held_out_count(n_names, fraction) == expected


def test_chosen_names_depend_on_the_seed_only_and_leave_normal_and_single_name_classes_alone():
    train = frame([(i, cls, name) for i, (cls, name) in enumerate(
        [("normal", "normal")] * 5 + [("DoS", "neptune")] * 4 + [("DoS", "smurf"), ("DoS", "back"), ("DoS", "pod")]
        + [("Probe", "satan"), ("Probe", "nmap")] + [("U2R", "rootkit")])])
    first = choose_held_out_names(train, 0.5, seeded_rng(7, "holdout"))
    shuffled = choose_held_out_names(train.sample(frac=1.0, random_state=3), 0.5, seeded_rng(7, "holdout"))
    assert first == shuffled
    assert set(first) == {"DoS", "Probe"}                     # normal never; U2R has one name only
    assert len(first["DoS"]) == 2 and len(first["Probe"]) == 1
    assert set(first["DoS"]) <= {"neptune", "smurf", "back", "pod"} and first["DoS"] == sorted(first["DoS"])
    seeds = {tuple(choose_held_out_names(train, 0.5, seeded_rng(s, "holdout"))["DoS"]) for s in range(20)}
    assert len(seeds) > 1                                      # a draw, not a fixed pick


def test_held_out_rows_are_every_record_of_the_names_and_nothing_else():
    train = frame([(1, "DoS", "neptune"), (2, "DoS", "smurf"), (3, "normal", "normal"), (4, "DoS", "neptune")])
    assert held_out_rows(train, {"DoS": ["neptune"]}).tolist() == [True, False, False, True]


@needs_real_data
def test_prepare_holds_names_out_without_showing_b_which_rows_and_tells_only_label_holders(tmp_path):
    common = dict(train_file="KDDTrain+_20Percent.txt", validation_fraction=0.1, show_progress=False)
    vertical = prepare("nsl-kdd", SHARED, "vertical", "official", tmp_path / "v", holdout_attack_fraction=0.5, **common)
    horizontal = prepare("nsl-kdd", SHARED, "horizontal", "official", tmp_path / "h", clients=2,
                         holdout_attack_fraction=0.5, **common)
    plain = prepare("nsl-kdd", SHARED, "vertical", "official", tmp_path / "p", **common)
    holdout = vertical["holdout"]
    assert holdout["names"] == horizontal["holdout"]["names"] and holdout["records"] == horizontal["holdout"]["records"]
    # the 20 % file's names: DoS 6, Probe 4, R2L 8, U2R 3; land's one record falls in the random valid
    # draw of this seed, so train holds 5 DoS names and floor(5 / 2) are held out
    assert {c: len(n) for c, n in holdout["names"].items()} == {"DoS": 2, "Probe": 2, "R2L": 4, "U2R": 1}
    moved = sum(holdout["records"].values())
    assert moved > 0

    def table(root, manifest, party, split):
        return pd.read_csv(root / manifest["parties"][party]["splits"][split]["file"])

    # vertical: B's tables are byte for byte those of the plain preparation (same FATE tables)
    for split in ("train", "valid", "test"):
        assert vertical["parties"]["B"]["splits"][split]["sha256"] == plain["parties"]["B"]["splits"][split]["sha256"]
    a_train = table(tmp_path / "v", vertical, "A", "train")
    plain_train = table(tmp_path / "p", plain, "A", "train")
    assert vertical["weight_column"] == SAMPLE_WEIGHT_COLUMN and "weight_column" not in horizontal
    assert a_train.drop(columns=[SAMPLE_WEIGHT_COLUMN]).equals(plain_train)
    listed = pd.read_csv(tmp_path / "v" / holdout["ids_files"]["A"])
    assert set(holdout["ids_files"]) == {"A"} and holdout["held_out_in"] == "train"   # never at B
    assert len(listed) == moved and set(listed[ATTACK_NAME_COLUMN]) == {n for g in holdout["names"].values() for n in g}
    zero = set(a_train.loc[a_train[SAMPLE_WEIGHT_COLUMN] == 0, "id"])
    assert zero == set(listed["id"]) and set(a_train[SAMPLE_WEIGHT_COLUMN]) == {0.0, 1.0}
    assert (a_train.set_index("id").loc[sorted(zero), "label"] != 0).all()    # every held-out row is an attack
    assert (table(tmp_path / "v", vertical, "A", "valid")[SAMPLE_WEIGHT_COLUMN] == 1).all()
    # horizontal: each client moved its own records of the held-out names to its valid split
    plain_valid = set(table(tmp_path / "p", plain, "A", "valid")["id"])
    h_valid = set().union(*(table(tmp_path / "h", horizontal, c, "valid")["id"] for c in ("A", "B")))
    h_train = set().union(*(table(tmp_path / "h", horizontal, c, "train")["id"] for c in ("A", "B")))
    assert h_valid == plain_valid | zero and h_train == set(plain_train["id"]) - zero
    assert set(horizontal["holdout"]["ids_files"]) == {"A", "B"} and horizontal["holdout"]["held_out_in"] == "valid"
    per_client = [set(pd.read_csv(tmp_path / "h" / f)["id"]) for f in horizontal["holdout"]["ids_files"].values()]
    assert set().union(*per_client) == zero and not per_client[0] & per_client[1]


def test_holdout_needs_a_validation_split(tmp_path):
    with pytest.raises(DataError, match="held-out attack names go to the validation split"):
        prepare("nsl-kdd", SHARED, "vertical", "official", tmp_path / "x", holdout_attack_fraction=0.5,
                show_progress=False)
    assert not (tmp_path / "x").exists()
