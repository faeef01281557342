"""Test harness: run the program or a component under Pulumi's mocks and inspect the record.

Built on tools.offline, the engine the offline plan uses, so tests and `make plan`
see the same registrations. Every run records type, name, parent, inputs (secrets keep
Pulumi's marker), dependencies and options of each resource.
"""

import json
import pickle
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from pulumi.runtime import rpc

from airflow_on_k8s.config import parse_stack_config
from airflow_on_k8s.errors import ConfigError
from tools.offline import DEFAULT_SEED, PROJECT_DIR, ProgramRun, RecordedResource, run_program
from tools.offline import plain as plain  # the tests read values through the harness
from tools.plan import load_stack_inputs

# Any character UTF-8 can encode: every code point but the surrogates. The same set as
# hypothesis's default text alphabet, `characters(codec="utf-8")`, which finds it by encoding all
# 1.1 million code points on its first use in a process that has no .hypothesis cache (~1 s in
# each xdist worker of a fresh clone); the Unicode categories come from a table built in ~0.1 s.
ANY_CHARACTER = st.characters(exclude_categories=["Cs"])

SHARED_DIR = PROJECT_DIR.parent / "shared"
CHART_DIR = SHARED_DIR / "airflow-chart"
SECRET_TYPE = "kubernetes:core/v1:Secret"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
GITHUB_KNOWN_HOSTS = (
    "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
)
METADATA_CONNECTION = "postgresql://airflow:s3cr3t-Passw0rd@db.example.com:5432/airflow?sslmode=require"
KUBELET_OBJECT_ID = "3f2c8a1e-6b7d-4e0f-9a51-2d8c4b6e7f10"
SUBNET_ID = ("/subscriptions/6c1f3d2a-8e4b-4b7c-9d0e-1a2b3c4d5e6f/resourceGroups/rg-net/providers/"
             "Microsoft.Network/virtualNetworks/vnet/subnets/snet-postgres")
NODE_SUBNET_ID = SUBNET_ID.replace("snet-postgres", "snet-aks")
API_SERVER_SUBNET_ID = SUBNET_ID.replace("snet-postgres", "snet-aks-apiserver")
DNS_ZONE_ID = ("/subscriptions/6c1f3d2a-8e4b-4b7c-9d0e-1a2b3c4d5e6f/resourceGroups/rg-net/providers/"
               "Microsoft.Network/privateDnsZones/airflow.postgres.database.azure.com")


def minimal_config(**overrides: str) -> dict[str, str]:
    """The smallest valid raw config (short keys, Pulumi's string values): an existing database
    (so no network settings are needed in either environment) and an image built into ACR."""
    config = {
        "gitRepo": "git@github.com:example/dags.git",
        "gitKnownHosts": GITHUB_KNOWN_HOSTS,
        "postgresMode": "existing",
        "postgresExistingFqdn": "db.example.com",
        "metadataConnection": METADATA_CONNECTION,
        "kubeletObjectId": KUBELET_OBJECT_ID,
        "networkPostgresCidrs": '["10.20.4.0/24"]',
        "networkKubeApiCidrs": '["198.51.100.10/32"]',
        "clusterOidcIssuerUrl": "https://westeurope.oic.prod-aks.azure.com/tenant/issuer/",
        "networkHttpsEgressCidrs": '["20.190.128.0/18"]',
    }
    config.update(overrides)
    return config


def managed_config(network: str = "private", **overrides: str) -> dict[str, str]:
    """Valid config with a managed Flexible Server on the given network."""
    config = minimal_config(postgresMode="managed", postgresNetwork=network)
    del config["postgresExistingFqdn"], config["metadataConnection"]
    if network == "private":
        # The database's range is read from its delegated subnet, never typed.
        del config["networkPostgresCidrs"]
        config.update(postgresDelegatedSubnetId=SUBNET_ID, postgresPrivateDnsZoneId=DNS_ZONE_ID)
    else:
        config["postgresAllowedCidrs"] = '["203.0.113.10/32"]'
    config.update(overrides)
    return config


def created_cluster_config(**overrides: str) -> dict[str, str]:
    """minimal_config with an AKS cluster created by the program: its issuer, kubelet identity and
    API server range come from the cluster, so none is typed."""
    config = minimal_config(clusterMode="create", clusterSubnetId=NODE_SUBNET_ID,
                            clusterApiServerSubnetId=API_SERVER_SUBNET_ID)
    del config["clusterOidcIssuerUrl"], config["networkKubeApiCidrs"], config["kubeletObjectId"]
    config.update(overrides)
    return config


MINIMAL_SECRET_KEYS = frozenset({"metadataConnection"})


