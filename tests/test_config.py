"""Config parsing: defaults, per-environment profiles, and one clear line for every bad value."""

import re

import pytest
import yaml

from airflow_on_k8s.config import (
    CONFIG_KEYS,
    PROJECT,
    ExistingImageConfig,
    ImageBuildConfig,
    ManagedPostgresConfig,
    StackConfig,
    parse_stack_config,
)
from airflow_on_k8s.errors import ConfigError
from tests.harness import (
    METADATA_CONNECTION,
    MINIMAL_SECRET_KEYS,
    assert_one_line_config_error,
    managed_config,
    minimal_config,
)
from tools.offline import PROJECT_DIR, OfflineEngine, run_program
from tools.plan import load_stack_inputs
from tools.project_file import CONFIG_DOC, rendered_config_doc, rendered_project_file


def run_stack_config(stack: str) -> StackConfig:
    inputs = load_stack_inputs(stack)
    return parse_stack_config(inputs.config, stack=stack, secret_keys=inputs.secret_keys)


def parse(stack: str = "dev", secret_keys: frozenset[str] = MINIMAL_SECRET_KEYS,
          **overrides: str) -> StackConfig:
    return parse_stack_config(minimal_config(**overrides), stack=stack, secret_keys=secret_keys)


def test_defaults_follow_the_seed_guide() -> None:
    airflow = parse("prod").airflow
    assert (airflow.namespace, airflow.release_name) == ("airflow", "airflow")
    assert (airflow.chart_version, airflow.airflow_version) == ("1.16.0", "2.10.3")
    existing = parse("prod", imageSource="existing").image
    assert isinstance(existing, ExistingImageConfig)
    assert (existing.image.repository, existing.image.tag) == ("apache/airflow", "2.10.3")
    resources = airflow.worker_resources
    assert (resources.requests.cpu, resources.requests.memory) == ("500m", "1Gi")
    assert (resources.limits.cpu, resources.limits.memory) == ("2", "4Gi")
    assert airflow.executor.delete_worker_pods is True
    assert airflow.executor.delete_worker_pods_on_failure is False
    assert airflow.executor.worker_pods_creation_batch_size == 16
    git = parse("prod").git
    assert (git.period, git.depth, git.branch, git.auth) == ("30s", 1, "main", "ssh")


def test_stack_files_hold_the_per_environment_values() -> None:
    """No profile table in code: what differs between dev and prod is written in the stack files."""
    dev, prod = (run_stack_config(stack) for stack in ("dev", "prod"))
    assert (prod.airflow.replicas.scheduler, prod.airflow.replicas.webserver) == (2, 2)
    assert (dev.airflow.replicas.scheduler, dev.airflow.replicas.webserver) == (1, 1)
    assert isinstance(prod.database, ManagedPostgresConfig) and isinstance(dev.database, ManagedPostgresConfig)
    assert (prod.database.sku_tier, prod.database.high_availability, prod.database.network,
            prod.database.geo_redundant_backup) == ("GeneralPurpose", "ZoneRedundant", "private", "Enabled")
    assert (dev.database.sku_tier, dev.database.high_availability, dev.database.network) == (
        "Burstable", "Disabled", "public")
    assert prod.database.protect and not dev.database.protect
    assert isinstance(prod.image, ImageBuildConfig) and prod.image.registry_sku == "Standard"


def test_environment_key_overrides_the_stack_name() -> None:
    config = parse("staging", environment="prod")
    assert config.environment == "prod"


def test_explicit_values_are_typed() -> None:
    config = parse(schedulerReplicas="3", deleteWorkerPods="false", gitSyncDepth="0",
                   workerPodsCreationBatchSize="4")
    assert config.airflow.replicas.scheduler == 3
    assert config.airflow.executor.delete_worker_pods is False
    assert config.git.depth == 0
    assert config.airflow.executor.worker_pods_creation_batch_size == 4


def test_secret_values_never_show_in_repr() -> None:
    config = parse()
    assert METADATA_CONNECTION not in repr(config)


