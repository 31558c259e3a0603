"""Load and validate conf/parties.yaml: parties, FATE Flow address, roles per pipeline.

Every error names the file and the key (e.g. ``pipelines.vertical_rf.arbiter``) and says
what to write instead, because a wrong party id found only when FATE Flow rejects a job
costs minutes, and a silently wrong role leaks data to the wrong organisation.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from fedids.paths import conf_dir

ROLES = ("guest", "host", "arbiter")
# A, B, C are the three organisations; further names (D, E, ..., AA) are extra horizontal
# clients or a separate aggregator for benchmarks with more clients (data_upload names
# horizontal clients A, B, C, ... in this order).
PARTY_NAME = re.compile(r"^[A-Z]{1,3}$")


class ConfigError(ValueError):
    """A configuration file is missing, malformed, or names something that does not exist."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        self.path = str(path)
        self.key = key
        super().__init__(f"{path}: key '{key}': {message}")


@dataclass(frozen=True)
class FlowAddress:
    """Where FATE Flow's HTTP API answers."""

    host: str
    http_port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"


@dataclass(frozen=True)
class PipelineRoles:
    """Which party plays which FATE role in one pipeline."""

    guest: str
    hosts: List[str] = field(default_factory=list)
    arbiter: Optional[str] = None

    def with_clients(self, n_clients: int) -> PipelineRoles:
        """The same roles with only the first ``n_clients`` data parties (guest, then hosts in order)."""
        if not 1 <= n_clients <= 1 + len(self.hosts):
            raise ValueError(f"{n_clients} clients asked, but the roles list {1 + len(self.hosts)} "
                             f"(guest {self.guest}, hosts {', '.join(self.hosts) or 'none'})")
        return replace(self, hosts=list(self.hosts[: n_clients - 1]))

    def parties(self) -> List[str]:
        """All parties of the pipeline, guest first, then hosts, then the arbiter."""
        names = [self.guest, *self.hosts]
        if self.arbiter is not None:
            names.append(self.arbiter)
        return names


@dataclass(frozen=True)
class PartiesConfig:
    """The validated content of parties.yaml."""

    party_ids: Dict[str, str]
    flow: FlowAddress
    pipelines: Dict[str, PipelineRoles]
    source: str = "<memory>"

    def roles(self, pipeline: str) -> PipelineRoles:
        if pipeline not in self.pipelines:
            raise ConfigError(
                self.source,
                f"pipelines.{pipeline}",
                f"no roles are defined for pipeline '{pipeline}'; "
                f"defined: {', '.join(sorted(self.pipelines)) or 'none'}",
            )
        return self.pipelines[pipeline]

    def party_id(self, party: str) -> str:
        return self.party_ids[party]

    def with_roles(self, pipeline: str, roles: PipelineRoles) -> PartiesConfig:
        """A copy in which ``pipeline`` has ``roles`` (benchmarks vary the number of clients)."""
        return replace(self, pipelines={**self.pipelines, pipeline: roles})


def _require(mapping: Mapping[str, Any], key: str, path: Path | str, prefix: str = "") -> Any:
    full = f"{prefix}{key}"
    if not isinstance(mapping, Mapping):
        raise ConfigError(path, prefix.rstrip(".") or "<top>", "must be a mapping of keys to values")
    if key not in mapping or mapping[key] is None:
        raise ConfigError(path, full, "is missing; see conf/parties.yaml in the repository for an example")
    return mapping[key]


def _parse_party_ids(raw: Any, path: Path | str) -> Dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(path, "parties", "must map party names (A, B, C) to FATE party ids")
    party_ids: Dict[str, str] = {}
    seen: Dict[str, str] = {}
    for name, pid in raw.items():
        name = str(name)
        if not PARTY_NAME.match(name):
            raise ConfigError(
                path, f"parties.{name}",
                f"party name '{name}' is not one to three capital letters (A, B, C, ..., Z, AA, ...); "
                "FedIDS names the horizontal clients that way",
            )
        if isinstance(pid, bool) or not isinstance(pid, (int, str)) or not str(pid).strip().isdigit():
            raise ConfigError(path, f"parties.{name}", f"party id must be a positive integer, got {pid!r}")
        pid = str(pid).strip()
        if pid in seen:
            raise ConfigError(
                path,
                f"parties.{name}",
                f"party id {pid} is already used by party {seen[pid]}; every party needs its own id",
            )
        seen[pid] = name
        party_ids[name] = pid
    return party_ids


