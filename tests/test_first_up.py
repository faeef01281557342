"""The first `pulumi up --stack prod` on an empty subscription: AKS versions AKS still creates,
what a created cluster needs before the UI works, and egress ranges read from Azure."""

from datetime import date
from typing import Any

import pytest

from airflow_on_k8s.aks_versions import AKS_VERSIONS, creatable_minors, version_problem
from airflow_on_k8s.cluster_addons import (
    CERT_MANAGER_CHART_VERSION,
    TRAEFIK_CHART_VERSION,
    TRAEFIK_IMAGE_TAG,
    traefik_values,
)
from airflow_on_k8s.config import parse_stack_config
from airflow_on_k8s.errors import ConfigError
from policies.airflow_policies.aks_versions import END_OF_LIFE
from policies.airflow_policies.resources import EXACT_VERSION
from tests.harness import (
    API_SERVER_SUBNET_ID,
    MINIMAL_SECRET_KEYS,
    RELEASE_TYPE,
    assert_one_line_config_error,
    created_cluster_config,
    helm_release,
    minimal_config,
    plain,
    run_config,
)
from tests.test_policies import found, single
from tools.offline import ProgramRun
from tools.policy_check import analyze

CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
PLAN_DAY = date(2026, 11, 27)
UI = {"ingressHost": "airflow.example.com", "ingressClusterIssuer": "letsencrypt-prod",
      "ingressClassName": "traefik", "ingressControllerNamespace": "traefik"}


def test_the_pack_restates_the_programs_calendar() -> None:
    assert {version.minor: version.end_of_life for version in AKS_VERSIONS} == END_OF_LIFE


def test_past_end_of_life_is_one_line_naming_the_choices() -> None:
    message = assert_one_line_config_error(created_cluster_config(clusterKubernetesVersion="1.33"),
                                           "clusterKubernetesVersion", "1.33 reached end of life in 2026-07")
    assert f"choose {creatable_minors(date.today())[0]}..{creatable_minors(date.today())[-1]}" in message


@pytest.mark.parametrize(("version", "day", "problem"), [
    ("1.33", PLAN_DAY, "1.33 reached end of life in 2026-07; choose 1.35..1.37"),
    ("1.34.3", PLAN_DAY, "1.34 reached end of life in 2026-11; choose 1.35..1.37"),
    ("1.36", PLAN_DAY, None),
    ("1.36.2", PLAN_DAY, None),
    ("1.37", date(2026, 9, 15), "1.37 is not generally available on AKS until 2026-10; choose 1.34..1.36"),
    ("1.38", PLAN_DAY, "1.38 is not in the AKS release calendar this program knows; choose 1.35..1.37"),
    ("1.36-preview", PLAN_DAY, "a pinned version X.Y or X.Y.Z; choose 1.35..1.37"),
    ("1.36", date(2027, 6, 1), "1.36 reached end of life in 2027-06; choose 1.37..1.37"),
])
def test_version_problems_on_a_given_day(version: str, day: date, problem: str | None) -> None:
    assert version_problem(version, day) == problem


def test_the_config_judges_versions_on_the_day_it_runs() -> None:
    config = created_cluster_config(clusterKubernetesVersion="1.35")
    assert parse_stack_config(config, stack="prod", secret_keys=MINIMAL_SECRET_KEYS, today=PLAN_DAY).cluster
    with pytest.raises(ConfigError, match=r"1\.35 reached end of life in 2027-03"):
        parse_stack_config(config, stack="prod", secret_keys=MINIMAL_SECRET_KEYS, today=date(2027, 3, 1))


def _cluster_props(version: str) -> dict[str, Any]:
    return {"kubernetesVersion": version, "agentPoolProfiles": [
        {"name": "system", "mode": "System", "orchestratorVersion": version}]}


@pytest.mark.parametrize(("version", "as_of", "rule", "level"), [
    ("1.35", "2027-01-15", "aks-version-expiring", "advisory"),  # 45 days before 2027-03
    ("1.35", "2027-03-01", "aks-version-supported", "mandatory"),
    ("1.33", "2026-11-27", "aks-version-supported", "mandatory"),
    ("1.26", "2026-11-27", "aks-version-supported", "mandatory"),
])
def test_version_rules_fire_by_date(version: str, as_of: str, rule: str, level: str) -> None:
    config = {name: {"asOf": as_of} for name in ("aks-version-supported", "aks-version-expiring")}
    violations = analyze(single(CLUSTER, _cluster_props(version)), config)
    caught = found(violations, rule)
    # The cluster's version and its system pool's are both judged.
    assert len(caught) == 2 and {violation.level for violation in caught} == {level}
    other = "aks-version-expiring" if rule == "aks-version-supported" else "aks-version-supported"
    assert not found(violations, other)


def test_version_rules_pass_a_version_far_from_its_end() -> None:
    config = {name: {"asOf": "2026-11-27"} for name in ("aks-version-supported", "aks-version-expiring")}
    assert analyze(single(CLUSTER, _cluster_props("1.36")), config) == []
    assert found(analyze(single(AGENT_POOL, {"agentPoolName": "tasks", "orchestratorVersion": "1.34"}), config),
                 "aks-version-supported")


