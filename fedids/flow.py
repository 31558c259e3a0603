"""Talking to FATE Flow: is it up, and pointing fate_client's pipeline API at it.

fate_client reads its FATE Flow address once, from the settings file that `pipeline init`
writes into its own package. FedIDS takes the address from conf/parties.yaml instead, so
that a cluster is a configuration change: `use_flow` sets it on fate_client before any
pipeline is built.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from fedids.config import FlowAddress


def flow_is_up(flow: FlowAddress, timeout_s: float = 3.0) -> bool:
    """True when FATE Flow's server API answers with code 0."""
    try:
        with urllib.request.urlopen(f"{flow.url}/v2/server/fateflow", timeout=timeout_s) as response:
            body = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(body, dict) and body.get("code") == 0


def use_flow(flow: FlowAddress) -> None:
    """Point fate_client's pipeline API (FateFlowPipeline) at this FATE Flow."""
    from fate_client.pipeline.conf.env_config import FlowConfig

    FlowConfig.IP = flow.host
    FlowConfig.PORT = flow.http_port
    FlowConfig.VERSION = FlowConfig.VERSION or "v2"
