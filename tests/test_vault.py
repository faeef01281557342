"""Vault: Kubernetes auth, the read-only policy, the role, and Airflow's secrets backend."""

import base64
import json

import pytest
from pulumi.runtime import rpc

from airflow_on_k8s.config import VaultConfig, parse_stack_config
from airflow_on_k8s.errors import ConfigError
from airflow_on_k8s.vault import VAULT_BACKEND_CLASS, backend_kwargs, read_only_policy
from policies.airflow_policies.vault import policy_blocks
from tests.harness import (
    MINIMAL_SECRET_KEYS,
    assert_one_line_config_error,
    helm_values,
    minimal_config,
    plain,
    run_config,
    secrets_in,
    string_leaves,
    without_secrets,
)
from tools.offline import ProgramRun

ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
POLICY = "vault:index/policy:Policy"
AUTH = "vault:index/authBackend:AuthBackend"
AUTH_CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig"
KV_SECRET = "vault:kv/secretV2:SecretV2"
MOUNT = "vault:index/mount:Mount"

# VaultBackend.__init__ of apache-airflow-providers-hashicorp==3.8.0 (the version the Airflow 2 line,
# image/requirements/airflow-2.txt, pins), read from airflow/providers/hashicorp/secrets/vault.py
# in its wheel. The package needs apache-airflow itself, too heavy to install for the tests, so the
# list is pinned here. Anything else goes through **kwargs to hvac.Client, where `namespace` is a documented parameter.
VAULT_BACKEND_PARAMETERS = frozenset({
    "connections_path", "variables_path", "config_path", "url", "auth_type", "auth_mount_point",
    "mount_point", "kv_engine_version", "token", "token_path", "username", "password", "key_id", "secret_id",
    "role_id", "assume_role_kwargs", "kubernetes_role", "kubernetes_jwt_path", "gcp_key_path",
    "gcp_keyfile_dict", "gcp_scopes", "azure_tenant_id", "azure_resource", "radius_host", "radius_secret",
    "radius_port",
})
HVAC_CLIENT_KWARGS = frozenset({"namespace"})
VAULT = {"vaultAddress": "https://vault.example.com:8200", "vaultKubernetesHost": "https://k8s.example.com:443",
         "networkVaultCidrs": '["10.30.0.0/24"]'}


def vault_config(**overrides: str) -> VaultConfig:
    config = parse_stack_config(minimal_config(**VAULT, **overrides), stack="prod",
                                secret_keys=MINIMAL_SECRET_KEYS | {"vaultSeedConnections", "vaultSeedVariables"})
    assert config.vault is not None
    return config.vault


def test_backend_kwargs_match_vault_backend_signature() -> None:
    kwargs = backend_kwargs(vault_config(vaultNamespace="data-platform"))
    assert set(kwargs) <= VAULT_BACKEND_PARAMETERS | HVAC_CLIENT_KWARGS
    assert kwargs == {
        "connections_path": "connections", "variables_path": "variables", "mount_point": "airflow",
        "kv_engine_version": 2, "url": "https://vault.example.com:8200", "auth_type": "kubernetes",
        "auth_mount_point": "kubernetes", "kubernetes_role": "airflow",
        "kubernetes_jwt_path": "/var/run/secrets/kubernetes.io/serviceaccount/token", "namespace": "data-platform",
    }
    assert "namespace" not in backend_kwargs(vault_config())


def test_release_configures_the_vault_backend(stack_run: ProgramRun) -> None:
    secrets = helm_values(stack_run)["config"]["secrets"]
    assert secrets["backend"] == VAULT_BACKEND_CLASS
    kwargs = json.loads(secrets["backend_kwargs"])
    assert set(kwargs) <= VAULT_BACKEND_PARAMETERS | HVAC_CLIENT_KWARGS
    assert kwargs["kubernetes_role"] == plain(stack_run.one(ROLE).inputs)["roleName"]
    assert kwargs["auth_mount_point"] == plain(stack_run.one(AUTH).inputs)["path"]
    # The chart passes config through `tpl`: a literal "{{" would break the render.
    assert "{{" not in secrets["backend_kwargs"] and "}}" not in secrets["backend_kwargs"]


def test_policy_reads_only_the_two_folders() -> None:
    settings = vault_config(vaultKvMount="team/airflow")
    assert policy_blocks(read_only_policy(settings)) == [
        ("team/airflow/data/connections/*", {"read"}), ("team/airflow/data/variables/*", {"read"})]


def test_role_binds_exactly_the_chart_service_accounts(stack_run: ProgramRun) -> None:
    role = plain(stack_run.one(ROLE).inputs)
    accounts = stack_run.outputs["serviceAccounts"]
    expected = [accounts["worker"], accounts["scheduler"], accounts["triggerer"]]
    if "apiServer" in accounts:
        # Airflow 3: the api-server answers the tasks' fallback lookups, the dag-processor runs top-level code.
        expected += [accounts["apiServer"], accounts["dagProcessor"]]
    assert role["boundServiceAccountNames"] == expected
    assert role["boundServiceAccountNamespaces"] == [stack_run.outputs["namespace"]]
    assert role["tokenTtl"] == 3600 and role["tokenMaxTtl"] == 3600
    assert role["tokenPolicies"] == [plain(stack_run.one(POLICY).inputs)["name"]]
    assert role["backend"] == plain(stack_run.one(AUTH).inputs)["path"]


