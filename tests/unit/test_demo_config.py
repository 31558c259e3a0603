"""conf/demo.yaml: profiles load, and a wrong key is named."""

from __future__ import annotations

import pytest
import yaml

from fedids.config import ConfigError
from fedids.demo_config import load_demo_profile


def test_repository_profiles_load_and_inherit_from_quick():
    quick, tiny, paper = (load_demo_profile(p) for p in ("quick", "tiny", "paper"))
    assert quick.protocol == "official" and quick.architectures[0] == "crnn"
    assert tiny.sample == {"train": 3000, "test": 1500} and tiny.fusion == quick.fusion
    assert paper.rf_profile == "paper" and paper.train_file == "KDDTrain+.txt"
    assert load_demo_profile("tiny", protocol="split").protocol == "split"


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
    with pytest.raises(ConfigError, match="defined: quick, paper, paper-core, quick-balanced, tiny"):
        load_demo_profile("huge")
