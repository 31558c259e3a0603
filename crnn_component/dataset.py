"""The dataset homo_nn feeds the CRNN with: FATE's TableDataset with a fixed class list.

FATE 2.2's ``TableDataset.get_classes`` returns ``np.unique`` of the labels the client holds,
and homo_nn writes ``predict_detail`` with one probability per class of that list. A client
whose data lacks a class (e.g. U2R, or any label-skewed split) would then publish fewer
columns than the model has outputs (FATE fails, or mislabels the probabilities). This dataset
takes the full class count from the job instead, and refuses input the CRNN cannot use:
an empty table, a feature count other than the model's, or a label outside 0..class_num-1.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
from fate.ml.nn.dataset.table import TableDataset


class CrnnInputError(ValueError):
    """A client's table does not fit the federated CRNN; the message says what and how to fix it."""


class CRNNTableDataset(TableDataset):
    """TableDataset with ``class_num`` classes 0..class_num-1, whatever this client holds."""

    def __init__(self, class_num: int, feat: Optional[int] = None, data_name: str = "data", **kwargs) -> None:
        kwargs.setdefault("flatten_label", True)
        kwargs.setdefault("label_dtype", "long")
        kwargs.setdefault("to_tensor", True)
        super().__init__(**kwargs)
        if int(class_num) < 2:
            raise CrnnInputError(f"class_num must be at least 2, got {class_num}")
        self.class_num = int(class_num)
        self.expected_feat = None if feat is None else int(feat)
        self.data_name = data_name

    def load(self, data_or_path):
        try:
            super().load(data_or_path)
        except ValueError:
            # FATE's TableDataset fails on 0 rows with "cannot reshape array of size 0"
            if self.features is not None and len(self.features) == 0:
                self._refuse_empty()
            raise
        self.check()

    def _refuse_empty(self) -> None:
        raise CrnnInputError(
            f"FedIDS CRNN: this client's {self.data_name} table is empty (0 rows): every client "
            "of homo_nn needs training rows; drop the client from the pipeline or give it data") from None

    def check(self) -> None:
        """Refuse an empty table, a feature count other than the model's, and unknown labels."""
        n_rows = 0 if self.features is None else len(self.features)
        if n_rows == 0:
            self._refuse_empty()
        n_feat = self.features.shape[1] if self.features.ndim == 2 else 1
        if self.expected_feat is not None and n_feat != self.expected_feat:
            raise CrnnInputError(
                f"FedIDS CRNN: this client's {self.data_name} table has {n_feat} feature columns but the "
                f"model was built for {self.expected_feat}: every client must hold the same features in "
                "the same order (prepare all clients' tables in one `fedids data prepare --layout horizontal`)")
        if self.label is not None:
            labels = np.asarray(self.label).reshape(-1)
            bad = sorted({int(v) for v in np.unique(labels) if v < 0 or v >= self.class_num})
            if bad:
                raise CrnnInputError(
                    f"FedIDS CRNN: this client's {self.data_name} table has label(s) {bad} outside the class "
                    f"list 0..{self.class_num - 1} ({self.class_num} classes): relabel the data or set the "
                    "class count to the data set's full class list")

    def get_classes(self) -> List[int]:
        return list(range(self.class_num))
