"""Attack names -> classes: KDD families, test-only names, spelling variants, binary view, unknown names."""

from __future__ import annotations

import pandas as pd
import pytest

from data_upload.errors import DataError
from data_upload.taxonomy import KDD_TEST_ONLY_ATTACKS, Taxonomy

EXPECTED_TEST_ONLY = {
    "apache2": "DoS", "mailbomb": "DoS", "processtable": "DoS", "udpstorm": "DoS",
    "mscan": "Probe", "saint": "Probe",
    "named": "R2L", "sendmail": "R2L", "snmpgetattack": "R2L", "snmpguess": "R2L", "worm": "R2L",
    "xlock": "R2L", "xsnoop": "R2L",
    "ps": "U2R", "sqlattack": "U2R", "xterm": "U2R",
}  # fmt: skip


def classify(taxonomy: Taxonomy, names: list) -> list:
    classes, _ = taxonomy.classify(pd.Series(names, dtype=object))
    return [None if pd.isna(c) else c for c in classes]


def test_all_17_test_only_kdd_names_are_mapped_to_their_family():
    assert len(KDD_TEST_ONLY_ATTACKS) == 17
    assert set(KDD_TEST_ONLY_ATTACKS) == set(EXPECTED_TEST_ONLY) | {"httptunnel"}
    for dataset in ("nsl-kdd", "kddcup99"):
        tax = Taxonomy(dataset)
        for name, family in EXPECTED_TEST_ONLY.items():
            assert tax.native_class_of(name) == family, name


def test_httptunnel_is_u2r_by_default_and_r2l_on_request():
    assert Taxonomy("nsl-kdd").native_class_of("httptunnel") == "U2R"
    assert Taxonomy("nsl-kdd", httptunnel_class="R2L").native_class_of("httptunnel") == "R2L"


def test_kdd99_labels_map_with_or_without_trailing_dot():
    tax = Taxonomy("kddcup99")
    assert classify(tax, ["smurf.", "smurf", "normal.", " guess_passwd. ", "buffer_overflow."]) == [
        "DoS", "DoS", "normal", "R2L", "U2R",
    ]  # fmt: skip


def test_binary_mode_maps_normal_class_to_normal_and_everything_else_to_attack():
    assert classify(Taxonomy("nsl-kdd", "binary"), ["normal", "neptune", "xterm"]) == [
        "normal",
        "attack",
        "attack",
    ]
    assert classify(Taxonomy("unsw-nb15", "binary"), ["Normal", "Worms"]) == ["normal", "attack"]
    assert classify(Taxonomy("cic-ids2017", "binary"), ["BENIGN", "DDoS"]) == ["normal", "attack"]
    assert classify(Taxonomy("cse-cic-ids2018", "binary"), ["Benign", "Bot"]) == ["normal", "attack"]


def test_unsw_labels_are_trimmed_and_backdoors_spelling_maps_to_backdoor():
    tax = Taxonomy("unsw-nb15")
    assert classify(tax, [" Fuzzers", "Fuzzers ", "Backdoors", "Backdoor", " Reconnaissance "]) == [
        "Fuzzers", "Fuzzers", "Backdoor", "Backdoor", "Reconnaissance",
    ]  # fmt: skip
    assert len(tax.classes) == 10 and tax.normal_class == "Normal"


@pytest.mark.parametrize(
    "spelling",
    [
        "Web Attack – Brute Force",  # en dash (UTF-8 copies)
        "Web Attack \x96 Brute Force",  # cp1252 byte read as latin-1
        "Web Attack \ufffd Brute Force",  # cp1252 byte read as UTF-8 with replacement
        "Web Attack â€“ Brute Force",  # UTF-8 read as cp1252
        "Web Attack - Brute Force",
        "Web Attack  -  Brute Force ",
    ],
)
def test_every_spelling_of_the_cic2017_web_attack_dash_gives_one_class(spelling):
    assert classify(Taxonomy("cic-ids2017"), [spelling]) == ["Web Attack - Brute Force"]


def test_cic2018_labels_match_across_case_and_dash_spacing():
    tax = Taxonomy("cse-cic-ids2018")
    assert classify(tax, ["DDOS attack-HOIC", "DDoS attack-HOIC", "Brute Force -Web", "Brute Force - XSS"]) == [
        "DDOS attack-HOIC", "DDOS attack-HOIC", "Brute Force -Web", "Brute Force -XSS",
    ]  # fmt: skip


def test_unknown_names_are_flagged_or_become_other_when_asked():
    classes, unknown = Taxonomy("nsl-kdd").classify(pd.Series(["normal", "teleport", None], dtype=object))
    assert unknown.tolist() == [False, True, True]
    assert pd.isna(classes[1]) and pd.isna(classes[2])

    other = Taxonomy("nsl-kdd", unknown_label="other")
    assert other.classes == ("normal", "DoS", "Probe", "R2L", "U2R", "other")
    assert classify(other, ["teleport", "smurf"]) == ["other", "DoS"]
    assert classify(Taxonomy("nsl-kdd", "binary", unknown_label="other"), ["teleport"]) == ["attack"]


def test_class_list_is_complete_and_in_code_order_even_for_absent_classes():
    classes, _ = Taxonomy("nsl-kdd").classify(pd.Series(["normal"]))
    assert list(classes.categories) == ["normal", "DoS", "Probe", "R2L", "U2R"]


def test_invalid_options_are_refused_with_the_choices():
    with pytest.raises(DataError, match="use one of U2R, R2L"):
        Taxonomy("nsl-kdd", httptunnel_class="Probe")
    with pytest.raises(DataError, match="unknown-label policy"):
        Taxonomy("nsl-kdd", unknown_label="ignore")