def test_prod_plans_a_cluster_past_no_end_of_life(prod_run: ProgramRun) -> None:
    cluster = plain(prod_run.one(CLUSTER).inputs)
    assert version_problem(cluster["kubernetesVersion"], date.today()) is None
    assert cluster["sku"]["tier"] == "Standard"


def _created_run(**overrides: str) -> ProgramRun:
    return run_config(created_cluster_config(**UI, ingressAcmeEmail="platform@example.com", **overrides),
                      stack="prod")


def test_a_created_cluster_gets_a_pinned_controller_and_cert_manager() -> None:
    run = _created_run()
    traefik, cert_manager = helm_release(run, "traefik"), helm_release(run, "cert-manager")
    for release, version in ((traefik, TRAEFIK_CHART_VERSION), (cert_manager, CERT_MANAGER_CHART_VERSION)):
        inputs = plain(release.inputs)
        assert inputs["version"] == version and EXACT_VERSION.match(version)
        assert inputs["atomic"] is True and inputs["timeout"] >= 600
    assert plain(traefik.inputs)["values"] == traefik_values("traefik")
    assert plain(traefik.inputs)["namespace"] == "traefik"
    assert plain(traefik.inputs)["values"]["image"]["tag"] == TRAEFIK_IMAGE_TAG
    issuer = plain(run.one(ISSUER).inputs)
    assert issuer["metadata"]["name"] == "letsencrypt-prod"
    assert issuer["spec"]["acme"]["email"] == "platform@example.com"
    assert issuer["spec"]["acme"]["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]
    assert cert_manager.urn in run.one(ISSUER).dependencies


def test_the_ingress_cannot_be_created_before_its_controller_and_issuer() -> None:
    run = _created_run()
    dependencies = set(run.one(INGRESS).dependencies)
    needed = {helm_release(run, "traefik").urn, helm_release(run, "cert-manager").urn, run.one(ISSUER).urn}
    assert needed <= dependencies


def test_an_existing_cluster_keeps_its_own_controller() -> None:
    run = run_config(minimal_config(**UI))
    assert [r.inputs.get("chart") for r in run.of_type(RELEASE_TYPE)] == ["airflow"]
    assert run.of_type(ISSUER) == [] and run.one(INGRESS).dependencies
    assert_one_line_config_error(minimal_config(**UI, ingressAcmeEmail="platform@example.com"),
                                 "ingressAcmeEmail", "empty with clusterMode existing")


def test_a_created_cluster_needs_an_issuer_email_when_it_issues() -> None:
    assert_one_line_config_error(created_cluster_config(**UI), "ingressAcmeEmail",
                                 "an e-mail address with clusterMode create")


def test_api_server_egress_comes_from_its_subnet_on_the_first_up() -> None:
    run = _created_run()
    [kube_api] = [plain(p.inputs) for p in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                  if p.inputs["metadata"]["name"] == "airflow-allow-kube-api"]
    [read] = [args for token, args in run.invokes if token == "azure-native:network:getSubnet"]
    assert read == {"resourceGroupName": "rg-net", "virtualNetworkName": "vnet", "subnetName": "snet-aks-apiserver"}
    assert [peer["ipBlock"]["cidr"] for peer in kube_api["spec"]["egress"][0]["to"]] != []
    assert API_SERVER_SUBNET_ID.endswith(read["subnetName"])


@pytest.mark.parametrize(("overrides", "key", "allowed"), [
    ({"networkKubeApiCidrs": '["10.0.0.0/28"]'}, "networkKubeApiCidrs", "empty: the program reads it"),
    ({"clusterApiServerSubnetId": ""}, "clusterApiServerSubnetId", "API Server VNet Integration"),
    ({"clusterApiServerSubnetId": API_SERVER_SUBNET_ID.replace("/vnet/", "/other-vnet/")},
     "clusterApiServerSubnetId", "a subnet in the VNet of clusterSubnetId"),
    ({"clusterTier": "Gold"}, "clusterTier", "one of Free, Standard, Premium"),
])
def test_bad_first_up_config_is_one_line(overrides: dict[str, str], key: str, allowed: str) -> None:
    assert_one_line_config_error(created_cluster_config(**overrides), key, allowed)


def test_a_private_database_range_is_read_not_typed() -> None:
    config = created_cluster_config(postgresMode="managed", postgresNetwork="private",
                                    postgresDelegatedSubnetId=API_SERVER_SUBNET_ID.replace("aks-apiserver", "pg"),
                                    postgresPrivateDnsZoneId="/subscriptions/6c1f3d2a-8e4b-4b7c-9d0e-1a2b3c4d5e6f/"
                                    "resourceGroups/rg-net/providers/Microsoft.Network/privateDnsZones/"
                                    "a.postgres.database.azure.com")
    del config["postgresExistingFqdn"], config["metadataConnection"]
    assert_one_line_config_error(config, "networkPostgresCidrs", "empty: the program reads it from "
                                 "postgresDelegatedSubnetId", secret_keys=frozenset())


def test_prod_stack_file_holds_no_documentation_ranges() -> None:
    from tools.offline import PROJECT_DIR

    text = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    for documentation_range in ("192.0.2.", "198.51.100.", "203.0.113."):
        assert documentation_range not in text
