"""Managed PostgreSQL, the ACR-built image, and how the Airflow release consumes them."""

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc

from airflow_on_k8s.database import firewall_range, metadata_connection_uri
from airflow_on_k8s.image_context import IMAGE_CONTEXT_DIR, image_line, image_tag
from airflow_on_k8s.naming import METADATA_CONNECTION_KEY
from components.airflow_image import ACR_PULL_ROLE_ID
from tests.harness import (
    ANY_CHARACTER,
    METADATA_CONNECTION,
    MINIMAL_SECRET_KEYS,
    airflow_release,
    helm_values,
    managed_config,
    minimal_config,
    plain,
    run_config,
    secret_data,
    secrets_in,
    string_leaves,
    without_secrets,
)
from tools.offline import ProgramRun

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def make_url(uri: str) -> "URL":
    """SQLAlchemy's own URL parser, imported on first use (~0.2 s that every worker's collection paid)."""
    from sqlalchemy.engine import make_url as parse

    return parse(uri)

SERVER = "azure-native:dbforpostgresql:Server"
DATABASE = "azure-native:dbforpostgresql:Database"
CONFIGURATION = "azure-native:dbforpostgresql:Configuration"
FIREWALL_RULE = "azure-native:dbforpostgresql:FirewallRule"
REGISTRY = "azure-native:containerregistry:Registry"
IMAGE = "docker-build:index:Image"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"


# --- the connection URI -------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["p@ss", "a:b", "x/y", "100%", "h#sh", "what?", "with space",
                                      "all@:/%#? of them", "ünïcødé", "+plus&amp=eq"])
def test_connection_uri_round_trips_through_sqlalchemy(password: str) -> None:
    uri = metadata_connection_uri("airflow@admin", password, "pg.postgres.database.azure.com")
    url = make_url(uri)
    assert url.password == password
    assert url.username == "airflow@admin"
    assert (url.host, url.port, url.database) == ("pg.postgres.database.azure.com", 5432, "airflow")
    assert url.query["sslmode"] == "require"


@settings(max_examples=200, deadline=None)
@given(user=st.text(ANY_CHARACTER, min_size=1, max_size=30).filter(lambda s: "\x00" not in s),
       password=st.text(ANY_CHARACTER, min_size=1, max_size=60).filter(lambda s: "\x00" not in s))
def test_any_credentials_round_trip(user: str, password: str) -> None:
    url = make_url(metadata_connection_uri(user, password, "db.example.com"))
    assert (url.username, url.password) == (user, password)


def test_firewall_range_covers_the_cidr() -> None:
    assert firewall_range("203.0.113.0/24") == ("203.0.113.0", "203.0.113.255")
    assert firewall_range("198.51.100.7/32") == ("198.51.100.7", "198.51.100.7")


# --- managed PostgreSQL under mocks -------------------------------------------------------------

def test_server_follows_the_environment(stack_run: ProgramRun) -> None:
    server = plain(stack_run.one(SERVER).inputs)
    prod = stack_run.stack == "prod"
    assert server["version"] == "16" and server["createMode"] == "Create"
    assert server["sku"] == ({"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"} if prod
                             else {"name": "Standard_B1ms", "tier": "Burstable"})
    assert server["storage"] == {"storageSizeGB": 128 if prod else 32, "autoGrow": "Enabled"}
    assert server["backup"] == {"backupRetentionDays": 14 if prod else 7,
                                "geoRedundantBackup": "Enabled" if prod else "Disabled"}
    assert server["highAvailability"]["mode"] == ("ZoneRedundant" if prod else "Disabled")
    network = server["network"]
    assert network["publicNetworkAccess"] == ("Disabled" if prod else "Enabled")
    assert bool(network.get("delegatedSubnetResourceId")) is prod
    assert bool(network.get("privateDnsZoneArmResourceId")) is prod
    assert server["administratorLogin"] == "airflowadmin"


def test_admin_password_is_secret(stack_run: ProgramRun) -> None:
    server = stack_run.one(SERVER)
    assert rpc.is_rpc_secret(server.inputs["administratorLoginPassword"])
    assert "administratorLoginPassword" in server.options["additionalSecretOutputs"]


