"""The AKS cluster with its spot task pool, where pods are scheduled, and remote task logs."""

import ast
import json
from itertools import pairwise

import pytest

from airflow_on_k8s.config import parse_stack_config
from airflow_on_k8s.errors import ConfigError
from airflow_on_k8s.scheduling import SPOT_TAINT, SYSTEM_POOL_SELECTOR
from components.task_logs import BLOB_DATA_CONTRIBUTOR_ROLE_ID, TOKEN_EXCHANGE_AUDIENCE
from tests.harness import (
    MINIMAL_SECRET_KEYS,
    assert_one_line_config_error,
    created_cluster_config,
    helm_values,
    minimal_config,
    plain,
    run_config,
    ui_section,
)
from tools.offline import PROJECT_DIR, ProgramRun

CLUSTER = "azure-native:containerservice:ManagedCluster"
ACCOUNT = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
AGENT_POOL = "azure-native:containerservice:AgentPool"


def test_prod_cluster_scales_tasks_to_zero_on_spot(prod_run: ProgramRun) -> None:
    cluster = plain(prod_run.one(CLUSTER).inputs)
    assert cluster["kubernetesVersion"] == "1.36"
    assert cluster["sku"] == {"name": "Base", "tier": "Standard"}
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"] == {"workloadIdentity": {"enabled": True}}
    assert (cluster["networkProfile"]["networkPlugin"], cluster["networkProfile"]["networkPolicy"]) == (
        "azure", "calico")
    (system,) = cluster["agentPoolProfiles"]
    assert (system["name"], system["mode"], system["enableAutoScaling"], system["minCount"], system["maxCount"]) == (
        "system", "System", True, 2, 4)
    assert "scaleSetPriority" not in system
    tasks = plain(prod_run.one(AGENT_POOL, "aks-tasks").inputs)
    assert tasks["resourceName"] == prod_run.one(CLUSTER).outputs["name"] and tasks["agentPoolName"] == "tasks"
    assert (tasks["mode"], tasks["scaleSetPriority"], tasks["scaleSetEvictionPolicy"], tasks["spotMaxPrice"]) == (
        "User", "Spot", "Delete", -1)
    assert (tasks["enableAutoScaling"], tasks["minCount"], tasks["maxCount"]) == (True, 0, 30)
    assert tasks["nodeTaints"] == ["kubernetes.azure.com/scalesetpriority=spot:NoSchedule"]
    assert system["vnetSubnetID"] == tasks["vnetSubnetID"] and tasks["vnetSubnetID"].endswith("/subnets/snet-aks")
    assert system["orchestratorVersion"] == tasks["orchestratorVersion"] == "1.36"
    # The autoscaler owns the counts once the pools run.
    assert prod_run.one(AGENT_POOL).options["ignoreChanges"] == ["count"]


def test_the_control_plane_identity_holds_the_subnets_before_the_cluster(prod_run: ProgramRun) -> None:
    cluster = prod_run.one(CLUSTER)
    identity = prod_run.one(IDENTITY, "aks-control-plane")
    assert plain(cluster.inputs)["identity"] == {"type": "UserAssigned",
                                                 "userAssignedIdentities": [identity.outputs["id"]]}
    subnets = {plain(cluster.inputs)["agentPoolProfiles"][0]["vnetSubnetID"],
               plain(cluster.inputs)["apiServerAccessProfile"]["subnetId"]}
    grants = [plain(grant.inputs) for grant in prod_run.of_type(ROLE_ASSIGNMENT) if grant.parent == cluster.parent]
    assert {grant["scope"] for grant in grants} == subnets
    for grant in grants:
        assert grant["principalId"] == identity.outputs["principalId"]
        assert grant["roleDefinitionId"].endswith("/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7")
    assert {grant.urn for grant in prod_run.of_type(ROLE_ASSIGNMENT)
            if grant.parent == cluster.parent} <= set(cluster.dependencies)


def test_the_api_server_gets_an_address_in_its_own_subnet(prod_run: ProgramRun) -> None:
    profile = plain(prod_run.one(CLUSTER).inputs)["apiServerAccessProfile"]
    assert profile["enableVnetIntegration"] is True
    assert profile["subnetId"].endswith("/subnets/snet-aks-apiserver")


def test_nodes_resolve_the_private_database(prod_run: ProgramRun) -> None:
    link = plain(prod_run.one("azure-native:privatedns:VirtualNetworkLink").inputs)
    subnet = plain(prod_run.one(CLUSTER).inputs)["agentPoolProfiles"][0]["vnetSubnetID"]
    assert link["virtualNetwork"] == {"id": subnet.split("/subnets/")[0]}
    assert link["privateZoneName"] == "airflow-prod.postgres.database.azure.com"
    assert link["resourceGroupName"] == "rg-network-prod" and link["registrationEnabled"] is False


def test_vault_reviews_tokens_at_the_created_api_server(prod_run: ProgramRun) -> None:
    host = plain(prod_run.one("vault:kubernetes/authBackendConfig:AuthBackendConfig").inputs)["kubernetesHost"]
    assert host == f"https://{prod_run.one(CLUSTER).outputs['fqdn']}:443"