def test_webserver_is_bound_only_when_asked() -> None:
    run = run_config(minimal_config(**VAULT, vaultBindWebserver="true"))
    assert "airflow-webserver" in plain(run.one(ROLE).inputs)["boundServiceAccountNames"]


def test_token_review_uses_a_dedicated_service_account(stack_run: ProgramRun) -> None:
    binding = plain(stack_run.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").inputs)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "system:auth-delegator"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "vault-token-reviewer",
                                    "namespace": stack_run.outputs["namespace"]}]
    token = stack_run.one("kubernetes:core/v1:Secret", "vault-token-reviewer-token")
    assert token.inputs["type"] == "kubernetes.io/service-account-token"
    assert token.inputs["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "vault-token-reviewer"}
    config = stack_run.one(AUTH_CONFIG).inputs
    assert rpc.is_rpc_secret(config["tokenReviewerJwt"])
    state = plain(token.outputs["data"])
    assert plain(config["tokenReviewerJwt"]) == base64.b64decode(state["token"]).decode()
    assert plain(config["kubernetesCaCert"]) == base64.b64decode(state["ca.crt"]).decode()
    assert plain(config["kubernetesHost"]).startswith("https://")


def test_vault_provider_has_no_token_input(stack_run: ProgramRun) -> None:
    provider = plain(stack_run.one("pulumi:providers:vault").inputs)
    assert provider["address"].startswith("https://")
    assert "token" not in provider


def test_kv_mount_is_optional_and_seeds_stay_secret() -> None:
    seeds = json.dumps({"warehouse": "postgresql://etl:seed-pass-1@wh.example.com/dw"})
    run = run_config(minimal_config(**VAULT, vaultCreateKvMount="true", vaultSeedConnections=seeds,
                                    vaultSeedVariables=json.dumps({"team": "data-platform-42"})),
                     secret_keys=MINIMAL_SECRET_KEYS | {"vaultSeedConnections", "vaultSeedVariables"})
    mount = plain(run.one(MOUNT).inputs)
    assert (mount["path"], mount["type"], mount["options"]) == ("airflow", "kv", {"version": "2"})
    connection = run.one(KV_SECRET, "vault-connection-warehouse")
    assert plain(connection.inputs)["name"] == "connections/warehouse"
    assert json.loads(plain(connection.inputs)["dataJson"]) == {
        "conn_uri": "postgresql://etl:seed-pass-1@wh.example.com/dw"}
    variable = run.one(KV_SECRET, "vault-variable-team")
    assert plain(variable.inputs)["name"] == "variables/team"
    for resource in run.resources:
        visible = json.dumps(without_secrets(resource.inputs))
        assert "seed-pass-1" not in visible and "data-platform-42" not in visible
    assert any("seed-pass-1" in leaf for leaf in string_leaves(list(secrets_in(connection.inputs))))
    assert run.of_type(MOUNT) and not run_config(minimal_config(**VAULT)).of_type(MOUNT)


def test_without_vault_nothing_vault_is_created() -> None:
    run = run_config(minimal_config())
    assert not [resource for resource in run.resources if resource.type.startswith("vault:")]
    assert "secrets" not in helm_values(run)["config"]


@pytest.mark.parametrize(("overrides", "key", "allowed"), [
    ({"vaultTokenTtl": "1 hour"}, "vaultTokenTtl", "a duration such as 1h"),
    ({"vaultTokenTtl": "1.5h"}, "vaultTokenTtl", "a duration such as 1h"),
    ({"vaultTokenTtl": "2h"}, "vaultTokenTtl", "at most 1h: the policy pack's vault-role-least-privilege"),
    ({"vaultTokenTtl": "3601"}, "vaultTokenTtl", "at most 1h"),
    ({"vaultRoleName": ""}, "vaultRoleName", "a non-empty role name"),
    ({"vaultKvMount": "/airflow"}, "vaultKvMount", "no leading or trailing '/'"),
    ({"vaultAuthPath": "kubernetes/"}, "vaultAuthPath", "no leading or trailing '/'"),
    ({"vaultKubernetesHost": "http://k8s.example.com"}, "vaultKubernetesHost", "an https:// URL"),
    ({"vaultAddress": "vault.example.com"}, "vaultAddress", "an https:// URL"),
])
def test_bad_vault_config_is_one_line(overrides: dict[str, str], key: str, allowed: str) -> None:
    assert_one_line_config_error(minimal_config(**{**VAULT, **overrides}), key, allowed)


def test_seeds_must_be_a_json_object_and_need_vault() -> None:
    with pytest.raises(ConfigError, match="a JSON object of strings"):
        vault_config(vaultSeedConnections="warehouse=postgresql://x")
    with pytest.raises(ConfigError, match="empty without vaultAddress"):
        parse_stack_config(minimal_config(vaultSeedVariables='{"a": "b"}'), stack="prod",
                           secret_keys=MINIMAL_SECRET_KEYS | {"vaultSeedVariables"})


def test_unbound_webserver_stays_off_vault(prod_run: ProgramRun) -> None:
    env = helm_values(prod_run)["webserver"]["env"]
    assert {"name": "AIRFLOW__SECRETS__BACKEND", "value": ""} in env
    assert any(entry["name"] == "AIRFLOW_SSO_CLIENT_SECRET" for entry in env)  # merged, not replaced
    bound = run_config(minimal_config(**VAULT, vaultBindWebserver="true"))
    assert "AIRFLOW__SECRETS__BACKEND" not in json.dumps(helm_values(bound).get("webserver", {}))