def test_database_and_tls_configuration(stack_run: ProgramRun) -> None:
    server = stack_run.one(SERVER)
    database = plain(stack_run.one(DATABASE).inputs)
    assert database["databaseName"] == "airflow" and database["charset"] == "UTF8"
    tls = stack_run.one(CONFIGURATION)
    assert plain(tls.inputs)["configurationName"] == "require_secure_transport"
    assert plain(tls.inputs)["value"] == "on"
    assert server.urn in tls.dependencies


def test_prod_protects_data_and_dev_does_not(stack_run: ProgramRun) -> None:
    prod = stack_run.stack == "prod"
    for resource in (stack_run.one(SERVER), stack_run.one(DATABASE), stack_run.one(RESOURCE_GROUP)):
        assert resource.protect is prod, resource.name
        assert resource.options["retainOnDelete"] is prod, resource.name


def test_firewall_rules_only_on_public_network(stack_run: ProgramRun) -> None:
    rules = [plain(rule.inputs) for rule in stack_run.of_type(FIREWALL_RULE)]
    if stack_run.stack == "prod":
        assert rules == []
    else:
        assert [(r["startIpAddress"], r["endIpAddress"]) for r in rules] == [("203.0.113.10", "203.0.113.10")]


def test_release_reads_the_managed_database_connection(stack_run: ProgramRun) -> None:
    name = helm_values(stack_run)["data"]["metadataSecretName"]
    connection = secret_data(stack_run)[name][METADATA_CONNECTION_KEY]
    url = make_url(connection)
    server_state = stack_run.one(SERVER).outputs
    password = plain(stack_run.one("random:index/randomPassword:RandomPassword", "metadata-db-admin-password")
                     .outputs["result"])
    assert url.host == server_state["fullyQualifiedDomainName"]
    assert (url.username, url.password, url.database) == ("airflowadmin", password, "airflow")
    assert parse_qs(connection.split("?", 1)[1]) == {"sslmode": ["require"]}
    assert plain(stack_run.outputs["metadataConnection"]) == connection
    assert rpc.is_rpc_secret(stack_run.outputs["metadataConnection"])
    assert stack_run.outputs["databaseFqdn"] == server_state["fullyQualifiedDomainName"]


def test_release_waits_for_database_and_image(stack_run: ProgramRun) -> None:
    dependencies = set(airflow_release(stack_run).dependencies)
    for resource_type, name in ((SERVER, None), (DATABASE, None), (CONFIGURATION, None), (IMAGE, None),
                                (ROLE_ASSIGNMENT, "airflow-image-kubelet-acr-pull")):
        assert stack_run.one(resource_type, name).urn in dependencies, resource_type


# --- the registry and the image under mocks -----------------------------------------------------

def test_registry_is_locked_down(stack_run: ProgramRun) -> None:
    registry = plain(stack_run.one(REGISTRY).inputs)
    assert registry["adminUserEnabled"] is False and registry["anonymousPullEnabled"] is False
    assert registry["sku"] == {"name": "Standard" if stack_run.stack == "prod" else "Basic"}
    assert registry["registryName"].startswith("airflow") and registry["registryName"].isalnum()


def test_image_is_built_from_the_context_and_pushed_with_a_cache(stack_run: ProgramRun) -> None:
    image = plain(stack_run.one(IMAGE).inputs)
    repository = stack_run.outputs["imageRepository"]
    version = helm_values(stack_run)["airflowVersion"]
    tag = image_tag(version)
    assert stack_run.outputs["imageTag"] == tag
    assert image["tags"] == [f"{repository}:{tag}"]
    assert image["push"] is True and image["buildOnPreview"] is False
    assert image["context"] == {"location": str(IMAGE_CONTEXT_DIR)}
    assert image["dockerfile"] == {"location": str(IMAGE_CONTEXT_DIR / "Dockerfile")}
    line = image_line(version)
    assert image["buildArgs"] == {"AIRFLOW_VERSION": version, "PYTHON_VERSION": line.python_version,
                                  "AIRFLOW_REQUIREMENTS": f"requirements/airflow-{version[0]}.txt"}
    assert image["cacheFrom"] == [{"registry": {"ref": f"{repository}:buildcache"}}]
    assert image["cacheTo"][0]["registry"]["ref"] == f"{repository}:buildcache"
    assert "registries" not in image  # ambient `az acr login` unless a push identity is configured


