"""Model hyperparameters per profile (conf/rf.yaml, ...), validated with errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml

from fedids.config import ConfigError
from fedids.paths import conf_dir
from rf_component.class_weights import CLASS_WEIGHTS  # numpy only: the CLI loads it without FATE

RF_KEYS = {
    "num_trees": int, "max_depth": int, "min_samples_split": int, "min_samples_leaf": int,
    "tree_feature_fraction": float, "node_max_features": (str, int, float), "max_bin": int,
    "bootstrap": bool, "vote": str, "seed": int, "he_param": dict, "class_weight": str,
}
CHOICES = {"vote": ("soft", "hard"), "class_weight": CLASS_WEIGHTS}


def _profiles(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        raise ConfigError(path, "<file>", "file not found")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, Mapping) or not isinstance(raw.get("profiles"), Mapping):
        raise ConfigError(path, "profiles", "the file must hold a 'profiles' mapping")
    return raw["profiles"]


def load_rf_profile(profile: str, path: Optional[Path] = None) -> Dict[str, Any]:
    """The forest's component parameters of one profile: `paper` overlaid with the profile's keys."""
    path = Path(path) if path is not None else conf_dir() / "rf.yaml"
    profiles = _profiles(path)
    if "paper" not in profiles:
        raise ConfigError(path, "profiles.paper", "is missing: every profile starts from it")
    if profile not in profiles:
        raise ConfigError(path, f"profiles.{profile}", f"no such profile; defined: {', '.join(profiles)}")
    merged: Dict[str, Any] = dict(profiles["paper"])
    merged.update(profiles[profile] or {})
    for key, value in merged.items():
        where = f"profiles.{profile if key in (profiles[profile] or {}) else 'paper'}.{key}"
        if key not in RF_KEYS:
            raise ConfigError(path, where, f"unknown key; expected one of {', '.join(sorted(RF_KEYS))}")
        expected = RF_KEYS[key]
        if isinstance(value, bool) and expected is not bool:
            raise ConfigError(path, where, f"must be {expected}, got a boolean")
        if not isinstance(value, expected if expected is not float else (int, float)):
            raise ConfigError(path, where, f"must be of type {expected}, got {value!r}")
        if key in CHOICES and value not in CHOICES[key]:
            raise ConfigError(path, where, f"must be one of {', '.join(CHOICES[key])}, got {value!r}")
    missing = sorted(set(RF_KEYS) - set(merged))
    if missing:
        raise ConfigError(path, f"profiles.paper.{missing[0]}", "is missing")
    he = merged["he_param"]
    if set(he) - {"kind", "key_length"} or "kind" not in he:
        raise ConfigError(path, "he_param", "needs 'kind' (paillier, ou, mock) and optionally 'key_length'")
    merged["node_max_features"] = str(merged["node_max_features"])
    return merged
