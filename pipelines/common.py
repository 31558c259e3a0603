"""What every FedIDS pipeline needs: a FateFlowPipeline with the parties of conf/ set.

Pipelines say who runs what; party ids and the FATE Flow address come from conf/parties.yaml,
so the same pipeline runs on standalone and on a cluster.
"""

from __future__ import annotations

from typing import Any, Dict, List

from fedids.config import PartiesConfig, PipelineRoles
from fedids.flow import use_flow


def role_party_ids(cfg: PartiesConfig, roles: PipelineRoles) -> Dict[str, Any]:
    """FATE party ids per role, in the shape FateFlowPipeline.set_parties takes."""
    ids: Dict[str, Any] = {"guest": cfg.party_id(roles.guest)}
    if roles.hosts:
        hosts: List[str] = [cfg.party_id(h) for h in roles.hosts]
        ids["host"] = hosts[0] if len(hosts) == 1 else hosts
    if roles.arbiter is not None:
        ids["arbiter"] = cfg.party_id(roles.arbiter)
    return ids


def new_pipeline(cfg: PartiesConfig, pipeline: str):
    """A FateFlowPipeline bound to the configured FATE Flow, with the pipeline's parties."""
    use_flow(cfg.flow)
    from fate_client.pipeline import FateFlowPipeline

    return FateFlowPipeline().set_parties(**role_party_ids(cfg, cfg.roles(pipeline)))


def data_parties(cfg: PartiesConfig, roles: PipelineRoles) -> Dict[str, Any]:
    """runtime_parties of a task the data parties run (guest and hosts, if any; not the arbiter)."""
    parties: Dict[str, Any] = {"guest": cfg.party_id(roles.guest)}
    if roles.hosts:
        parties["host"] = [cfg.party_id(h) for h in roles.hosts]
    return parties


def reader_task(name: str, cfg: PartiesConfig, pipeline: str, tables: Dict[str, Any]):
    """A Reader task that reads each data party's table (by party name) in its role of ``pipeline``."""
    from fate_client.pipeline.components.fate import Reader

    roles = cfg.roles(pipeline)
    reader = Reader(name, runtime_parties=data_parties(cfg, roles))
    reader.guest.task_parameters(namespace=tables[roles.guest].namespace, name=tables[roles.guest].name)
    for i, host in enumerate(roles.hosts):
        reader.hosts[i].task_parameters(namespace=tables[host].namespace, name=tables[host].name)
    return reader