def test_federated_credentials_are_written_one_at_a_time(stack_run: ProgramRun) -> None:
    credentials = stack_run.of_type(FEDERATION)
    # One per ServiceAccount of the release: the exact set is checked below.
    assert len(credentials) == len(stack_run.outputs["serviceAccounts"])
    for earlier, later in pairwise(credentials):
        assert earlier.urn in later.dependencies


def test_cilium_policy_brings_its_dataplane() -> None:
    run = run_config(created_cluster_config(clusterNetworkPolicy="cilium"))
    assert plain(run.one(CLUSTER).inputs)["networkProfile"]["networkDataplane"] == "cilium"


def test_dev_uses_its_existing_cluster(dev_run: ProgramRun) -> None:
    assert dev_run.of_type(CLUSTER) == []
    issuers = {plain(resource.inputs)["issuer"] for resource in dev_run.of_type(FEDERATION)}
    assert issuers == {"https://westeurope.oic.prod-aks.azure.com/6c1f3d2a-8e4b-4b7c-9d0e-1a2b3c4d5e6f/"
                       "0d4f7a2b-3c5e-4e8a-9b1d-2f6c8e0a4b7d/"}


def test_a_created_cluster_feeds_provider_pull_identity_and_federation() -> None:
    run = run_config(created_cluster_config())
    cluster = run.one(CLUSTER)
    kubelet = cluster.outputs["identityProfile"]["kubeletidentity"]["objectId"]
    assert plain(run.one(ROLE_ASSIGNMENT, "airflow-image-kubelet-acr-pull").inputs)["principalId"] == kubelet
    issuer = cluster.outputs["oidcIssuerProfile"]["issuerURL"]
    assert {plain(r.inputs)["issuer"] for r in run.of_type(FEDERATION)} == {issuer}
    assert sorted(token for token, _ in run.invokes) == [
        "azure-native:containerservice:listManagedClusterUserCredentials", "azure-native:network:getSubnet"]
    assert "clusters:" in plain(run.one("pulumi:providers:kubernetes").inputs["kubeconfig"])


