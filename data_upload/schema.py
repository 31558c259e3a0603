"""Column layouts of the supported data sets: feature names, which are categorical, which are not features.

The layouts are the published ones (NSL-KDD/KDD Cup 99: 41 features; UNSW-NB15 training/testing
set CSVs; CIC-IDS2017 MachineLearningCVE; CSE-CIC-IDS2018 "Processed Traffic Data for ML").
Loaders check files against them, so a file of another layout fails at the header instead of
producing a table of wrong columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Optional, Tuple

from data_upload.errors import DataError

DATASETS: Tuple[str, ...] = ("nsl-kdd", "kddcup99", "unsw-nb15", "cic-ids2017", "cse-cic-ids2018")

# Columns every loader adds after the features.
ATTACK_NAME_COLUMN = "attack_name"  # the label as written in the file (surrounding spaces removed)
CLASS_COLUMN = "traffic_class"  # the class it maps to (taxonomy.py), a pandas Categorical

KDD_FEATURES: Tuple[str, ...] = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land", "wrong_fragment",
    "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted",
    "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
    "is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate",
    "rerror_rate", "srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate",
    "dst_host_count", "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)  # fmt: skip
KDD_CATEGORICAL: Tuple[str, ...] = ("protocol_type", "service", "flag")

UNSW_NB15_COLUMNS: Tuple[str, ...] = (
    "id", "dur", "proto", "service", "state", "spkts", "dpkts", "sbytes", "dbytes", "rate", "sttl", "dttl",
    "sload", "dload", "sloss", "dloss", "sinpkt", "dinpkt", "sjit", "djit", "swin", "stcpb", "dtcpb", "dwin",
    "tcprtt", "synack", "ackdat", "smean", "dmean", "trans_depth", "response_body_len", "ct_srv_src",
    "ct_state_ttl", "ct_dst_ltm", "ct_src_dport_ltm", "ct_dst_sport_ltm", "ct_dst_src_ltm", "is_ftp_login",
    "ct_ftp_cmd", "ct_flw_http_mthd", "ct_src_ltm", "ct_srv_dst", "is_sm_ips_ports", "attack_cat", "label",
)  # fmt: skip

# MachineLearningCVE header with the leading spaces stripped. "Fwd Header Length" really is
# there twice (the second copy holds the same values); the loader keeps the first.
CIC_IDS2017_COLUMNS: Tuple[str, ...] = (
    "Destination Port", "Flow Duration", "Total Fwd Packets", "Total Backward Packets",
    "Total Length of Fwd Packets", "Total Length of Bwd Packets", "Fwd Packet Length Max",
    "Fwd Packet Length Min", "Fwd Packet Length Mean", "Fwd Packet Length Std", "Bwd Packet Length Max",
    "Bwd Packet Length Min", "Bwd Packet Length Mean", "Bwd Packet Length Std", "Flow Bytes/s",
    "Flow Packets/s", "Flow IAT Mean", "Flow IAT Std", "Flow IAT Max", "Flow IAT Min", "Fwd IAT Total",
    "Fwd IAT Mean", "Fwd IAT Std", "Fwd IAT Max", "Fwd IAT Min", "Bwd IAT Total", "Bwd IAT Mean",
    "Bwd IAT Std", "Bwd IAT Max", "Bwd IAT Min", "Fwd PSH Flags", "Bwd PSH Flags", "Fwd URG Flags",
    "Bwd URG Flags", "Fwd Header Length", "Bwd Header Length", "Fwd Packets/s", "Bwd Packets/s",
    "Min Packet Length", "Max Packet Length", "Packet Length Mean", "Packet Length Std",
    "Packet Length Variance", "FIN Flag Count", "SYN Flag Count", "RST Flag Count", "PSH Flag Count",
    "ACK Flag Count", "URG Flag Count", "CWE Flag Count", "ECE Flag Count", "Down/Up Ratio",
    "Average Packet Size", "Avg Fwd Segment Size", "Avg Bwd Segment Size", "Fwd Header Length",
    "Fwd Avg Bytes/Bulk", "Fwd Avg Packets/Bulk", "Fwd Avg Bulk Rate", "Bwd Avg Bytes/Bulk",
    "Bwd Avg Packets/Bulk", "Bwd Avg Bulk Rate", "Subflow Fwd Packets", "Subflow Fwd Bytes",
    "Subflow Bwd Packets", "Subflow Bwd Bytes", "Init_Win_bytes_forward", "Init_Win_bytes_backward",
    "act_data_pkt_fwd", "min_seg_size_forward", "Active Mean", "Active Std", "Active Max", "Active Min",
    "Idle Mean", "Idle Std", "Idle Max", "Idle Min", "Label",
)  # fmt: skip

CSE_CIC_IDS2018_COLUMNS: Tuple[str, ...] = (
    "Dst Port", "Protocol", "Timestamp", "Flow Duration", "Tot Fwd Pkts", "Tot Bwd Pkts", "TotLen Fwd Pkts",
    "TotLen Bwd Pkts", "Fwd Pkt Len Max", "Fwd Pkt Len Min", "Fwd Pkt Len Mean", "Fwd Pkt Len Std",
    "Bwd Pkt Len Max", "Bwd Pkt Len Min", "Bwd Pkt Len Mean", "Bwd Pkt Len Std", "Flow Byts/s",
    "Flow Pkts/s", "Flow IAT Mean", "Flow IAT Std", "Flow IAT Max", "Flow IAT Min", "Fwd IAT Tot",
    "Fwd IAT Mean", "Fwd IAT Std", "Fwd IAT Max", "Fwd IAT Min", "Bwd IAT Tot", "Bwd IAT Mean",
    "Bwd IAT Std", "Bwd IAT Max", "Bwd IAT Min", "Fwd PSH Flags", "Bwd PSH Flags", "Fwd URG Flags",
    "Bwd URG Flags", "Fwd Header Len", "Bwd Header Len", "Fwd Pkts/s", "Bwd Pkts/s", "Pkt Len Min",
    "Pkt Len Max", "Pkt Len Mean", "Pkt Len Std", "Pkt Len Var", "FIN Flag Cnt", "SYN Flag Cnt",
    "RST Flag Cnt", "PSH Flag Cnt", "ACK Flag Cnt", "URG Flag Cnt", "CWE Flag Count", "ECE Flag Cnt",
    "Down/Up Ratio", "Pkt Size Avg", "Fwd Seg Size Avg", "Bwd Seg Size Avg", "Fwd Byts/b Avg",
    "Fwd Pkts/b Avg", "Fwd Blk Rate Avg", "Bwd Byts/b Avg", "Bwd Pkts/b Avg", "Bwd Blk Rate Avg",
    "Subflow Fwd Pkts", "Subflow Fwd Byts", "Subflow Bwd Pkts", "Subflow Bwd Byts", "Init Fwd Win Byts",
    "Init Bwd Win Byts", "Fwd Act Data Pkts", "Fwd Seg Size Min", "Active Mean", "Active Std",
    "Active Max", "Active Min", "Idle Mean", "Idle Std", "Idle Max", "Idle Min", "Label",
)  # fmt: skip


def _unique(names: Tuple[str, ...]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class DatasetSchema:
    """What a data set's table holds once loaded.

    ``features`` are the model inputs in file order; ``categorical`` the subset holding strings
    (or codes, like CSE-CIC-IDS2018's protocol number) to be label-encoded; ``label_column`` the
    file's attack-name column; ``id_column`` a per-file record id that must be unique but is not a
    feature; ``dropped`` columns that are in the file but are neither features nor label (ids,
    addresses, timestamps, a second label), removed because they identify records or leak labels.
    """

    name: str
    title: str
    features: Tuple[str, ...]
    categorical: Tuple[str, ...]
    label_column: str
    id_column: Optional[str] = None
    dropped: Tuple[str, ...] = ()

    @property
    def numeric(self) -> Tuple[str, ...]:
        return tuple(c for c in self.features if c not in self.categorical)


_SCHEMAS: Mapping[str, DatasetSchema] = MappingProxyType(
    {
        "nsl-kdd": DatasetSchema(
            name="nsl-kdd",
            title="NSL-KDD",
            features=KDD_FEATURES,
            categorical=KDD_CATEGORICAL,
            label_column=ATTACK_NAME_COLUMN,
            dropped=("difficulty",),
        ),
        "kddcup99": DatasetSchema(
            name="kddcup99",
            title="KDD Cup 1999",
            features=KDD_FEATURES,
            categorical=KDD_CATEGORICAL,
            label_column=ATTACK_NAME_COLUMN,
        ),
        "unsw-nb15": DatasetSchema(
            name="unsw-nb15",
            title="UNSW-NB15",
            features=tuple(c for c in UNSW_NB15_COLUMNS if c not in ("id", "attack_cat", "label")),
            categorical=("proto", "service", "state"),
            label_column="attack_cat",
            id_column="id",
            dropped=("label",),
        ),
        "cic-ids2017": DatasetSchema(
            name="cic-ids2017",
            title="CIC-IDS2017",
            features=_unique(CIC_IDS2017_COLUMNS[:-1]),
            categorical=(),
            label_column="Label",
            # present in the "GeneratedLabelledFlows" copies of the same days
            dropped=("Flow ID", "Source IP", "Source Port", "Destination IP", "Protocol", "Timestamp"),
        ),
        "cse-cic-ids2018": DatasetSchema(
            name="cse-cic-ids2018",
            title="CSE-CIC-IDS2018",
            features=tuple(c for c in CSE_CIC_IDS2018_COLUMNS if c not in ("Timestamp", "Label")),
            categorical=("Protocol",),
            label_column="Label",
            # Tuesday-20-02-2018 has four more columns than the other days
            dropped=("Timestamp", "Flow ID", "Src IP", "Src Port", "Dst IP"),
        ),
    }
)


def schema_for(dataset: str) -> DatasetSchema:
    """The schema of a supported data set (names as in ``DATASETS``)."""
    try:
        return _SCHEMAS[dataset]
    except KeyError:
        raise DataError(f"unknown data set '{dataset}'", hint=f"use one of {', '.join(DATASETS)}") from None
