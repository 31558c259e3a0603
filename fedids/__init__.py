"""FedIDS: federated network intrusion detection on FATE 2.2."""

__version__ = "0.1.0"
