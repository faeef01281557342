"""SSO, the TLS Ingress and the namespace's NetworkPolicies."""

import ast
import json
import re
from typing import Any, ClassVar

import pytest
import yaml

from airflow_on_k8s.config import SsoConfig, StackConfig, parse_stack_config
from airflow_on_k8s.errors import ConfigError
from airflow_on_k8s.network import (
    AIRFLOW_UI_PORT,
    STATSD_INGEST_PORT,
    TRIGGERER_LOGS_PORT,
    WORKER_LOGS_PORT,
    network_policy_specs,
)
from airflow_on_k8s.sso import CLIENT_SECRET_ENV, helm_tpl_escape, render_webserver_config, scopes
from tests.fab_user_info import airflow_fab_stand_in
from tests.harness import (
    MINIMAL_SECRET_KEYS,
    assert_one_line_config_error,
    chart_file,
    helm_values,
    minimal_config,
    plain,
    run_config,
    secret_data,
    ui_section,
)
from tools.offline import OfflineEngine, ProgramRun

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CLIENT_SECRET = "oidc-Client-Secret-Value-123"
SECRET_KEYS = MINIMAL_SECRET_KEYS | {"ssoClientSecret"}
UI = {"ingressHost": "airflow.example.com", "ingressClusterIssuer": "letsencrypt-prod"}


def sso_settings(provider: str = "azure", mapping: dict[str, Any] | None = None, **overrides: str) -> StackConfig:
    identity = ({"ssoTenantId": "2f7c4e9a-5b1d-4c3e-8a6f-9d0b1c2e3f45"} if provider == "azure"
                else {"ssoOktaDomain": "example.okta.com"})
    config = minimal_config(**UI, ssoProvider=provider, ssoClientId="client-id-1234", ssoClientSecret=CLIENT_SECRET,
                            ssoRoleMapping=json.dumps(mapping if mapping is not None else {"admins": ["Admin"]}),
                            **identity, **overrides)
    return parse_stack_config(config, stack="prod", secret_keys=SECRET_KEYS)


def sso_of(config: StackConfig) -> SsoConfig:
    assert config.sso is not None
    return config.sso


def executed(source: str) -> dict[str, Any]:
    """Run the rendered file as the webserver loads it: real Flask AppBuilder, Airflow's FAB security
    manager stood in for by FAB's own (tests/fab_user_info.py), and a fake environment."""
    namespace: dict[str, Any] = {}
    with airflow_fab_stand_in():
        exec(compile(source.replace("import os\n", "", 1), "webserver_config.py", "exec"), {"os": _FakeOs()},
             namespace)
    return namespace


class _FakeOs:
    environ: ClassVar[dict[str, str]] = {CLIENT_SECRET_ENV: "from-the-environment"}


@pytest.mark.parametrize("provider", ["azure", "okta"])
def test_rendered_config_is_python_with_oauth_and_no_secret(provider: str) -> None:
    sso = sso_of(sso_settings(provider))
    source = render_webserver_config(sso, sso.client_id or "")
    assert CLIENT_SECRET not in source
    settings = executed(source)
    assert settings["AUTH_TYPE"] == 4 and settings["AUTH_USER_REGISTRATION"] is True
    assert settings["AUTH_USER_REGISTRATION_ROLE"] == "Viewer" and settings["AUTH_ROLES_SYNC_AT_LOGIN"] is True
    [oauth] = settings["OAUTH_PROVIDERS"]
    remote = oauth["remote_app"]
    assert oauth["name"] == provider
    assert remote["client_secret"] == "from-the-environment"
    assert remote["client_id"] == "client-id-1234"
    assert remote["client_kwargs"]["scope"] == scopes(sso)
    if provider == "azure":
        assert remote["server_metadata_url"] == ("https://login.microsoftonline.com/2f7c4e9a-5b1d-4c3e-8a6f-9d0b1c2e3f45"
                                                 "/v2.0/.well-known/openid-configuration")
        assert remote["client_kwargs"]["scope"] == "openid profile email"
    else:
        assert remote["server_metadata_url"] == "https://example.okta.com/.well-known/openid-configuration"
        assert remote["client_kwargs"]["scope"] == "openid profile email groups"


