"""A party's table as numpy arrays, rows in sample-id order.

After FATE's PSI every party's rows carry the guest's sample ids, so sorting by sample id
aligns the parties' rows without any party revealing anything more than PSI already did.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np

from rf_component.class_weights import validate_row_weights


@dataclass
class PartyTable:
    sample_id: np.ndarray  # (rows,) sorted
    match_id: np.ndarray  # (rows,)
    features: np.ndarray  # (rows, features) float64
    columns: List[str]
    label: Optional[np.ndarray]  # (rows,) int64, guest only
    sample_id_name: str
    match_id_name: str
    sample_weight: Optional[np.ndarray] = None  # (rows,) int64 >= 0, guest only (FATE's weight column)

    @property
    def n_rows(self) -> int:
        return len(self.sample_id)

    def alignment_digest(self) -> str:
        """A digest of the sorted sample ids: equal at two parties iff their rows line up."""
        return hashlib.sha256("\0".join(self.sample_id.astype(str).tolist()).encode("utf-8")).hexdigest()


def read_party_table(df: Any, role: str, require_label: bool) -> PartyTable:
    """Turn a FATE DataFrame into a PartyTable; refuse a label where it must not be."""
    schema = df.schema
    label_name = schema.label_name
    if require_label and label_name is None:
        raise ValueError(
            "the guest's table has no label column: upload A's table with meta label_name (fedids data upload "
            "does this for the party whose manifest columns include the label)"
        )
    if not require_label and label_name is not None:
        raise ValueError(
            f"the {role}'s table has a label column '{label_name}': labels must stay with the guest (party A). "
            "Upload the host table without label_name in its meta."
        )
    weight_name = schema.weight_name
    if weight_name is not None and not require_label:
        raise ValueError(
            f"the {role}'s table has a sample weight column '{weight_name}': sample weights are the guest's "
            "(party A's; they follow its labels). Upload the host table without weight_name in its meta."
        )
    frame = df.as_pd_df()
    if len(frame) == 0:
        raise ValueError(f"the {role}'s table is empty after PSI: the parties share no sample id")
    frame = frame.sort_values(schema.sample_id_name, kind="stable").reset_index(drop=True)
    columns = [str(c) for c in schema.columns]
    label = None
    if label_name is not None:
        raw = frame[label_name].to_numpy()
        label = raw.astype(np.int64)
        if not np.array_equal(label, raw.astype(np.float64)):
            raise ValueError(f"the guest's label column '{label_name}' must hold integer class codes")
    weights = None if weight_name is None else validate_row_weights(frame[weight_name].to_numpy(), weight_name)
    return PartyTable(
        sample_weight=weights,
        sample_id=frame[schema.sample_id_name].to_numpy(),
        match_id=frame[schema.match_id_name].to_numpy(),
        features=frame[columns].to_numpy(dtype=np.float64),
        columns=columns,
        label=label,
        sample_id_name=schema.sample_id_name,
        match_id_name=schema.match_id_name,
    )