def test_task_pods_go_to_spot_and_the_control_plane_stays_on_system(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    workers = values["workers"]
    assert workers["tolerations"] == [SPOT_TAINT]
    preference = workers["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert preference["preference"]["matchExpressions"] == [
        {"key": "kubernetes.azure.com/scalesetpriority", "operator": "In", "values": ["spot"]}]
    long_lived = ("scheduler", "webserver", "triggerer", "statsd") if ui_section(values) == "webserver" else (
        "scheduler", "apiServer", "dagProcessor", "triggerer", "statsd")
    for section in long_lived:
        assert values[section]["nodeSelector"] == SYSTEM_POOL_SELECTOR
        assert "tolerations" not in values[section]
    assert values["scheduler"]["podDisruptionBudget"] == {"enabled": True, "config": {"maxUnavailable": 1}}
    assert values["config"]["scheduler"]["task_queued_timeout"] == "1800.0"


def test_spot_scheduling_can_be_turned_off() -> None:
    values = helm_values(run_config(minimal_config(spotTaskPods="false")))
    assert "tolerations" not in values["workers"] and "nodeSelector" not in values["scheduler"]
    assert values["config"]["scheduler"]["task_queued_timeout"] == "1800.0"


def test_log_storage_is_private_and_keyless(stack_run: ProgramRun) -> None:
    account = plain(stack_run.one(ACCOUNT).inputs)
    assert account["allowBlobPublicAccess"] is False and account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2" and account["enableHttpsTrafficOnly"] is True
    container = plain(stack_run.one(CONTAINER).inputs)
    assert (container["containerName"], container["publicAccess"]) == ("airflow-logs", "None")
    writer = plain(stack_run.one(ROLE_ASSIGNMENT, "task-logs-blob-writer").inputs)
    assert writer["roleDefinitionId"].endswith(BLOB_DATA_CONTRIBUTOR_ROLE_ID)
    assert writer["scope"] == stack_run.one(ACCOUNT).outputs["id"]
    assert writer["principalId"] == stack_run.one(IDENTITY, "task-logs-identity").outputs["principalId"]


def test_federation_names_exactly_the_release_service_accounts(stack_run: ProgramRun) -> None:
    namespace = stack_run.outputs["namespace"]
    expected = {f"system:serviceaccount:{namespace}:{account}"
                for account in stack_run.outputs["serviceAccounts"].values()}
    credentials = [plain(resource.inputs) for resource in stack_run.of_type(FEDERATION)]
    assert {credential["subject"] for credential in credentials} == expected
    assert all(credential["audiences"] == [TOKEN_EXCHANGE_AUDIENCE] for credential in credentials)
    identity_name = stack_run.one(IDENTITY, "task-logs-identity").outputs["name"]
    assert {credential["resourceName"] for credential in credentials} == {identity_name}


def test_airflow_ships_logs_to_blob_as_the_identity(stack_run: ProgramRun) -> None:
    values = helm_values(stack_run)
    logging = values["config"]["logging"]
    assert logging == {"remote_logging": "True", "remote_base_log_folder": "wasb-airflow-logs",
                       "remote_log_conn_id": "wasb_task_logs"}
    assert values["config"]["azure_remote_logging"] == {"remote_wasb_log_container": "airflow-logs"}
    client_id = stack_run.one(IDENTITY, "task-logs-identity").outputs["clientId"]
    sections = ("workers", "scheduler", "triggerer") + (
        ("webserver",) if ui_section(values) == "webserver" else ("apiServer", "dagProcessor"))
    for section in sections:
        assert values[section]["serviceAccount"]["annotations"] == {"azure.workload.identity/client-id": client_id}
        assert values[section]["labels"] == {"azure.workload.identity/use": "true"}
    [connection] = [env for env in values["env"] if env["name"] == "AIRFLOW_CONN_WASB_TASK_LOGS"]
    account = stack_run.one(ACCOUNT).outputs["name"]
    assert json.loads(connection["value"]) == {"conn_type": "wasb", "host": f"https://{account}.blob.core.windows.net"}


def test_task_logs_can_be_turned_off() -> None:
    run = run_config(minimal_config(taskLogs="false"))
    assert run.of_type(ACCOUNT) == [] and "logging" not in helm_values(run)["config"]


@pytest.mark.parametrize(("overrides", "key", "allowed"), [
    ({"clusterTaskMinCount": "5", "clusterTaskMaxCount": "3"}, "clusterTaskMinCount", "at most clusterTaskMaxCount"),
    ({"clusterSystemMinCount": "4", "clusterSystemMaxCount": "2"}, "clusterSystemMinCount", "at most"),
    ({"clusterTaskAutoscaling": "false"}, "clusterTaskAutoscaling", "must autoscale"),
    ({"clusterKubernetesVersion": "1.26"}, "clusterKubernetesVersion", "not in the AKS release calendar"),
    ({"clusterKubernetesVersion": "latest"}, "clusterKubernetesVersion", "a pinned version X.Y or X.Y.Z"),
    ({"clusterSpotMaxPrice": "cheap"}, "clusterSpotMaxPrice", "-1 (up to the on-demand price)"),
    ({"clusterNetworkPolicy": "none"}, "clusterNetworkPolicy", "one of azure, calico, cilium"),
    ({"clusterSpotMaxPrice": "inf"}, "clusterSpotMaxPrice", "-1 (up to the on-demand price)"),
    ({"vaultAddress": "https://vault.example.com", "vaultKubernetesHost": "https://k.example.com",
      "networkVaultCidrs": '["10.0.0.0/8"]'}, "vaultKubernetesHost", "empty with clusterMode create"),
])
def test_bad_cluster_config_is_one_line(overrides: dict[str, str], key: str, allowed: str) -> None:
    assert_one_line_config_error(created_cluster_config(**overrides), key, allowed)


def test_existing_cluster_needs_its_issuer_for_task_logs() -> None:
    config = minimal_config()
    del config["clusterOidcIssuerUrl"]
    with pytest.raises(ConfigError, match="clusterOidcIssuerUrl = '' is invalid"):
        parse_stack_config(config, stack="prod", secret_keys=MINIMAL_SECRET_KEYS)


def test_pod_override_example_raises_one_tasks_limits_on_spot() -> None:
    source = (PROJECT_DIR / "examples" / "pod_override_dag.py").read_text()
    tree = ast.parse(source)
    overrides = [keyword for node in ast.walk(tree) if isinstance(node, ast.Call)
                 for keyword in node.keywords if keyword.arg == "executor_config"]
    assert len(overrides) == 1, "exactly one task overrides its pod"
    assert "pod_override" in ast.unparse(overrides[0].value)
    assert 'name="base"' in source and 'limits={"cpu": "4", "memory": "12Gi"}' in source
    assert "kubernetes.azure.com/scalesetpriority" in source and '"retries": 3' in source


def test_private_database_needs_the_nodes_in_its_network() -> None:
    config = {**created_cluster_config(clusterSubnetId="", clusterApiServerSubnetId="", networkPoliciesEnabled="false",
                                       postgresMode="managed", postgresNetwork="private",
                                       postgresDelegatedSubnetId="/subscriptions/6c1f3d2a-8e4b-4b7c-9d0e-1a2b3c4d5e6f/"
                                       "resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/pg",
                                       postgresPrivateDnsZoneId="/subscriptions/6c1f3d2a-8e4b-4b7c-9d0e-1a2b3c4d5e6f/"
                                       "resourceGroups/n/providers/Microsoft.Network/privateDnsZones/"
                                       "a.postgres.database.azure.com")}
    del config["postgresExistingFqdn"], config["metadataConnection"]
    with pytest.raises(ConfigError, match="clusterSubnetId = '' is invalid: a subnet resource id in the database"):
        parse_stack_config(config, stack="prod", secret_keys=frozenset())


def test_stack_name_must_suit_the_dns_prefix() -> None:
    with pytest.raises(ConfigError, match="'prod_eu' does not"):
        parse_stack_config(created_cluster_config(environment="prod"), stack="prod_eu",
                           secret_keys=MINIMAL_SECRET_KEYS)
