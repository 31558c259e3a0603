"""conf/demo.yaml: profiles load, and a wrong key is named."""

from __future__ import annotations

import pytest
import yaml

from fedids.config import ConfigError
from fedids.demo_config import load_demo_profile


def test_repository_profiles_load_and_inherit_from_quick():
    quick, tiny, paper = (load_demo_profile(p) for p in ("quick", "tiny", "paper"))
    assert quick.protocol == "official" and quick.architectures[0] == "crnn"
    assert tiny.sample == {"train": 3000, "test": 1500}
    assert tiny.fusion == {**quick.fusion, "weight_from": "attack_holdout"}   # CI runs every stage
    assert paper.rf_profile == "paper" and paper.train_file == "KDDTrain+.txt"
    assert load_demo_profile("tiny", protocol="split").protocol == "split"
    assert quick.fusion["weight_from"] == "valid"            # the default choice stays on the valid split


def test_holdout_profiles_change_only_where_the_weight_is_chosen():
    balanced, holdout = load_demo_profile("quick-balanced"), load_demo_profile("quick-balanced-holdout")
    assert holdout.fusion == {**balanced.fusion, "weight_from": "attack_holdout"}
    assert {k: v for k, v in holdout.to_dict().items() if k not in ("name", "fusion")} == \
        {k: v for k, v in balanced.to_dict().items() if k not in ("name", "fusion")}


@pytest.mark.parametrize("override, key", [
    ({"protocol": "paper"}, "profiles.tiny.protocol"),
    ({"validation_fraction": 0.9}, "profiles.tiny.validation_fraction"),
    ({"architectures": ["cnn"]}, "profiles.tiny.architectures"),
    ({"colour": "red"}, "profiles.tiny.colour"),
    ({"sample": {"train": 5}}, "profiles.tiny.sample"),
    ({"fusion": {"colour": "red"}}, "profiles.tiny.fusion"),
    ({"fusion": {"select_by": "macro_f1", "selection": "median", "bootstrap": 200, "grid_step": 0.05,
                 "stacking": True}}, "profiles.tiny.fusion.selection"),
    ({"fusion": {"select_by": "macro_f1", "selection": "one_se", "bootstrap": 3, "grid_step": 0.05,
                 "stacking": True}}, "profiles.tiny.fusion.bootstrap"),
    ({"fusion": {"calibration": "isotonic"}}, "profiles.tiny.fusion.calibration"),
    ({"fusion": {"weight_from": "test"}}, "profiles.tiny.fusion.weight_from"),
    ({"fusion": {"holdout_attack_fraction": 1.0}}, "profiles.tiny.fusion.holdout_attack_fraction"),
    ({"adaptation": {"method": "bbse"}}, "profiles.tiny.adaptation.method"),
    ({"adaptation": {"tol": 0}}, "profiles.tiny.adaptation.tol"),
    ({"adaptation": {"min_records": 0}}, "profiles.tiny.adaptation.min_records"),
    ({"adaptation": {"window": 5}}, "profiles.tiny.adaptation"),
])
def test_bad_profile_values_name_the_key(tmp_path, repo_root, override, key):
    raw = yaml.safe_load((repo_root / "conf" / "demo.yaml").read_text())
    raw["profiles"]["tiny"].update(override)
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_demo_profile("tiny", path)


def test_unknown_profile_lists_the_defined_ones():
    with pytest.raises(ConfigError, match="defined: quick, paper, paper-core, quick-balanced, quick-balanced-holdout, tiny"):
        load_demo_profile("huge")