def assert_one_line_config_error(config: Mapping[str, str], key: str, allowed: str, *, stack: str = "prod",
                                 secret_keys: frozenset[str] = MINIMAL_SECRET_KEYS) -> str:
    """Parse `config`, expect a ConfigError on one line naming `key` and `allowed`; return its text."""
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(config, stack=stack, secret_keys=secret_keys)
    message = str(caught.value)
    assert "\n" not in message
    assert f"airflow-on-k8s:{key}" in message
    assert allowed in message
    return message


# (stack, config, secret keys, seed) -> the pickled run. A run is a function of these (the
# placeholder randomness derives from the seed), and ~0.5 s, so each one runs once per process;
# bytes, because every caller gets its own copy to read or change without touching another's.
_RUNS: dict[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...], str], bytes] = {}


def run_once(stack: str, config: Mapping[str, str], secret_keys: frozenset[str] = frozenset(),
             seed: str = DEFAULT_SEED) -> ProgramRun:
    """run_program from no previous state, run once per process per distinct input: a fresh copy
    of the recorded run each call (unpickling costs ~3 ms). A run that raises is not kept."""
    key = (stack, tuple(sorted(config.items())), tuple(sorted(secret_keys)), seed)
    recorded = _RUNS.get(key)
    if recorded is None:
        recorded = pickle.dumps(run_program(stack, config, secret_keys, seed=seed), pickle.HIGHEST_PROTOCOL)
        _RUNS[key] = recorded
    run: ProgramRun = pickle.loads(recorded)
    return run


def run_stack(stack: str, previous: ProgramRun | None = None, seed: str = DEFAULT_SEED) -> ProgramRun:
    """The real program with the committed Pulumi.<stack>.yaml, as `make plan` runs it.

    Another `seed` stands for another fresh stack: placeholder keys and generated names differ."""
    inputs = load_stack_inputs(stack)
    if previous is None:
        return run_once(stack, inputs.config, inputs.secret_keys, seed)
    return run_program(stack, inputs.config, inputs.secret_keys, previous_state=previous.state, seed=seed)


def run_config(config: Mapping[str, str], stack: str = "dev",
               secret_keys: frozenset[str] = MINIMAL_SECRET_KEYS,
               previous: ProgramRun | None = None) -> ProgramRun:
    if previous is None:
        return run_once(stack, config, secret_keys)
    return run_program(stack, config, secret_keys, previous_state=previous.state)


def run_component(build: Callable[[], object], stack: str = "test") -> ProgramRun:
    """Run only `build` (which creates resources) under the same mocks."""
    return run_program(stack, {}, program=build)


def without_secrets(value: Any) -> Any:
    """A value with every secret-marked subtree cut out: what a state file shows in clear."""
    if rpc.is_rpc_secret(value):
        return None
    if isinstance(value, Mapping):
        return {key: without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def secrets_in(value: Any) -> Iterator[Any]:
    """Every secret-marked value inside `value`."""
    if rpc.is_rpc_secret(value):
        yield rpc.unwrap_rpc_secret(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secrets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from secrets_in(item)


def string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from string_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from string_leaves(item)


def secret_data(run: ProgramRun) -> dict[str, dict[str, str]]:
    """Kubernetes Secret name -> its stringData, unwrapped."""
    return {
        resource.inputs["metadata"]["name"]: plain(resource.inputs.get("stringData", {}))
        for resource in run.of_type(SECRET_TYPE)
    }


def helm_release(run: ProgramRun, chart: str) -> RecordedResource:
    """The one Release of `chart` (a created cluster also gets the ingress controller's and cert-manager's)."""
    releases = [release for release in run.of_type(RELEASE_TYPE) if release.inputs.get("chart") == chart]
    assert len(releases) == 1, f"expected one {chart} release, found {len(releases)}"
    return releases[0]


def airflow_release(run: ProgramRun) -> RecordedResource:
    return helm_release(run, "airflow")


def helm_values(run: ProgramRun) -> dict[str, Any]:
    values: dict[str, Any] = json.loads(json.dumps(plain(airflow_release(run).inputs["values"])),
                                        parse_float=_int_if_integral)
    return values


def ui_section(values: Mapping[str, Any]) -> str:
    """The chart section of the UI pods: `webserver` on Airflow 2, `apiServer` on Airflow 3."""
    return "webserver" if str(values["airflowVersion"]).startswith("2.") else "apiServer"


def _int_if_integral(text: str) -> float | int:
    number = float(text)
    return int(number) if number.is_integer() else number


def chart_file(version: str, name: str) -> Path:
    return CHART_DIR / version / name