def test_odd_group_names_map_exactly() -> None:
    mapping = {'a"quote': ["Admin"], "it's": ["Op", "User"], "ünïcødé ✓": ["Viewer"], "back\\slash": "Public",
               "{{ .Values.x }}": ["User"], "line\nbreak": ["Op"]}
    sso = sso_of(sso_settings("okta", mapping))
    settings = executed(render_webserver_config(sso, sso.client_id or ""))
    expected = {group: [roles] if isinstance(roles, str) else roles for group, roles in mapping.items()}
    assert settings["AUTH_ROLES_MAPPING"] == expected


def test_helm_escape_survives_tpl() -> None:
    sso = sso_of(sso_settings("okta", {"{{ evil }}": ["Admin"]}))
    source = render_webserver_config(sso, "client-id-1234")
    escaped = helm_tpl_escape(source)
    # What Helm's tpl does with the escaped text: print each quoted delimiter, touch nothing else.
    leftovers = re.sub(r'\{\{ "(\{\{|\}\})" \}\}', "", escaped)
    assert "{{" not in leftovers and "}}" not in leftovers
    assert re.sub(r'\{\{ "(\{\{|\}\})" \}\}', r"\1", escaped) == source
    ast.parse(source)


def test_sso_values_feed_the_secret_through_the_environment() -> None:
    run = run_config(minimal_config(**UI, ssoProvider="okta", ssoOktaDomain="example.okta.com",
                                    ssoClientId="client-id-1234", ssoClientSecret=CLIENT_SECRET),
                     secret_keys=SECRET_KEYS)
    webserver = helm_values(run)["webserver"]
    [env] = webserver["env"]
    assert env["name"] == CLIENT_SECRET_ENV
    reference = env["valueFrom"]["secretKeyRef"]
    assert secret_data(run)[reference["name"]][reference["key"]] == CLIENT_SECRET
    assert CLIENT_SECRET not in json.dumps(helm_values(run))
    assert "os.environ" in webserver["webserverConfig"]
    # With SSO there is no password at all: no default user, no bootstrap admin Secret.
    assert webserver["defaultUser"]["enabled"] is False
    assert not any(name.endswith("admin-bootstrap") for name in secret_data(run))
    assert helm_values(run)["config"]["webserver"] == {"base_url": "https://airflow.example.com",
                                                       "enable_proxy_fix": "True"}


def test_client_secret_can_come_from_vault(dev_run: ProgramRun) -> None:
    invokes = [args for token, args in dev_run.invokes if token == "vault:kv/getSecretV2:getSecretV2"]
    assert invokes == [{"mount": "airflow-dev", "name": "sso/airflow-ui"}]
    values = helm_values(dev_run)
    [reference] = [entry["valueFrom"]["secretKeyRef"] for entry in values[ui_section(values)]["env"]
                   if "valueFrom" in entry]
    assert secret_data(dev_run)[reference["name"]][reference["key"]].startswith("offline-vault-placeholder")


def test_ingress_is_tls_only_and_the_service_stays_internal(stack_run: ProgramRun) -> None:
    ingress = plain(stack_run.one(INGRESS).inputs)
    host = stack_run.outputs["uiUrl"].removeprefix("https://")
    assert ingress["spec"]["ingressClassName"] == ("traefik" if stack_run.stack == "prod" else "nginx")
    assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": "airflow-ui-tls"}]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-prod"}
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    values = helm_values(stack_run)
    ui = ui_section(values)
    assert backend == {"name": "airflow-webserver" if ui == "webserver" else "airflow-api-server",
                       "port": {"number": AIRFLOW_UI_PORT}}
    assert values[ui]["service"] == {"type": "ClusterIP"}


def test_existing_tls_secret_instead_of_cert_manager() -> None:
    run = run_config(minimal_config(ingressHost="airflow.example.com", ingressTlsSecretName="wildcard-tls"))
    ingress = plain(run.one(INGRESS).inputs)
    assert ingress["spec"]["tls"][0]["secretName"] == "wildcard-tls"
    assert not ingress["metadata"].get("annotations")


# --- network policies -----------------------------------------------------------------------------

def _policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {plain(r.inputs)["metadata"]["name"]: plain(r.inputs)["spec"] for r in run.of_type(NETWORK_POLICY)}


