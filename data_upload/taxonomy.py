"""Attack names as written in the files -> the traffic classes a model learns.

KDD Cup 99 and NSL-KDD name 40 attacks that the literature groups into five classes (normal,
DoS, Probe, R2L, U2R). The NSL-KDD and KDD99 test sets hold 17 names that never occur in
training; a mapping built from the training names mislabels ~3,750 NSL-KDD test records, so
all of them are listed here. UNSW-NB15 and the CIC data sets are used with their own classes,
after repairing the spelling variants found in circulating copies (trailing spaces, "Backdoors",
the en dash of "Web Attack – Brute Force" that appears as "\\x96", U+FFFD or "â€“").

Every mode also has a binary view: the data set's normal class -> "normal", anything else ->
"attack".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import pandas as pd

from data_upload.errors import DataError
from data_upload.schema import DATASETS

CLASS_MODES: Tuple[str, ...] = ("multi", "binary")
UNKNOWN_LABEL_POLICIES: Tuple[str, ...] = ("error", "drop", "other")
HTTPTUNNEL_CLASSES: Tuple[str, ...] = ("U2R", "R2L")
BINARY_CLASSES: Tuple[str, ...] = ("normal", "attack")
OTHER_CLASS = "other"

KDD_CLASSES: Tuple[str, ...] = ("normal", "DoS", "Probe", "R2L", "U2R")

# Names of the training files (KDD99 full/10 % and KDDTrain+).
_KDD_TRAINING_ATTACKS: Mapping[str, str] = MappingProxyType(
    {
        "normal": "normal",
        "back": "DoS", "land": "DoS", "neptune": "DoS", "pod": "DoS", "smurf": "DoS", "teardrop": "DoS",
        "ipsweep": "Probe", "nmap": "Probe", "portsweep": "Probe", "satan": "Probe",
        "ftp_write": "R2L", "guess_passwd": "R2L", "imap": "R2L", "multihop": "R2L", "phf": "R2L",
        "spy": "R2L", "warezclient": "R2L", "warezmaster": "R2L",
        "buffer_overflow": "U2R", "loadmodule": "U2R", "perl": "U2R", "rootkit": "U2R",
    }
)  # fmt: skip

# Names found only in the test files (KDDTest+, KDDTest-21, KDD99 "corrected"); httptunnel is
# decided by the caller (U2R by default, as most papers count it).
_KDD_TEST_ONLY_ATTACKS: Mapping[str, Optional[str]] = MappingProxyType(
    {
        "apache2": "DoS", "mailbomb": "DoS", "processtable": "DoS", "udpstorm": "DoS",
        "mscan": "Probe", "saint": "Probe",
        "httptunnel": None,
        "named": "R2L", "sendmail": "R2L", "snmpgetattack": "R2L", "snmpguess": "R2L", "worm": "R2L",
        "xlock": "R2L", "xsnoop": "R2L",
        "ps": "U2R", "sqlattack": "U2R", "xterm": "U2R",
    }
)  # fmt: skip
KDD_TEST_ONLY_ATTACKS: Tuple[str, ...] = tuple(_KDD_TEST_ONLY_ATTACKS)

UNSW_NB15_CLASSES: Tuple[str, ...] = (
    "Normal", "Generic", "Exploits", "Fuzzers", "DoS", "Reconnaissance", "Analysis", "Backdoor",
    "Shellcode", "Worms",
)  # fmt: skip
CIC_IDS2017_CLASSES: Tuple[str, ...] = (
    "BENIGN", "DoS Hulk", "PortScan", "DDoS", "DoS GoldenEye", "FTP-Patator", "SSH-Patator",
    "DoS slowloris", "DoS Slowhttptest", "Bot", "Web Attack - Brute Force", "Web Attack - XSS",
    "Infiltration", "Web Attack - Sql Injection", "Heartbleed",
)  # fmt: skip
CSE_CIC_IDS2018_CLASSES: Tuple[str, ...] = (
    "Benign", "DDOS attack-HOIC", "DDoS attacks-LOIC-HTTP", "DoS attacks-Hulk", "Bot", "FTP-BruteForce",
    "SSH-Bruteforce", "Infilteration", "DoS attacks-SlowHTTPTest", "DoS attacks-GoldenEye",
    "DoS attacks-Slowloris", "DDOS attack-LOIC-UDP", "Brute Force -Web", "Brute Force -XSS",
    "SQL Injection",
)  # fmt: skip

_NATIVE_CLASSES: Mapping[str, Tuple[str, ...]] = MappingProxyType(
    {
        "nsl-kdd": KDD_CLASSES,
        "kddcup99": KDD_CLASSES,
        "unsw-nb15": UNSW_NB15_CLASSES,
        "cic-ids2017": CIC_IDS2017_CLASSES,
        "cse-cic-ids2018": CSE_CIC_IDS2018_CLASSES,
    }
)
# Spellings seen in circulating copies, after normalisation (see _normalise_name).
_ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "unsw-nb15": MappingProxyType({"backdoors": "Backdoor"}),
        "cic-ids2017": MappingProxyType({"infilteration": "Infiltration"}),
        "cse-cic-ids2018": MappingProxyType({"infiltration": "Infilteration"}),
    }
)

# En/em dashes, minus, and what an en dash becomes in copies that were decoded wrongly:
# "\x96" (cp1252 read as latin-1), U+FFFD (cp1252 read as UTF-8), "â€“"/"â€”" (UTF-8 read as cp1252).
_DASHES = re.compile("â€“|â€”|[\u2010-\u2015\u2212\ufffd\x96\x97]")
_SPACES = re.compile(r"\s+")
_SPACED_HYPHEN = re.compile(r"\s*-\s*")


def _normalise_name(dataset: str, name: str) -> str:
    """The lookup key of an attack name: case, spacing, dash variants and KDD's trailing dot removed."""
    key = _SPACES.sub(" ", str(name)).strip()
    if dataset in ("nsl-kdd", "kddcup99"):
        key = key.rstrip(".")
    elif dataset in ("cic-ids2017", "cse-cic-ids2018"):
        key = _SPACED_HYPHEN.sub("-", _DASHES.sub("-", key))
    return key.lower()