def test_kubelet_identity_gets_acr_pull_on_the_registry(stack_run: ProgramRun) -> None:
    assignment = plain(stack_run.one(ROLE_ASSIGNMENT, "airflow-image-kubelet-acr-pull").inputs)
    registry = stack_run.one(REGISTRY)
    assert assignment["scope"] == registry.outputs["id"]
    assert assignment["roleDefinitionId"].endswith(f"/roleDefinitions/{ACR_PULL_ROLE_ID}")
    assert assignment["roleDefinitionId"].startswith(registry.outputs["id"].split("/resourceGroups/")[0])
    assert assignment["principalType"] == "ServicePrincipal"
    if stack_run.stack == "prod":  # the created cluster's kubelet identity
        cluster = stack_run.one("azure-native:containerservice:ManagedCluster")
        assert assignment["principalId"] == cluster.outputs["identityProfile"]["kubeletidentity"]["objectId"]
    else:  # an existing cluster: the object id from config
        assert assignment["principalId"] == "3f2c8a1e-6b7d-4e0f-9a51-2d8c4b6e7f10"


def test_push_identity_from_config_is_secret() -> None:
    run = run_config(minimal_config(registryPushUsername="0b9f0f35-3c38-4a8e-9d57-7f5b8f6f2a11",
                                    registryPushPassword="sp-secret-value-123"),
                     secret_keys=MINIMAL_SECRET_KEYS | {"registryPushPassword"})
    registries = run.one(IMAGE).inputs["registries"]
    assert "sp-secret-value-123" in list(string_leaves(list(secrets_in(registries))))
    assert "sp-secret-value-123" not in json.dumps(without_secrets(run.one(IMAGE).inputs))
    assert plain(registries)[0]["username"] == "0b9f0f35-3c38-4a8e-9d57-7f5b8f6f2a11"
    assert plain(registries)[0]["address"].endswith(".azurecr.io")


# --- bring-your-own modes -----------------------------------------------------------------------

def test_existing_database_skips_creation_and_uses_the_given_connection() -> None:
    run = run_config(minimal_config())
    assert run.of_type(SERVER) == [] and run.of_type(DATABASE) == []
    connection = secret_data(run)[helm_values(run)["data"]["metadataSecretName"]][METADATA_CONNECTION_KEY]
    assert connection == METADATA_CONNECTION
    assert run.outputs["databaseFqdn"] == "db.example.com"


def test_existing_image_skips_registry_and_build() -> None:
    run = run_config(minimal_config(imageSource="existing", airflowImageRepository="registry.example.com/airflow",
                                    airflowImageTag="2.10.3-team7", registryPullSecretName="regcred"))
    assert run.of_type(REGISTRY) == [] and run.of_type(IMAGE) == []
    assert [r.name for r in run.of_type(ROLE_ASSIGNMENT)] == ["task-logs-blob-writer"]
    values = helm_values(run)
    assert values["images"]["airflow"] == {"repository": "registry.example.com/airflow", "tag": "2.10.3-team7",
                                           "pullPolicy": "IfNotPresent"}
    assert values["registry"] == {"secretName": "regcred"}


def test_existing_resource_group_is_used_by_name() -> None:
    run = run_config(managed_config("private", resourceGroupName="rg-data-platform"), stack="prod",
                     secret_keys=frozenset())
    assert run.of_type(RESOURCE_GROUP) == []
    assert plain(run.one(SERVER).inputs)["resourceGroupName"] == "rg-data-platform"
    assert plain(run.one(REGISTRY).inputs)["resourceGroupName"] == "rg-data-platform"
