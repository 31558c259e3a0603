"""CRNN hyperparameters per profile (conf/crnn.yaml), validated with errors naming the key.

``load_crnn_profile("tiny")`` returns a :class:`CrnnParams`: the `paper` profile overlaid with
the chosen profile's keys. Every key is required (through `paper`), typed and range-checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import yaml

from fedids.config import ConfigError
from fedids.paths import conf_dir

# the same names as crnn_component.model (not imported here: the CLI builds its parser from this
# package without importing torch; tests/unit/test_crnn_config.py checks they agree)
ARCHITECTURES = ("crnn", "cnn", "rnn")
RECURRENT_CELLS = ("rnn", "gru", "lstm")
ALGOS = ("fedavg", "fedprox")
OPTIMIZERS = ("adam", "sgd")
CLASS_WEIGHTS = ("none", "balanced")


@dataclass(frozen=True)
class CrnnParams:
    """One profile of conf/crnn.yaml, validated."""

    architecture: str
    recurrent: str
    segment_len: int
    filters: int
    kernel_size: int
    pool: int
    hidden: int
    optimizer: str
    lr: float
    weight_decay: float
    epochs: int
    batch_size: int
    algo: str
    mu: float
    aggregate_every: int
    seed: int
    class_weight: str

    def model_kwargs(self) -> Dict[str, Any]:
        """Constructor arguments of crnn_component.model.CRNN (besides feat and class_num)."""
        return dict(segment_len=self.segment_len, architecture=self.architecture, recurrent=self.recurrent,
                    filters=self.filters, kernel_size=self.kernel_size, pool=self.pool, hidden=self.hidden,
                    seed=self.seed)

    @property
    def effective_mu(self) -> float:
        """The proximal weight actually used: 0 for FedAvg."""
        return self.mu if self.algo == "fedprox" else 0.0

    def with_overrides(self, **changes: Any) -> CrnnParams:
        """A copy with some values changed (validated like the file's values)."""
        merged = asdict(self)
        merged.update({k: v for k, v in changes.items() if v is not None})
        return _validate(merged, Path("<overrides>"), "overrides", set(changes))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


_Types = Union[type, Tuple[type, ...]]
# key -> (type, check, description of the allowed values)
_RULES: Dict[str, Tuple[_Types, Any, str]] = {
    "architecture": (str, lambda v: v in ARCHITECTURES, f"one of {', '.join(ARCHITECTURES)}"),
    "recurrent": (str, lambda v: v in RECURRENT_CELLS, f"one of {', '.join(RECURRENT_CELLS)}"),
    "segment_len": (int, lambda v: v >= 1, "an integer >= 1"),
    "filters": (int, lambda v: v >= 1, "an integer >= 1"),
    "kernel_size": (int, lambda v: v >= 1 and v % 2 == 1, "an odd integer >= 1"),
    "pool": (int, lambda v: v >= 1, "an integer >= 1"),
    "hidden": (int, lambda v: v >= 1, "an integer >= 1"),
    "optimizer": (str, lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
    "lr": (float, lambda v: v > 0, "a number > 0"),
    "weight_decay": (float, lambda v: v >= 0, "a number >= 0"),
    "epochs": (int, lambda v: v >= 1, "an integer >= 1"),
    "batch_size": (int, lambda v: v >= 1, "an integer >= 1"),
    "algo": (str, lambda v: v in ALGOS, f"one of {', '.join(ALGOS)}"),
    "mu": (float, lambda v: v >= 0, "a number >= 0"),
    "aggregate_every": (int, lambda v: v >= 1, "an integer >= 1"),
    "seed": (int, lambda v: v >= 0, "an integer >= 0"),
    "class_weight": (str, lambda v: v in CLASS_WEIGHTS, f"one of {', '.join(CLASS_WEIGHTS)}"),
}


def _profiles(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        raise ConfigError(path, "<file>", "file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(path, "<file>", f"not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("profiles"), Mapping):
        raise ConfigError(path, "profiles", "the file must hold a 'profiles' mapping")
    return raw["profiles"]


def _validate(merged: Mapping[str, Any], path: Path, profile: str, own_keys: set) -> CrnnParams:
    values: Dict[str, Any] = {}
    for key, value in merged.items():
        where = f"profiles.{profile if key in own_keys else 'paper'}.{key}"
        if key not in _RULES:
            raise ConfigError(path, where, f"unknown key; expected one of {', '.join(sorted(_RULES))}")
        kind, check, allowed = _RULES[key]
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
            raise ConfigError(path, where, f"must be {allowed}, got {value!r}")
        if kind is float:
            value = float(value)
        if not check(value):
            raise ConfigError(path, where, f"must be {allowed}, got {value!r}")
        values[key] = value
    missing = sorted(set(_RULES) - set(values))
    if missing:
        raise ConfigError(path, f"profiles.paper.{missing[0]}", "is missing")
    if values["segment_len"] < values["pool"]:
        raise ConfigError(path, f"profiles.{profile}.segment_len",
                          f"must be at least pool ({values['pool']}), got {values['segment_len']}")
    return CrnnParams(**values)


def load_crnn_profile(profile: str, path: Optional[Union[str, Path]] = None) -> CrnnParams:
    """The CRNN settings of one profile: `paper` overlaid with the profile's own keys."""
    path = Path(path) if path is not None else conf_dir() / "crnn.yaml"
    profiles = _profiles(path)
    if not isinstance(profiles.get("paper"), Mapping):
        raise ConfigError(path, "profiles.paper", "is missing: every profile starts from it")
    if profile not in profiles:
        raise ConfigError(path, f"profiles.{profile}", f"no such profile; defined: {', '.join(profiles)}")
    own = profiles[profile] or {}
    if not isinstance(own, Mapping):
        raise ConfigError(path, f"profiles.{profile}", "must be a mapping of keys to values")
    merged: Dict[str, Any] = dict(profiles["paper"])
    merged.update(own)
    return _validate(merged, path, profile, set(own) if profile != "paper" else set(merged))


__all__ = ["ALGOS", "OPTIMIZERS", "CrnnParams", "load_crnn_profile"]