def test_namespace_denies_everything_first(stack_run: ProgramRun) -> None:
    policies = _policies(stack_run)
    assert policies["airflow-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    namespaces = {plain(r.inputs)["metadata"]["namespace"] for r in stack_run.of_type(NETWORK_POLICY)}
    assert namespaces == {stack_run.outputs["namespace"]}


def test_selectors_use_the_chart_pod_labels(stack_run: ProgramRun) -> None:
    chart_components = ({"scheduler", "webserver", "triggerer", "worker", "statsd"}
                        if ui_section(helm_values(stack_run)) == "webserver" else
                        {"scheduler", "api-server", "dag-processor", "triggerer", "worker", "statsd",
                         "run-airflow-migrations"})
    chart_values = yaml.safe_load(chart_file("1.16.0", "values.yaml").read_text()) \
        if chart_file("1.16.0", "values.yaml").is_file() else None
    for name, spec in _policies(stack_run).items():
        if name == "airflow-allow-acme-solver":  # cert-manager's pods, not Airflow's
            assert spec["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
            continue
        for selector in _selectors(spec):
            labels = selector.get("matchLabels", {})
            if not labels and not selector.get("matchExpressions"):
                continue  # the whole namespace
            assert labels.get("release") == "airflow" and labels.get("tier") == "airflow", name
            expressions = selector.get("matchExpressions") or [{"values": []}]
            components = {labels["component"]} if "component" in labels else set(expressions[0]["values"])
            assert components <= chart_components, name
    if chart_values is None:
        pytest.skip("../shared/airflow-chart/1.16.0/values.yaml is absent: ports not checked against the chart")
    ports = chart_values["ports"]
    assert (ports["airflowUI"], ports["workerLogs"], ports["triggererLogs"], ports["statsdIngest"]) == (
        AIRFLOW_UI_PORT, WORKER_LOGS_PORT, TRIGGERER_LOGS_PORT, STATSD_INGEST_PORT)
    assert {"scheduler", "webserver", "triggerer", "statsd", "workers"} <= set(chart_values)


def _selectors(spec: dict[str, Any]) -> list[dict[str, Any]]:
    selectors = [spec["podSelector"]]
    for rule in spec.get("egress", []) + spec.get("ingress", []):
        for peer in rule.get("to", []) + rule.get("from", []):
            if "podSelector" in peer:
                selectors.append(peer["podSelector"])
    return selectors


def _subnet_range(run: ProgramRun, subnet_name: str) -> str:
    """The range Azure answered for a subnet the program read (the offline engine's answer)."""
    [args] = [args for token, args in run.invokes
              if token == "azure-native:network:getSubnet" and args["subnetName"] == subnet_name]
    return str(OfflineEngine._get_subnet(args)["addressPrefix"])


def test_allow_lists_follow_config(prod_run: ProgramRun) -> None:
    policies = _policies(prod_run)
    database = policies["airflow-allow-metadata-db"]["egress"][0]
    # Both ranges come from the subnets named in the stack file, read from Azure, not typed.
    assert database == {"to": [{"ipBlock": {"cidr": _subnet_range(prod_run, "snet-postgres")}}],
                        "ports": [{"protocol": "TCP", "port": 5432}]}
    kube_api = policies["airflow-allow-kube-api"]
    assert kube_api["podSelector"]["matchExpressions"] == [
        {"key": "component", "operator": "In", "values": ["scheduler", "webserver"]}]
    assert kube_api["egress"][0]["to"] == [{"ipBlock": {"cidr": _subnet_range(prod_run, "snet-aks-apiserver")}}]
    vault = policies["airflow-allow-vault"]["egress"][0]
    assert vault["ports"] == [{"protocol": "TCP", "port": 8200}]
    ingress = policies["airflow-allow-ingress-controller"]["ingress"][0]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}]
    assert ingress["ports"] == [{"protocol": "TCP", "port": AIRFLOW_UI_PORT}]
    https = policies["airflow-allow-https-services"]
    assert https["egress"][0]["ports"] == [{"protocol": "TCP", "port": 443}]
    assert {peer["ipBlock"]["cidr"] for peer in https["egress"][0]["to"]} >= {"20.190.128.0/18", "40.126.0.0/18"}
    assert set(https["podSelector"]["matchExpressions"][0]["values"]) == {"worker", "scheduler", "triggerer",
                                                                          "webserver"}
    solver = policies["airflow-allow-acme-solver"]["ingress"][0]
    assert solver["ports"] == [{"protocol": "TCP", "port": 8089}]
    git = policies["airflow-allow-git"]["egress"][0]
    assert [peer["ipBlock"]["cidr"] for peer in git["to"]] == ["140.82.112.0/20", "192.30.252.0/22"]
    dns = policies["airflow-allow-dns"]["egress"][0]
    assert {port["port"] for port in dns["ports"]} == {53}
    assert "airflow-allow-task-egress" not in policies