# Keys whose value only counts in a mode other than the minimal config's.
BAD_CONFIG_CONTEXT: dict[str, dict[str, str]] = {
    "airflowImageTag": {"imageSource": "existing"},
    "airflowImageRepository": {"imageSource": "existing"},
}
MANAGED_KEYS = {"postgresSkuTier", "postgresSkuName", "postgresBackupRetentionDays", "postgresHighAvailability",
                "postgresStorageSizeGb", "postgresDelegatedSubnetId", "postgresPrivateDnsZoneId",
                "postgresAllowedCidrs", "postgresAdminLogin", "postgresVersion", "postgresNetwork",
                "postgresGeoRedundantBackup"}

BAD_CONFIG = [
    # wrong type
    ("schedulerReplicas", "two", "an integer"),
    ("webserverReplicas", "1.5", "an integer"),
    ("deleteWorkerPods", "yes", "true or false"),
    ("workerPodsCreationBatchSize", "0", "an integer from 1"),
    # unknown enum value
    ("environment", "staging", "dev or prod"),
    ("gitAuth", "token", "one of ssh, none"),
    # chart version not exact
    ("chartVersion", "~1.16", "exact chart version"),
    ("chartVersion", "1.16", "exact chart version"),
    ("chartVersion", ">=1.16.0", "exact chart version"),
    ("chartVersion", "latest", "exact chart version"),
    ("chartVersion", "", "exact chart version"),
    # image tag latest or empty, or not this Airflow version
    ("airflowImageTag", "latest", "not 'latest'"),
    ("airflowImageTag", "LATEST", "not 'latest'"),
    ("airflowImageTag", "", "not empty"),
    ("airflowImageTag", "2.9.0-python3.11", "begins with airflowVersion"),
    ("airflowImageRepository", "apache/airflow:2.10.3", "without tag or digest"),
    ("airflowVersion", "3.0.2", "2.10.3 with chartVersion 1.16.0 (supported pairs: chart 1.16.0 with Airflow "
     "2.10.3, chart 1.19.0 with Airflow 3.3.2)"),
    ("airflowVersion", "2.7.3", "2.10.3 with chartVersion 1.16.0"),
    ("chartVersion", "1.18.0", "a supported chart line: chart 1.16.0 with Airflow 2.10.3"),
    # quantities Kubernetes would reject
    ("workerMemoryRequest", "1GB", "Kubernetes quantity"),
    ("workerMemoryLimit", "4000m", "milli-bytes"),
    ("workerCpuRequest", "-1", "positive Kubernetes CPU quantity"),
    ("workerCpuRequest", "half", "positive Kubernetes CPU quantity"),
    # limit below request
    ("workerCpuLimit", "250m", "at least workerCpuRequest"),
    ("workerMemoryLimit", "512Mi", "at least workerMemoryRequest"),
    # git repo not SSH while an SSH key is used
    ("gitRepo", "https://github.com/example/dags.git", "an SSH URL"),
    ("gitRepo", "github.com/example/dags", "an SSH URL"),
    ("gitKnownHosts", "gitlab.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0",
     "gitRepo host github.com"),
    ("gitKnownHosts", "", "known_hosts lines"),
    ("gitSyncPeriod", "30", "Go duration"),
    ("gitBranch", "feature..x", "git branch name"),
    ("gitSubPath", "../etc", "without '..'"),
    # namespace or release name not a DNS-1123 label
    ("namespace", "Airflow_Prod", "DNS-1123 label"),
    ("namespace", "airflow-", "DNS-1123 label"),
    ("namespace", "a" * 64, "DNS-1123 label"),
    ("releaseName", "-airflow", "DNS-1123 label"),
    ("releaseName", "r" * 54, "at most 53 characters"),
    # unknown key (a typo must not be silently ignored)
    ("shedulerReplicas", "2", "a known key"),
    # managed PostgreSQL
    ("postgresSkuTier", "Premium", "one of Burstable, GeneralPurpose, MemoryOptimized"),
    ("postgresSkuName", "Standard_D2ds_v5", "a SKU of the Burstable tier"),
    ("postgresBackupRetentionDays", "5", "7 to 35 days"),
    ("postgresBackupRetentionDays", "36", "7 to 35 days"),
    ("postgresStorageSizeGb", "100", "one of 32, 64, 128"),
    ("postgresDelegatedSubnetId", "", "required with postgresNetwork private"),
    ("postgresDelegatedSubnetId", "/subscriptions/x/subnets/y", "delegated to Microsoft.DBforPostgreSQL"),
    ("postgresPrivateDnsZoneId", "", "private DNS zone ending in .postgres.database.azure.com"),
    ("postgresAllowedCidrs", '["10.0.0.0/8"]', "firewall rules apply only with postgresNetwork public"),
    ("postgresAdminLogin", "admin", "not a reserved name"),
    ("postgresVersion", "11", "one of 13, 14, 15, 16, 17"),
    ("postgresGeoRedundantBackup", "yes", "one of Enabled, Disabled"),
    ("postgresMode", "serverless", "one of managed, existing"),
    # image and registry
    ("imageSource", "docker-hub", "one of build, existing"),
    ("registrySku", "Gold", "one of Basic, Standard, Premium"),
    ("registryName", "my-registry", "5-50 letters and digits"),
    ("kubeletObjectId", "", "object id (GUID) of the AKS kubelet identity"),
    ("registryPullSecretName", "regcred", "empty with imageSource build"),
    ("registryPushUsername", "not-a-guid", "client id (GUID)"),
    ("azureLocation", "West Europe", "Azure region name"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_CONFIG)
def test_bad_value_gives_one_line_naming_key_value_and_allowed(key: str, value: str, allowed: str) -> None:
    base = managed_config("private", stack="prod") if key in MANAGED_KEYS else minimal_config()
    base.pop("stack", None)
    config = {**base, **BAD_CONFIG_CONTEXT.get(key, {}), key: value}
    message = assert_one_line_config_error(config, key, allowed)
    if key != "shedulerReplicas":  # unknown keys might be mistyped secrets: value hidden
        assert repr(value.strip()) in message


def test_https_repo_is_fine_without_ssh() -> None:
    config = parse(gitAuth="none", gitRepo="https://github.com/example/dags.git")
    assert config.git.auth == "none"


def test_https_repo_with_embedded_credentials_is_refused() -> None:
    with pytest.raises(ConfigError, match="without credentials"):
        parse(gitAuth="none", gitRepo="https://user:token@github.com/example/dags.git")


def test_ssh_url_form_is_accepted() -> None:
    config = parse(gitRepo="ssh://git@github.com:22/example/dags.git")
    assert config.git.repo.startswith("ssh://")


def test_missing_required_key_is_named() -> None:
    config = minimal_config()
    del config["gitRepo"]
    with pytest.raises(ConfigError, match=f"{PROJECT}:gitRepo = None is invalid: required"):
        parse_stack_config(config, stack="dev", secret_keys=MINIMAL_SECRET_KEYS)


def test_secret_stored_in_plaintext_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(secret_keys=frozenset())
    message = str(caught.value)
    assert "pulumi config set --secret metadataConnection" in message
    assert METADATA_CONNECTION not in message and "[secret]" in message


def test_bad_secret_value_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(metadataConnection="mysql://root:hunter2@db/airflow")
    assert "hunter2" not in str(caught.value)


def test_program_stops_before_any_resource_on_bad_config() -> None:
    engine = OfflineEngine()
    with pytest.raises(ConfigError, match="chartVersion"):
        run_program("prod", minimal_config(chartVersion="~1.16"), MINIMAL_SECRET_KEYS, engine=engine)
    assert engine.resources == []


def test_pulumi_yaml_is_rendered_from_the_key_table() -> None:
    assert (PROJECT_DIR / "Pulumi.yaml").read_text() == rendered_project_file(), \
        "run `venv/bin/python -m tools.project_file`"


def test_pulumi_yaml_declares_every_key_with_the_same_type_and_default() -> None:
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    declared = project["config"]
    assert set(declared) == {spec.name for spec in CONFIG_KEYS}
    for spec in CONFIG_KEYS:
        entry = declared[spec.name]
        assert entry["type"] == spec.type, spec.name
        assert entry.get("default") == spec.default, spec.name
        assert entry.get("secret", False) == (spec.secret and spec.default is None), spec.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stack_files_hold_no_secret_values(stack: str) -> None:
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    secret_names = {f"{PROJECT}:{spec.name}" for spec in CONFIG_KEYS if spec.secret}
    for key, value in document["config"].items():
        if key in secret_names:
            assert isinstance(value, dict) and set(value) == {"secure"}, key
        assert not re.search(r"PRIVATE KEY|://[^/\s]*:[^@/\s]+@", str(value)), key


def test_config_reference_table_is_generated_from_the_keys() -> None:
    reference = CONFIG_DOC.read_text()
    assert reference == rendered_config_doc(), "run `venv/bin/python -m tools.project_file`"
    for spec in CONFIG_KEYS:
        assert f"| `{spec.name}` |" in reference, spec.name


def test_high_availability_on_burstable_is_refused() -> None:
    config = managed_config("public", postgresSkuTier="Burstable", postgresSkuName="Standard_B1ms",
                            postgresHighAvailability="ZoneRedundant")
    with pytest.raises(ConfigError, match="postgresHighAvailability = 'ZoneRedundant' is invalid: Disabled on the "
                                          "Burstable tier"):
        parse_stack_config(config, stack="prod", secret_keys=frozenset())


def test_public_network_needs_cidrs_and_refuses_open_ones() -> None:
    with pytest.raises(ConfigError, match="at least one IPv4 CIDR"):
        parse_stack_config(managed_config("public", postgresAllowedCidrs="[]"), stack="dev", secret_keys=frozenset())
    with pytest.raises(ConfigError, match=r"'0\.0\.0\.0/0'"):
        parse_stack_config(managed_config("public", postgresAllowedCidrs='["0.0.0.0/0"]'), stack="dev",
                           secret_keys=frozenset())
    with pytest.raises(ConfigError, match="a list of strings"):
        parse_stack_config(managed_config("public", postgresAllowedCidrs="203.0.113.1/32"), stack="dev",
                           secret_keys=frozenset())


def test_a_key_left_out_takes_its_single_default() -> None:
    config = managed_config("public")
    del config["postgresNetwork"]
    parsed = parse_stack_config(config, stack="prod", secret_keys=frozenset())
    database, image = parsed.database, parsed.image
    assert isinstance(database, ManagedPostgresConfig) and isinstance(image, ImageBuildConfig)
    assert (database.sku_name, database.sku_tier, database.storage_size_gb, database.backup_retention_days,
            database.geo_redundant_backup, database.high_availability, database.network, image.registry_sku) == (
        "Standard_B1ms", "Burstable", 32, 7, "Disabled", "Disabled", "public", "Basic")
    assert database.protect is True and database.version == "16"


def test_existing_database_needs_a_tls_connection_to_that_host() -> None:
    with pytest.raises(ConfigError, match="metadataConnection = \\[secret\\]") as caught:
        parse(metadataConnection="postgresql://a:b@db.example.com/airflow?sslmode=disable")
    assert "sslmode=require" in str(caught.value)
    with pytest.raises(ConfigError, match=r"for host db\.example\.com"):
        parse(metadataConnection="postgresql://a:b@other.example.com/airflow?sslmode=require")


def test_connection_in_managed_mode_is_refused() -> None:
    config = managed_config("private", metadataConnection=METADATA_CONNECTION)
    with pytest.raises(ConfigError, match="empty with postgresMode managed"):
        parse_stack_config(config, stack="prod", secret_keys=MINIMAL_SECRET_KEYS)


def test_push_credentials_come_in_pairs() -> None:
    with pytest.raises(ConfigError, match="registryPushPassword"):
        parse(registryPushUsername="0b9f0f35-3c38-4a8e-9d57-7f5b8f6f2a11")
