"""Pipeline-side `HeteroRandomForest`: use the component in a FATE pipeline like a built-in.

    rf = HeteroRandomForest("rf_0", train_data=psi_0.outputs["output_data"], num_class=5,
                            num_trees=100, he_param={"kind": "paillier", "key_length": 1024})

The parameter definitions come from hetero_random_forest.yaml, written by
`python -W ignore -m fate.components component desc --name hetero_random_forest --save
rf_component/hetero_random_forest.yaml`; regenerate it whenever the component's signature
changes (the client validates parameters against it; a unit test checks they agree).
"""

from __future__ import annotations

from pathlib import Path

from fate_client.pipeline.components.component_base import Component
from fate_client.pipeline.conf.types import PlaceHolder

UNSET = PlaceHolder()  # "not set": FATE fills in the component's default
DEFINITION = str(Path(__file__).resolve().with_name("hetero_random_forest.yaml"))


class HeteroRandomForest(Component):
    yaml_define_path = DEFINITION

    def __init__(
        self,
        _name: str,
        runtime_parties: dict = None,
        train_data=UNSET,
        num_class: int = UNSET,
        num_trees: int = UNSET,
        max_depth: int = UNSET,
        min_samples_split: int = UNSET,
        min_samples_leaf: int = UNSET,
        tree_feature_fraction: float = UNSET,
        node_max_features: str = UNSET,
        max_bin: int = UNSET,
        bootstrap: bool = UNSET,
        class_weight: str = UNSET,
        vote: str = UNSET,
        seed: int = UNSET,
        he_param: dict = UNSET,
        train_output_data=UNSET,
        output_model=UNSET,
        test_data=UNSET,
        input_model=UNSET,
        test_output_data=UNSET,
    ):
        inputs = locals()
        self._process_init_inputs(inputs)
        super().__init__()
        self._name = _name
        self.runtime_parties = runtime_parties
        self.train_data = train_data
        self.num_class = num_class
        self.num_trees = num_trees
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.tree_feature_fraction = tree_feature_fraction
        self.node_max_features = node_max_features
        self.max_bin = max_bin
        self.bootstrap = bootstrap
        self.class_weight = class_weight
        self.vote = vote
        self.seed = seed
        self.he_param = he_param
        self.train_output_data = train_output_data
        self.output_model = output_model
        self.test_data = test_data
        self.input_model = input_model
        self.test_output_data = test_output_data