def test_task_egress_and_git_defaults() -> None:
    config = parse_stack_config(minimal_config(networkTaskEgressCidrs='["10.50.0.0/16"]'), stack="dev",
                                secret_keys=MINIMAL_SECRET_KEYS)
    assert config.network is not None
    specs = dict(network_policy_specs("airflow", config.network, None, None, kube_api_cidrs=("10.0.0.1/32",)))
    assert specs["airflow-allow-task-egress"]["podSelector"]["matchLabels"]["component"] == "worker"
    assert specs["airflow-allow-git"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    assert "airflow-allow-vault" not in specs and "airflow-allow-ingress-controller" not in specs


def test_network_policies_can_be_turned_off() -> None:
    run = run_config(minimal_config(networkPoliciesEnabled="false"))
    assert run.of_type(NETWORK_POLICY) == []


@pytest.mark.parametrize(("overrides", "key", "allowed"), [
    ({**UI, "ssoProvider": "okta", "ssoClientId": "client-id-1234", "ssoClientSecret": "x" * 12},
     "ssoOktaDomain", "the Okta domain"),
    ({**UI, "ssoProvider": "azure", "ssoClientId": "client-id-1234", "ssoClientSecret": "x" * 12},
     "ssoTenantId", "tenant id"),
    ({**UI, "ssoProvider": "okta", "ssoOktaDomain": "example.okta.com", "ssoClientId": "client-id-1234",
      "ssoClientSecret": "x" * 12, "ssoRoleMapping": '{"admins": ["Superuser"]}'}, "ssoRoleMapping",
     "Admin, Op, User, Viewer, Public"),
    ({**UI, "ssoProvider": "okta", "ssoOktaDomain": "example.okta.com", "ssoClientId": "client-id-1234",
      "ssoClientSecret": "x" * 12, "ssoDefaultRole": "Root"}, "ssoDefaultRole", "one of Admin"),
    ({"ingressHost": "airflow_ui", "ingressClusterIssuer": "letsencrypt"}, "ingressHost", "a DNS name"),
    ({"ingressHost": "airflow.example.com"}, "ingressClusterIssuer", "exactly one of ingressClusterIssuer"),
    ({"ssoProvider": "okta", "ssoOktaDomain": "example.okta.com"}, "ingressHost", "redirects users back"),
    ({"networkPostgresCidrs": "[]"}, "networkPostgresCidrs", "at least one CIDR"),
    ({"networkKubeApiCidrs": '["10.0.0.300/32"]'}, "networkKubeApiCidrs", "CIDRs such as"),
    ({"networkHttpsEgressCidrs": "[]"}, "networkHttpsEgressCidrs", "task logs go to Blob Storage"),
    ({"ingressHost": "airflow.example.com", "ingressClusterIssuer": "le", "ingressClassName": ""},
     "ingressClassName", "an IngressClass name"),
])
def test_bad_web_config_is_one_line(overrides: dict[str, str], key: str, allowed: str) -> None:
    assert_one_line_config_error(minimal_config(**overrides), key, allowed, secret_keys=SECRET_KEYS)


def test_git_egress_uses_the_repository_port() -> None:
    config = parse_stack_config(minimal_config(
        gitRepo="ssh://git@git.example.com:2222/data/dags.git",
        gitKnownHosts="[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsab"),
        stack="dev", secret_keys=MINIMAL_SECRET_KEYS)
    assert config.network is not None and config.git.port == 2222
    specs = dict(network_policy_specs("airflow", config.network, None, None, kube_api_cidrs=("10.0.0.1/32",),
                                      git_port=config.git.port))
    assert specs["airflow-allow-git"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 2222}]
    with pytest.raises(ConfigError, match=r"\[git\.example\.com\]:2222"):
        parse_stack_config(minimal_config(gitRepo="ssh://git@git.example.com:2222/data/dags.git",
                                          gitKnownHosts="git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"),
                           stack="dev", secret_keys=MINIMAL_SECRET_KEYS)
