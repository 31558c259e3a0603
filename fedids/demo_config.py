"""conf/demo.yaml: what each demo profile runs, validated with errors that name the key."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from fedids.config import ConfigError
from fedids.fusion import SELECT_BY, SELECTION, WEIGHT_FROM
from fedids.label_shift import ADAPTATIONS, CALIBRATIONS
from fedids.paths import conf_dir

ARCHITECTURES = ("crnn", "cnn", "rnn")
PROTOCOLS = ("official", "split")


@dataclass(frozen=True)
class DemoProfile:
    """One validated profile of conf/demo.yaml."""

    name: str
    dataset: str
    protocol: str
    train_file: Optional[str]
    test_file: Optional[str]
    sample: Optional[Dict[str, int]]
    validation_fraction: float
    rf_profile: str
    crnn_profile: str
    architectures: List[str]
    baselines: bool
    fusion: Dict[str, Any]
    adaptation: Dict[str, Any]

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, Mapping) and isinstance(base.get(key), Mapping) \
            else value
    return merged


def load_demo_profile(profile: str, path: Optional[Path] = None, protocol: Optional[str] = None) -> DemoProfile:
    """Profile ``profile`` of conf/demo.yaml (``quick`` overlaid with the profile's keys)."""
    path = Path(path) if path is not None else conf_dir() / "demo.yaml"
    if not path.is_file():
        raise ConfigError(path, "<file>", "file not found")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    profiles = raw.get("profiles") if isinstance(raw, Mapping) else None
    if not isinstance(profiles, Mapping) or "quick" not in profiles:
        raise ConfigError(path, "profiles.quick", "the file must hold 'profiles' with a 'quick' profile")
    if profile not in profiles:
        raise ConfigError(path, f"profiles.{profile}", f"no such profile; defined: {', '.join(profiles)}")
    merged = _merge(profiles["quick"], profiles[profile] or {})
    if protocol is not None:
        merged["protocol"] = protocol

    def where(key: str) -> str:
        return f"profiles.{profile if key in (profiles[profile] or {}) else 'quick'}.{key}"

    known = set(DemoProfile.__dataclass_fields__) - {"name"}
    for key in merged:
        if key not in known:
            raise ConfigError(path, where(key), f"unknown key; expected one of {', '.join(sorted(known))}")
    for key in sorted(known - set(merged)):
        raise ConfigError(path, where(key), "is missing")
    if merged["protocol"] not in PROTOCOLS:
        raise ConfigError(path, where("protocol"), f"must be one of {', '.join(PROTOCOLS)}, got {merged['protocol']!r}")
    vf = merged["validation_fraction"]
    if isinstance(vf, bool) or not isinstance(vf, (int, float)) or not 0 < vf < 0.5:
        raise ConfigError(path, where("validation_fraction"), f"must be a number in (0, 0.5), got {vf!r}")
    sample = merged["sample"]
    if sample is not None and (not isinstance(sample, Mapping) or set(sample) - {"train", "test"}
                               or any(isinstance(v, bool) or not isinstance(v, int) or v < 100
                                      for v in sample.values())):
        raise ConfigError(path, where("sample"), "must be null or {train: rows, test: rows} with at least 100 rows each")
    archs = merged["architectures"]
    if not isinstance(archs, list) or "crnn" not in archs or set(archs) - set(ARCHITECTURES):
        raise ConfigError(path, where("architectures"),
                          f"must list some of {', '.join(ARCHITECTURES)}, including crnn (the fused model)")
    fusion = merged["fusion"]
    fusion_keys = {"select_by", "selection", "bootstrap", "grid_step", "stacking", "calibration", "weight_from",
                   "holdout_attack_fraction"}
    if not isinstance(fusion, Mapping) or set(fusion) != fusion_keys:
        raise ConfigError(path, where("fusion"), f"must hold exactly {', '.join(sorted(fusion_keys))}")
    if fusion["select_by"] not in SELECT_BY:
        raise ConfigError(path, where("fusion") + ".select_by", f"must be one of {', '.join(SELECT_BY)}")
    if fusion["selection"] not in SELECTION:
        raise ConfigError(path, where("fusion") + ".selection", f"must be one of {', '.join(SELECTION)}")
    boot = fusion["bootstrap"]
    if isinstance(boot, bool) or not isinstance(boot, int) or boot < 20:
        raise ConfigError(path, where("fusion") + ".bootstrap", f"must be an integer of at least 20, got {boot!r}")
    if fusion["calibration"] not in CALIBRATIONS:
        raise ConfigError(path, where("fusion") + ".calibration", f"must be one of {', '.join(CALIBRATIONS)}")
    if fusion["weight_from"] not in WEIGHT_FROM:
        raise ConfigError(path, where("fusion") + ".weight_from", f"must be one of {', '.join(WEIGHT_FROM)}, "
                          f"got {fusion['weight_from']!r}")
    held = fusion["holdout_attack_fraction"]
    if isinstance(held, bool) or not isinstance(held, (int, float)) or not 0 < held < 1:
        raise ConfigError(path, where("fusion") + ".holdout_attack_fraction",
                          f"must be a number in (0, 1), e.g. 0.5, got {held!r}")
    _check_adaptation(path, where("adaptation"), merged["adaptation"])
    if not isinstance(merged["baselines"], bool):
        raise ConfigError(path, where("baselines"), "must be true or false")
    return DemoProfile(name=profile, **{k: merged[k] for k in known})


def _check_adaptation(path: Path, key: str, adaptation: Any) -> None:
    """``adaptation``: {method: em | none, max_iter, tol, min_records} (fedids/label_shift.py)."""
    keys = {"method", "max_iter", "tol", "min_records"}
    if not isinstance(adaptation, Mapping) or set(adaptation) != keys:
        raise ConfigError(path, key, f"must hold exactly {', '.join(sorted(keys))}")
    if adaptation["method"] not in ADAPTATIONS:
        raise ConfigError(path, key + ".method", f"must be one of {', '.join(ADAPTATIONS)}, got {adaptation['method']!r}")
    for name, low in (("max_iter", 1), ("min_records", 1)):
        value = adaptation[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(path, f"{key}.{name}", f"must be an integer of at least {low}, got {value!r}")
    tol = adaptation["tol"]
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ConfigError(path, key + ".tol", f"must be a number in (0, 1), e.g. 1.0e-8, got {tol!r}")
