from __future__ import annotations

import copy

import pytest
import yaml

from fedids.config import ConfigError, load_parties, parse_parties

VALID = {
    "parties": {"A": 9999, "B": 10000, "C": 10001},
    "fate_flow": {"host": "127.0.0.1", "http_port": 9380},
    "pipelines": {
        "vertical_rf": {"guest": "A", "host": ["B"], "arbiter": "C"},
        "psi_check": {"guest": "A", "host": "B"},
    },
}


def parse(raw, env=None):
    return parse_parties(raw, "parties.yaml", env={} if env is None else env)


def broken(mutate):
    raw = copy.deepcopy(VALID)
    mutate(raw)
    return raw


def test_repository_parties_file_is_valid_and_maps_a_b_c_to_default_ids():
    cfg = load_parties(env={})
    assert {p: cfg.party_ids[p] for p in "ABC"} == {"A": "9999", "B": "10000", "C": "10001"}
    roles = cfg.roles("vertical_rf")
    assert (roles.guest, roles.hosts, roles.arbiter) == ("A", ["B"], "C")
    assert cfg.flow.url == "http://127.0.0.1:9380"


def test_single_host_may_be_written_without_a_list():
    assert parse(VALID).roles("psi_check").hosts == ["B"]


def test_malformed_party_name_is_named():
    with pytest.raises(ConfigError, match=r"parties\.client1.*not one to three capital letters"):
        parse(broken(lambda r: r["parties"].update(client1=10002)))


def test_further_clients_may_be_defined_and_counted_in_roles():
    raw = broken(lambda r: (r["parties"].update(D=10002, Z=10025),
                            r["pipelines"].update(homo={"guest": "A", "host": ["B", "C", "D"], "arbiter": "Z"})))
    cfg = parse(raw)
    assert cfg.party_id("D") == "10002"
    two = cfg.roles("homo").with_clients(2)
    assert (two.guest, two.hosts, two.arbiter) == ("A", ["B"], "Z")
    assert cfg.with_roles("homo", two).roles("homo").hosts == ["B"]
    assert cfg.roles("homo").hosts == ["B", "C", "D"]  # the original is unchanged
    with pytest.raises(ValueError, match="5 clients asked"):
        cfg.roles("homo").with_clients(5)


def test_duplicate_party_id_is_named():
    with pytest.raises(ConfigError, match=r"parties\.B.*10000.*already used by party A"):
        parse(broken(lambda r: r["parties"].update(A=10000)))


def test_role_naming_an_undefined_party_is_named():
    with pytest.raises(ConfigError, match=r"pipelines\.vertical_rf\.arbiter.*party 'X'"):
        parse(broken(lambda r: r["pipelines"]["vertical_rf"].update(arbiter="X")))


def test_role_without_a_party_is_named():
    with pytest.raises(ConfigError, match=r"pipelines\.vertical_rf\.guest.*missing"):
        parse(broken(lambda r: r["pipelines"]["vertical_rf"].pop("guest")))


def test_unknown_role_is_named():
    with pytest.raises(ConfigError, match=r"pipelines\.vertical_rf\.server.*unknown role"):
        parse(broken(lambda r: r["pipelines"]["vertical_rf"].update(server="B")))


def test_party_with_two_roles_in_one_pipeline_is_refused():
    with pytest.raises(ConfigError, match=r"pipelines\.vertical_rf.*more than one role"):
        parse(broken(lambda r: r["pipelines"]["vertical_rf"].update(arbiter="A")))


@pytest.mark.parametrize(
    "path, key",
    [
        (("parties",), "parties"),
        (("fate_flow",), "fate_flow"),
        (("fate_flow", "host"), "fate_flow.host"),
        (("fate_flow", "http_port"), "fate_flow.http_port"),
        (("pipelines",), "pipelines"),
    ],
)
def test_missing_key_is_named(path, key):
    def drop(raw):
        target = raw
        for part in path[:-1]:
            target = target[part]
        target.pop(path[-1])

    with pytest.raises(ConfigError) as err:
        parse(broken(drop))
    assert err.value.key == key
    assert f"'{key}'" in str(err.value) and "missing" in str(err.value)


def test_bad_port_is_named():
    with pytest.raises(ConfigError, match=r"fate_flow\.http_port.*TCP port"):
        parse(broken(lambda r: r["fate_flow"].update(http_port="http")))


def test_unknown_top_level_key_is_named():
    with pytest.raises(ConfigError, match=r"key 'partys'.*unknown key"):
        parse(broken(lambda r: r.update(partys={})))


def test_unknown_pipeline_is_named_on_lookup():
    with pytest.raises(ConfigError, match=r"pipelines\.homo_crnn.*defined: psi_check, vertical_rf"):
        parse(VALID).roles("homo_crnn")


def test_environment_overrides_flow_address_for_moved_ports():
    cfg = parse(VALID, env={"FEDIDS_FLOW_HOST": "10.1.2.3", "FEDIDS_FLOW_HTTP_PORT": "9480"})
    assert cfg.flow.url == "http://10.1.2.3:9480"


def test_cluster_address_is_a_configuration_change_only(tmp_path):
    raw = broken(lambda r: r["fate_flow"].update(host="fateflow.cluster.example", http_port=9380))
    path = tmp_path / "parties.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_parties(path, env={}).flow.url == "http://fateflow.cluster.example:9380"


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "parties.yaml"
    path.write_text("parties:\n  A: 9999\n  B: [10000\n")
    with pytest.raises(ConfigError, match=r"parties\.yaml.*not valid YAML \(line \d+\)"):
        load_parties(path, env={})


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml.*file not found"):
        load_parties(tmp_path / "nope.yaml", env={})