def _check_choice(value: str, choices: Tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise DataError(f"{what} '{value}' is not supported", hint=f"use one of {', '.join(choices)}")


@dataclass(frozen=True)
class Taxonomy:
    """How one data set's attack names map to classes.

    ``mode``: "multi" (the data set's classes) or "binary" (normal/attack). ``httptunnel_class``:
    where NSL-KDD/KDD99's httptunnel goes ("U2R" as most papers, or "R2L"). ``unknown_label``:
    what a name outside the taxonomy becomes: "error" (the loader refuses the file), "drop" (the
    loader drops those rows) or "other" (a class of its own; "attack" in binary mode).
    """

    dataset: str
    mode: str = "multi"
    httptunnel_class: str = "U2R"
    unknown_label: str = "error"

    def __post_init__(self) -> None:
        _check_choice(self.dataset, DATASETS, "data set")
        _check_choice(self.mode, CLASS_MODES, "class mode")
        _check_choice(self.httptunnel_class, HTTPTUNNEL_CLASSES, "httptunnel class")
        _check_choice(self.unknown_label, UNKNOWN_LABEL_POLICIES, "unknown-label policy")

    @property
    def native_classes(self) -> Tuple[str, ...]:
        return _NATIVE_CLASSES[self.dataset]

    @property
    def normal_class(self) -> str:
        """The class of benign traffic under this mode."""
        return BINARY_CLASSES[0] if self.mode == "binary" else self.native_classes[0]

    @property
    def classes(self) -> Tuple[str, ...]:
        """All classes in code order (class code = position), whether or not a file contains them."""
        if self.mode == "binary":
            return BINARY_CLASSES
        if self.unknown_label == "other":
            return self.native_classes + (OTHER_CLASS,)
        return self.native_classes

    def _native_lookup(self) -> Dict[str, str]:
        if self.dataset in ("nsl-kdd", "kddcup99"):
            table = dict(_KDD_TRAINING_ATTACKS)
            for name, cls in _KDD_TEST_ONLY_ATTACKS.items():
                table[name] = cls if cls is not None else self.httptunnel_class
            return table
        table = {_normalise_name(self.dataset, c): c for c in self.native_classes}
        table.update(_ALIASES.get(self.dataset, {}))
        return table

    def native_class_of(self, name: str) -> Optional[str]:
        """The data set's own class of one attack name, or None when the name is unknown."""
        return self._native_lookup().get(_normalise_name(self.dataset, name))

    def classify(self, names: pd.Series) -> Tuple[pd.Categorical, np.ndarray]:
        """Map a column of attack names to classes (vectorised over the distinct names).

        Returns the classes as a Categorical over ``self.classes`` and a boolean mask of the rows
        whose name is unknown (missing names count as unknown). With ``unknown_label="other"``
        those rows get the "other" class (binary: "attack"); otherwise they are NaN and the caller
        applies the policy.
        """
        lookup = self._native_lookup()
        categorical = pd.Categorical(names)
        native = [lookup.get(_normalise_name(self.dataset, n)) for n in categorical.categories]
        if self.mode == "binary":
            normal = self.native_classes[0]
            mapped = [None if c is None else ("normal" if c == normal else "attack") for c in native]
        else:
            mapped = native
        position = {c: i for i, c in enumerate(self.classes)}
        code_of_category = np.array([-1 if c is None else position[c] for c in mapped] + [-1], dtype=np.int64)
        # categorical.codes is -1 for missing names: index -1 hits the trailing "unknown" entry.
        codes = code_of_category[categorical.codes]
        unknown = codes < 0
        if self.unknown_label == "other" and unknown.any():
            codes[unknown] = position["attack" if self.mode == "binary" else OTHER_CLASS]
        return pd.Categorical.from_codes(codes, categories=list(self.classes)), unknown

    def describe(self) -> Dict[str, Optional[str]]:
        """The settings as recorded in a manifest."""
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "httptunnel_class": self.httptunnel_class if self.dataset in ("nsl-kdd", "kddcup99") else None,
            "unknown_label": self.unknown_label,
            "normal_class": self.normal_class,
        }