def _parse_flow(raw: Any, path: Path | str, env: Mapping[str, str]) -> FlowAddress:
    host = str(env.get("FEDIDS_FLOW_HOST") or _require(raw, "host", path, "fate_flow."))
    port_raw = env.get("FEDIDS_FLOW_HTTP_PORT") or _require(raw, "http_port", path, "fate_flow.")
    try:
        port = int(port_raw)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise ConfigError(path, "fate_flow.http_port", f"must be a TCP port (1-65535), got {port_raw!r}")
    return FlowAddress(host=host, http_port=port)


def _parse_roles(name: str, raw: Any, party_ids: Mapping[str, str], path: Path | str) -> PipelineRoles:
    prefix = f"pipelines.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(path, prefix, "must map roles (guest, host, arbiter) to parties")
    for role in raw:
        if role not in ROLES:
            raise ConfigError(path, f"{prefix}.{role}", f"unknown role '{role}'; roles are {', '.join(ROLES)}")

    def party(role: str, value: Any) -> str:
        value = str(value)
        if value not in party_ids:
            raise ConfigError(
                path,
                f"{prefix}.{role}",
                f"names party '{value}', which is not under 'parties' "
                f"(defined: {', '.join(party_ids) or 'none'})",
            )
        return value

    guest = party("guest", _require(raw, "guest", path, prefix + "."))
    hosts_raw = raw.get("host") or []
    if not isinstance(hosts_raw, list):
        hosts_raw = [hosts_raw]
    hosts = [party("host", h) for h in hosts_raw]
    arbiter = party("arbiter", raw["arbiter"]) if raw.get("arbiter") is not None else None
    everyone = [guest, *hosts] + ([arbiter] if arbiter else [])
    duplicates = sorted({p for p in everyone if everyone.count(p) > 1})
    if duplicates:
        raise ConfigError(
            path, prefix, f"party {', '.join(duplicates)} plays more than one role; give each role its own party"
        )
    return PipelineRoles(guest=guest, hosts=hosts, arbiter=arbiter)


def parse_parties(raw: Any, source: Path | str = "<memory>", env: Optional[Mapping[str, str]] = None) -> PartiesConfig:
    """Validate the parsed YAML of parties.yaml; raise ConfigError naming the key at fault."""
    env = os.environ if env is None else env
    if not isinstance(raw, Mapping):
        raise ConfigError(source, "<top>", "the file must be a YAML mapping with 'parties', 'fate_flow', 'pipelines'")
    known = {"parties", "fate_flow", "pipelines"}
    for key in raw:
        if key not in known:
            raise ConfigError(source, str(key), f"unknown key; expected one of {', '.join(sorted(known))}")
    party_ids = _parse_party_ids(_require(raw, "parties", source), source)
    flow = _parse_flow(_require(raw, "fate_flow", source), source, env)
    pipelines_raw = _require(raw, "pipelines", source)
    if not isinstance(pipelines_raw, Mapping):
        raise ConfigError(source, "pipelines", "must map pipeline names to their roles")
    pipelines = {str(n): _parse_roles(str(n), r, party_ids, source) for n, r in pipelines_raw.items()}
    return PartiesConfig(party_ids=party_ids, flow=flow, pipelines=pipelines, source=str(source))


def load_parties(path: Path | str | None = None, env: Optional[Mapping[str, str]] = None) -> PartiesConfig:
    """Read and validate parties.yaml (default: conf/parties.yaml)."""
    path = Path(path) if path is not None else conf_dir() / "parties.yaml"
    if not path.is_file():
        raise ConfigError(path, "<file>", "file not found; copy conf/parties.yaml from the repository")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "unknown line"
        raise ConfigError(path, "<file>", f"is not valid YAML ({where}): {exc}") from exc
    return parse_parties(raw, path, env)
