"""Every stack configuration key, read in one place into frozen dataclasses and validated.

`CONFIG_KEYS` is the single list of keys: `Pulumi.yaml` declares the same keys with the same
types and defaults (a test keeps the two equal). `parse_stack_config` is pure: it takes the raw
strings Pulumi hands a program and either returns a `StackConfig` or raises `ConfigError` naming
the key, the value and what is allowed. `load_stack_config` feeds it from the Pulumi runtime.
"""

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal
from urllib.parse import SplitResult, parse_qs, urlsplit

from airflow_on_k8s.aks_versions import version_problem
from airflow_on_k8s.errors import ConfigError
from airflow_on_k8s.quantities import parse_quantity

PROJECT = "airflow-on-k8s"

Environment = Literal["dev", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "prod")
GIT_AUTH_MODES = ("ssh", "none")
ConfigType = Literal["string", "integer", "boolean", "array"]


@dataclass(frozen=True)
class KeySpec:
    """One configuration key: its Pulumi.yaml type, default and whether it holds a secret."""

    name: str
    type: ConfigType
    description: str
    default: str | int | bool | list[str] | None = None  # None: the key is required
    secret: bool = False


CONFIG_KEYS: tuple[KeySpec, ...] = (
    KeySpec("environment", "string",
            "dev or prod: picks per-environment defaults. Empty: the stack name, if it is dev or prod.",
            ""),
    KeySpec("kubeconfig", "string",
            "Kubeconfig contents for the Kubernetes provider (set with --secret). "
            "Empty: the ambient kubeconfig.", "", secret=True),
    KeySpec("kubeContext", "string", "Kubeconfig context to use. Empty: the current context.", ""),
    KeySpec("namespace", "string", "Namespace for Airflow (DNS-1123 label).", "airflow"),
    KeySpec("releaseName", "string",
            "Helm release name; the chart derives every object name from it.", "airflow"),
    KeySpec("chartVersion", "string", "Exact apache-airflow/airflow chart version X.Y.Z.", "1.16.0"),
    KeySpec("airflowVersion", "string", "Airflow version inside the image (X.Y.Z).", "2.10.3"),
    KeySpec("airflowImageRepository", "string", "Airflow image repository.", "apache/airflow"),
    KeySpec("airflowImageTag", "string",
            "Airflow image tag; must begin with airflowVersion (e.g. 2.10.3-python3.11).", "2.10.3"),
    KeySpec("schedulerReplicas", "integer",
            "Scheduler replicas. 0: the environment default (prod 2, dev 1).", 0),
    KeySpec("webserverReplicas", "integer",
            "Webserver replicas. 0: the environment default (prod 2, dev 1).", 0),
    KeySpec("triggererReplicas", "integer",
            "Triggerer replicas. 0: the environment default (1).", 0),
    KeySpec("workerCpuRequest", "string", "CPU request of every task pod.", "500m"),
    KeySpec("workerMemoryRequest", "string", "Memory request of every task pod.", "1Gi"),
    KeySpec("workerCpuLimit", "string", "CPU limit of every task pod.", "2"),
    KeySpec("workerMemoryLimit", "string", "Memory limit of every task pod.", "4Gi"),
    KeySpec("deleteWorkerPods", "boolean", "Delete task pods when they finish.", True),
    KeySpec("deleteWorkerPodsOnFailure", "boolean",
            "Delete failed task pods too (keep them to debug).", False),
    KeySpec("workerPodsCreationBatchSize", "integer",
            "Task pods the scheduler creates per loop.", 16),
    KeySpec("gitRepo", "string", "Git repository holding the DAGs (SSH URL when gitAuth is ssh)."),
    KeySpec("gitAuth", "string", "ssh (deploy key) or none (public HTTPS repository).", "ssh"),
    KeySpec("gitBranch", "string", "Branch git-sync follows.", "main"),
    KeySpec("gitRev", "string", "Revision within the branch (HEAD follows the branch tip).", "HEAD"),
    KeySpec("gitSubPath", "string", "Folder of the DAGs inside the repository ('' for the root).",
            "dags"),
    KeySpec("gitSyncPeriod", "string", "How often git-sync pulls (Go duration).", "30s"),
    KeySpec("gitSyncDepth", "integer", "Clone depth (0: full history).", 1),
    KeySpec("gitKnownHosts", "string",
            "known_hosts lines for the git server (required with gitAuth ssh).", ""),
    KeySpec("gitSshPrivateKey", "string",
            "OpenSSH private deploy key (set with --secret). Empty: an ED25519 key is generated.",
            "", secret=True),
    KeySpec("azureLocation", "string", "Azure region of the database and registry.", "westeurope"),
    KeySpec("resourceGroupName", "string",
            "Existing resource group to use. Empty: the program creates one.", ""),
    KeySpec("postgresMode", "string",
            "managed (create a Flexible Server) or existing (postgresExistingFqdn + metadataConnection).",
            "managed"),
    KeySpec("postgresVersion", "string", "PostgreSQL major version.", "16"),
    KeySpec("postgresSkuName", "string",
            "Flexible Server SKU. Empty: dev Standard_B1ms, prod Standard_D2ds_v5.", ""),
    KeySpec("postgresSkuTier", "string",
            "Burstable, GeneralPurpose or MemoryOptimized. Empty: dev Burstable, prod GeneralPurpose.", ""),
    KeySpec("postgresStorageSizeGb", "integer",
            "Storage in GiB (grows automatically). 0: dev 32, prod 128.", 0),
    KeySpec("postgresBackupRetentionDays", "integer", "Backup retention, 7-35 days. 0: dev 7, prod 14.", 0),
    KeySpec("postgresGeoRedundantBackup", "string",
            "Enabled or Disabled; fixed at creation. Empty: dev Disabled, prod Enabled.", ""),
    KeySpec("postgresHighAvailability", "string",
            "Disabled, SameZone or ZoneRedundant. Empty: dev Disabled, prod ZoneRedundant.", ""),
    KeySpec("postgresNetwork", "string",
            "private (delegated subnet + private DNS zone) or public (firewall CIDRs). "
            "Empty: dev public, prod private.", ""),
    KeySpec("postgresDelegatedSubnetId", "string",
            "Resource id of the subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers.", ""),
    KeySpec("postgresPrivateDnsZoneId", "string",
            "Resource id of the private DNS zone (*.postgres.database.azure.com).", ""),
    KeySpec("postgresAllowedCidrs", "array", "IPv4 CIDRs allowed through the firewall (public only).", []),
    KeySpec("postgresAdminLogin", "string", "Administrator login of the server.", "airflowadmin"),
    KeySpec("postgresExistingFqdn", "string", "FQDN of an existing server (postgresMode existing).", ""),
    KeySpec("metadataConnection", "string",
            "SQLAlchemy URI of an existing metadata database (postgresMode existing; set with --secret).",
            "", secret=True),
    KeySpec("imageSource", "string",
            "build (ACR + image built from image/) or existing (airflowImageRepository:airflowImageTag).",
            "build"),
    KeySpec("registryName", "string",
            "ACR name (5-50 letters and digits, globally unique). Empty: generated.", ""),
    KeySpec("registrySku", "string", "Basic, Standard or Premium. Empty: dev Basic, prod Standard.", ""),
    KeySpec("registryPushUsername", "string",
            "Client id of a service principal that may push to the registry. Empty: the ambient "
            "Docker credentials (`az acr login`).", ""),
    KeySpec("registryPushPassword", "string",
            "Secret of that service principal (set with --secret).", "", secret=True),
    KeySpec("kubeletObjectId", "string",
            "Object id of the AKS kubelet identity that pulls images (imageSource build).", ""),
    KeySpec("registryPullSecretName", "string",
            "Existing image pull Secret for a registry outside Azure (imageSource existing only).", ""),
    KeySpec("vaultAddress", "string",
            "Vault URL (https://...). Empty: no Vault; connections then live in Airflow's database.", ""),
    KeySpec("vaultNamespace", "string", "Vault Enterprise/HCP namespace. Empty: none.", ""),
    KeySpec("vaultAuthPath", "string", "Path of the Kubernetes auth backend (no leading '/').", "kubernetes"),
    KeySpec("vaultKubernetesHost", "string",
            "API server URL Vault calls to review tokens (https://...; required with vaultAddress).", ""),
    KeySpec("vaultRoleName", "string", "Vault role the Airflow pods log in with.", "airflow"),
    KeySpec("vaultTokenTtl", "string", "Lifetime of Airflow's Vault tokens (duration, at most 24h).", "1h"),
    KeySpec("vaultKvMount", "string", "KV v2 mount holding Airflow's connections and variables.", "airflow"),
    KeySpec("vaultConnectionsPath", "string", "Folder of connections in the mount.", "connections"),
    KeySpec("vaultVariablesPath", "string", "Folder of variables in the mount.", "variables"),
    KeySpec("vaultCreateKvMount", "boolean", "Create the KV v2 mount (usually it exists).", False),
    KeySpec("vaultBindWebserver", "boolean",
            "Let the webserver's ServiceAccount log in too (to show connections in the UI).", False),
    KeySpec("vaultSeedConnections", "string",
            "JSON object conn_id -> connection URI to write to Vault (set with --secret).", "", secret=True),
    KeySpec("vaultSeedVariables", "string",
            "JSON object key -> value of Airflow variables to write to Vault (set with --secret).", "",
            secret=True),
    KeySpec("ingressHost", "string", "DNS name of the Airflow UI. Empty: no Ingress (port-forward only).", ""),
    KeySpec("ingressClassName", "string", "IngressClass of the controller.", "nginx"),
    KeySpec("ingressClusterIssuer", "string", "cert-manager ClusterIssuer that issues the UI certificate.", ""),
    KeySpec("ingressTlsSecretName", "string", "Existing TLS Secret for the UI (instead of cert-manager).", ""),
    KeySpec("ingressControllerNamespace", "string",
            "Namespace of the ingress controller pods (allowed to reach the webserver). With clusterMode "
            "create the program installs Traefik there, serving ingressClassName.", "ingress-nginx"),
    KeySpec("ingressAcmeEmail", "string",
            "ACME account e-mail. Set: the program creates the ClusterIssuer ingressClusterIssuer (Let's "
            "Encrypt, HTTP-01 through ingressClassName); required with clusterMode create and an issuer.", ""),
    KeySpec("ssoProvider", "string", "none, azure (Entra ID) or okta.", "none"),
    KeySpec("ssoTenantId", "string", "Entra ID tenant id (ssoProvider azure).", ""),
    KeySpec("ssoOktaDomain", "string", "Okta domain, e.g. example.okta.com (ssoProvider okta).", ""),
    KeySpec("ssoClientId", "string", "OIDC client (application) id.", ""),
    KeySpec("ssoClientSecret", "string", "OIDC client secret (set with --secret).", "", secret=True),
    KeySpec("ssoClientSecretVaultPath", "string",
            "Instead of ssoClientSecret: KV v2 secret in vaultKvMount whose key client_secret holds it.", ""),
    KeySpec("ssoDefaultRole", "string", "Airflow role of a user no group maps.", "Viewer"),
    KeySpec("ssoRoleMapping", "string",
            "JSON object: IdP group (Okta) or app role (Entra) -> Airflow roles.", "{}"),
    KeySpec("networkPoliciesEnabled", "boolean", "Default-deny NetworkPolicies with allow-lists.", True),
    KeySpec("networkPostgresCidrs", "array",
            "CIDRs of the metadata database (egress on 5432). Empty (and required empty) with a private "
            "managed database: read from postgresDelegatedSubnetId.", []),
    KeySpec("networkKubeApiCidrs", "array",
            "CIDRs of an existing cluster's API server (egress on 443). Empty (and required empty) with "
            "clusterMode create: read from clusterApiServerSubnetId.", []),
    KeySpec("networkVaultCidrs", "array", "CIDRs of Vault (egress on Vault's port; required with Vault).", []),
    KeySpec("networkGitCidrs", "array", "CIDRs of the Git host (on the repository's port). Empty: any address.", []),
    KeySpec("networkTaskEgressCidrs", "array", "Extra CIDRs task pods may reach (their data sources).", []),
    KeySpec("networkHttpsEgressCidrs", "array",
            "CIDRs Airflow reaches on 443: Entra ID (token exchange, SSO), Blob Storage (task logs), the "
            "Okta org. Required with taskLogs or SSO.", []),
    KeySpec("clusterMode", "string",
            "existing (kubeconfig/kubeContext) or create (an AKS cluster with a spot task pool).", "existing"),
    KeySpec("clusterKubernetesVersion", "string",
            "AKS Kubernetes version X.Y[.Z] that AKS still creates clusters at (airflow_on_k8s/aks_versions.py; "
            "create).", "1.36"),
    KeySpec("clusterTier", "string",
            "AKS pricing tier: Free (no SLA, dev), Standard (API server uptime SLA, prod) or Premium (create).",
            "Free"),
    KeySpec("clusterSystemVmSize", "string", "VM size of the on-demand system pool (create).", "Standard_D2s_v5"),
    KeySpec("clusterSystemMinCount", "integer", "System pool autoscaler minimum (create).", 1),
    KeySpec("clusterSystemMaxCount", "integer", "System pool autoscaler maximum (create).", 3),
    KeySpec("clusterTaskVmSize", "string", "VM size of the spot task pool (create).", "Standard_D8s_v5"),
    KeySpec("clusterTaskMinCount", "integer", "Task pool autoscaler minimum; 0 scales to zero (create).", 0),
    KeySpec("clusterTaskMaxCount", "integer", "Task pool autoscaler maximum (create).", 10),
    KeySpec("clusterTaskAutoscaling", "boolean", "Autoscale the spot task pool (required: it must scale to zero).",
            True),
    KeySpec("clusterSpotMaxPrice", "string", "Spot max price per hour in USD; -1 pays up to on-demand.", "-1"),
    KeySpec("clusterNetworkPolicy", "string", "Network policy engine: azure, calico or cilium (create).", "azure"),
    KeySpec("clusterSubnetId", "string",
            "Subnet of the node pools (create). Required with a private database: same or peered VNet.", ""),
    KeySpec("clusterApiServerSubnetId", "string",
            "Subnet for API Server VNet Integration (create; required with NetworkPolicies): delegated to "
            "Microsoft.ContainerService/managedClusters, /28 or larger, in clusterSubnetId's VNet. Pods reach "
            "the API server there, so its egress rule is known on the first up.", ""),
    KeySpec("clusterOidcIssuerUrl", "string",
            "OIDC issuer of an existing cluster (workload identity for task logs). Create mode: from the cluster.",
            ""),
    KeySpec("spotTaskPods", "boolean",
            "Task pods tolerate and prefer AKS spot nodes; the control plane stays on the system pool.", True),
    KeySpec("taskQueuedTimeoutSeconds", "integer",
            "Fail a task whose pod waited this long for a node ([scheduler] task_queued_timeout).", 1800),
    KeySpec("taskLogs", "boolean", "Ship task logs to Azure Blob Storage (they outlive their pods).", True),
    KeySpec("taskLogsStorageAccountName", "string",
            "Storage account for logs (3-24 lowercase alnum). Empty: generated.", ""),
    KeySpec("taskLogsContainer", "string", "Blob container of the task logs.", "airflow-logs"),
)
KEYS_BY_NAME: dict[str, KeySpec] = {spec.name: spec for spec in CONFIG_KEYS}


@dataclass(frozen=True)
class SecretValue:
    """A secret config value; its repr never shows the value."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "SecretValue([secret])"


@dataclass(frozen=True)
class ResourceQuantities:
    cpu: str
    memory: str


@dataclass(frozen=True)
class WorkerResources:
    requests: ResourceQuantities
    limits: ResourceQuantities


@dataclass(frozen=True)
class Replicas:
    scheduler: int
    webserver: int
    triggerer: int


@dataclass(frozen=True)
class KubernetesExecutorSettings:
    delete_worker_pods: bool
    delete_worker_pods_on_failure: bool
    worker_pods_creation_batch_size: int


@dataclass(frozen=True)
class GitSyncConfig:
    repo: str
    auth: Literal["ssh", "none"]
    branch: str
    rev: str
    sub_path: str
    period: str
    depth: int
    known_hosts: str
    ssh_private_key: SecretValue | None
    port: int


@dataclass(frozen=True)
class AirflowImage:
    repository: str
    tag: str


@dataclass(frozen=True)
class AirflowConfig:
    namespace: str
    release_name: str
    chart_version: str
    airflow_version: str
    replicas: Replicas
    worker_resources: WorkerResources
    executor: KubernetesExecutorSettings
    git_sync: GitSyncConfig


@dataclass(frozen=True)
class KubernetesConfig:
    kubeconfig: SecretValue | None
    context: str | None


@dataclass(frozen=True)
class AzureConfig:
    location: str
    resource_group_name: str | None  # None: the program creates the resource group


@dataclass(frozen=True)
class ManagedPostgresConfig:
    version: str
    sku_name: str
    sku_tier: str
    storage_size_gb: int
    backup_retention_days: int
    geo_redundant_backup: bool
    high_availability: str
    network: Literal["private", "public"]
    delegated_subnet_id: str | None
    private_dns_zone_id: str | None
    allowed_cidrs: tuple[str, ...]
    admin_login: str
    protect: bool  # prod: the server and database survive `pulumi destroy` and refuse deletion


@dataclass(frozen=True)
class ExistingPostgresConfig:
    fqdn: str
    connection: SecretValue


@dataclass(frozen=True)
class ImageBuildConfig:
    registry_name: str | None  # None: Pulumi generates a unique name
    registry_sku: str
    push_username: str | None
    push_password: SecretValue | None
    kubelet_object_id: str | None  # None: the created cluster's kubelet identity


@dataclass(frozen=True)
class ExistingImageConfig:
    image: AirflowImage
    pull_secret_name: str | None


@dataclass(frozen=True)
class VaultConfig:
    address: str
    namespace: str | None
    auth_path: str
    kubernetes_host: str | None  # None: the created cluster's API server
    role_name: str
    token_ttl_seconds: int
    kv_mount: str
    connections_path: str
    variables_path: str
    create_kv_mount: bool
    bind_webserver: bool
    seed_connections: tuple[tuple[str, SecretValue], ...]
    seed_variables: tuple[tuple[str, SecretValue], ...]


@dataclass(frozen=True)
class IngressConfig:
    host: str
    class_name: str
    cluster_issuer: str | None
    tls_secret_name: str | None
    controller_namespace: str
    acme_email: str | None  # set: the program creates cluster_issuer


SsoProvider = Literal["azure", "okta"]
AIRFLOW_ROLES = ("Admin", "Op", "User", "Viewer", "Public")


@dataclass(frozen=True)
class SsoConfig:
    provider: SsoProvider
    tenant_id: str | None
    okta_domain: str | None
    client_id: str
    client_secret: SecretValue | None
    client_secret_vault_path: str | None
    default_role: str
    role_mapping: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class NetworkConfig:
    postgres_cidrs: tuple[str, ...]
    kube_api_cidrs: tuple[str, ...]
    vault_cidrs: tuple[str, ...]
    git_cidrs: tuple[str, ...]
    task_egress_cidrs: tuple[str, ...]
    https_egress_cidrs: tuple[str, ...]


@dataclass(frozen=True)
class ClusterConfig:
    kubernetes_version: str
    system_vm_size: str
    system_min_count: int
    system_max_count: int
    task_vm_size: str
    task_min_count: int
    task_max_count: int
    spot_max_price: float
    network_policy: str
    subnet_id: str | None
    tier: str
    api_server_subnet_id: str | None


@dataclass(frozen=True)
class SchedulingConfig:
    spot_task_pods: bool
    task_queued_timeout_seconds: int


@dataclass(frozen=True)
class TaskLogsConfig:
    storage_account_name: str | None
    container: str
    oidc_issuer_url: str | None  # None: the created cluster's


@dataclass(frozen=True)
class StackConfig:
    stack: str
    environment: Environment
    kubernetes: KubernetesConfig
    airflow: AirflowConfig
    azure: AzureConfig
    database: ManagedPostgresConfig | ExistingPostgresConfig
    image: ImageBuildConfig | ExistingImageConfig
    vault: VaultConfig | None
    ingress: IngressConfig | None
    sso: SsoConfig | None
    network: NetworkConfig | None
    cluster: ClusterConfig | None  # None: an existing cluster
    scheduling: SchedulingConfig
    task_logs: TaskLogsConfig | None


@dataclass(frozen=True)
class EnvironmentProfile:
    """Defaults that differ between environments."""

    replicas: Replicas
    postgres_sku_name: str
    postgres_sku_tier: str
    postgres_storage_size_gb: int
    postgres_backup_retention_days: int
    postgres_geo_redundant_backup: str
    postgres_high_availability: str
    postgres_network: str
    registry_sku: str


PROFILES: dict[Environment, EnvironmentProfile] = {
    "dev": EnvironmentProfile(
        replicas=Replicas(scheduler=1, webserver=1, triggerer=1),
        postgres_sku_name="Standard_B1ms", postgres_sku_tier="Burstable", postgres_storage_size_gb=32,
        postgres_backup_retention_days=7, postgres_geo_redundant_backup="Disabled",
        postgres_high_availability="Disabled", postgres_network="public", registry_sku="Basic"),
    "prod": EnvironmentProfile(
        replicas=Replicas(scheduler=2, webserver=2, triggerer=1),
        postgres_sku_name="Standard_D2ds_v5", postgres_sku_tier="GeneralPurpose",
        postgres_storage_size_gb=128, postgres_backup_retention_days=14,
        postgres_geo_redundant_backup="Enabled", postgres_high_availability="ZoneRedundant",
        postgres_network="private", registry_sku="Standard"),
}
POSTGRES_VERSIONS = ("13", "14", "15", "16", "17")
POSTGRES_SKU_TIERS = ("Burstable", "GeneralPurpose", "MemoryOptimized")
POSTGRES_HA_MODES = ("Disabled", "SameZone", "ZoneRedundant")
# Flexible Server storage sizes in GiB (the service rejects anything else).
POSTGRES_STORAGE_SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
REGISTRY_SKUS = ("Basic", "Standard", "Premium")
CLUSTER_TIERS = ("Free", "Standard", "Premium")
# apache-airflow-providers-hashicorp 3.8.0 and -microsoft-azure 11.0.0 require apache-airflow>=2.8.0.
MIN_AIRFLOW_FOR_IMAGE = (2, 8, 0)
_RESERVED_POSTGRES_LOGINS = frozenset({"azure_superuser", "azure_pg_admin", "admin", "administrator",
                                       "root", "guest", "public", "postgres"})

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_EXACT_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_IMAGE_REPOSITORY = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_GIT_REF = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![/.])$")
_GO_DURATION = re.compile(r"^(?:\d+(?:h|m|s|ms))+$")
_SCP_LIKE_SSH = re.compile(r"^[A-Za-z0-9._-]+@(?P<host>[A-Za-z0-9.-]+):(?!/)[^\s]+$")
_KNOWN_HOSTS_LINE = re.compile(
    r"^(?P<hosts>\S+)\s+(?P<type>[a-z0-9@.-]+)\s+(?P<key>[A-Za-z0-9+/]+={0,2})(?:\s.*)?$")
_MAX_HELM_RELEASE_NAME = 53  # Helm's own limit; chart object names append suffixes to it
_MEMORY_EXPLANATION = "a Kubernetes quantity such as 512Mi or 4Gi ('m' means milli-bytes for memory)"


def full_key(name: str) -> str:
    return f"{PROJECT}:{name}"


class _Reader:
    """Typed access to raw config strings; every failure names the key and what is allowed."""

    def __init__(self, raw: Mapping[str, str], secret_keys: Set[str]) -> None:
        self._raw = raw
        self._secret_keys = secret_keys

    def _text(self, name: str) -> str | None:
        spec = KEYS_BY_NAME[name]
        value = self._raw.get(name)
        if value is None:
            if spec.default is None:
                raise ConfigError(full_key(name), None, f"required; {spec.description}")
            return None
        if not isinstance(value, str):
            raise ConfigError(full_key(name), value, f"a {spec.type} given as Pulumi config text",
                              secret=spec.secret)
        return value

    def string(self, name: str) -> str:
        value = self._text(name)
        if value is None:
            default = KEYS_BY_NAME[name].default
            assert isinstance(default, str)
            return default
        return value.strip()

    def integer(self, name: str, minimum: int, maximum: int) -> int:
        value = self._text(name)
        if value is None:
            default = KEYS_BY_NAME[name].default
            assert isinstance(default, int)
            return default
        allowed = f"an integer from {minimum} to {maximum}"
        if not re.fullmatch(r"[+-]?\d{1,9}", value.strip()):
            raise ConfigError(full_key(name), value, allowed)
        number = int(value)
        if not minimum <= number <= maximum:
            raise ConfigError(full_key(name), value, allowed)
        return number

    def boolean(self, name: str) -> bool:
        value = self._text(name)
        if value is None:
            default = KEYS_BY_NAME[name].default
            assert isinstance(default, bool)
            return default
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise ConfigError(full_key(name), value, "true or false")
        return lowered == "true"

    def array(self, name: str) -> tuple[str, ...]:
        value = self._text(name)
        if value is None:
            default = KEYS_BY_NAME[name].default
            assert isinstance(default, list)
            return tuple(default)
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ConfigError(full_key(name), value, "a list of strings (YAML list in the stack file)")
        return tuple(item.strip() for item in items)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.string(name)
        if value not in allowed:
            raise ConfigError(full_key(name), value, f"one of {', '.join(allowed)}")
        return value

    def secret(self, name: str) -> SecretValue | None:
        """A secret key's value, refusing one that was stored in plaintext."""
        value = self._text(name)
        if value is None or value == "":
            if KEYS_BY_NAME[name].default is None:
                raise ConfigError(full_key(name), None, f"required; {KEYS_BY_NAME[name].description}")
            return None
        if name not in self._secret_keys:
            raise ConfigError(full_key(name), value,
                              f"a secret: set it with `pulumi config set --secret {name}`",
                              secret=True)
        return SecretValue(value)


def _check(ok: bool, name: str, value: object, allowed: str, *, secret: bool = False) -> None:
    if not ok:
        raise ConfigError(full_key(name), value, allowed, secret=secret)


def _dns_label(reader: _Reader, name: str, max_length: int = 63) -> str:
    value = reader.string(name)
    _check(bool(_DNS1123_LABEL.match(value)) and len(value) <= max_length, name, value,
           f"a DNS-1123 label: lowercase letters, digits and '-', starting and ending with an "
           f"alphanumeric, at most {max_length} characters")
    return value


def _exact_version(reader: _Reader, name: str, what: str) -> str:
    value = reader.string(name)
    _check(bool(_EXACT_VERSION.match(value)), name, value,
           f"an exact {what} version X.Y.Z (no ranges, 'latest' or prefixes)")
    return value


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _environment(reader: _Reader, stack: str) -> Environment:
    value = reader.string("environment") or stack
    for environment in ENVIRONMENTS:
        if value == environment:
            return environment
    raise ConfigError(full_key("environment"), value,
                      "dev or prod (defaults to the stack name only when it is dev or prod)")


def _image(reader: _Reader, airflow_version: str) -> AirflowImage:
    repository = reader.string("airflowImageRepository")
    _check(bool(_IMAGE_REPOSITORY.match(repository)), "airflowImageRepository", repository,
           "an image repository without tag or digest, e.g. apache/airflow or myacr.azurecr.io/airflow")
    tag = reader.string("airflowImageTag")
    _check(tag.lower() != "latest" and bool(_IMAGE_TAG.match(tag)), "airflowImageTag", tag,
           "a pinned image tag (not empty, not 'latest')")
    _check(tag == airflow_version or tag.startswith(f"{airflow_version}-"), "airflowImageTag", tag,
           f"a tag that begins with airflowVersion {airflow_version} (e.g. {airflow_version}-python3.11) "
           "so the chart's airflowVersion matches the image")
    return AirflowImage(repository=repository, tag=tag)


def _replicas(reader: _Reader, environment: Environment) -> Replicas:
    defaults = PROFILES[environment].replicas
    scheduler = reader.integer("schedulerReplicas", 0, 10) or defaults.scheduler
    webserver = reader.integer("webserverReplicas", 0, 10) or defaults.webserver
    triggerer = reader.integer("triggererReplicas", 0, 10) or defaults.triggerer
    return Replicas(scheduler=scheduler, webserver=webserver, triggerer=triggerer)


def _quantity(reader: _Reader, name: str, kind: Literal["cpu", "memory"]) -> tuple[str, Decimal]:
    value = reader.string(name)
    amount = parse_quantity(value)
    if kind == "memory":
        _check(amount is not None and amount > 0 and not value.endswith("m"), name, value,
               _MEMORY_EXPLANATION)
    else:
        _check(amount is not None and amount > 0, name, value,
               "a positive Kubernetes CPU quantity such as 500m or 2")
    assert amount is not None
    return value, amount


def _worker_resources(reader: _Reader) -> WorkerResources:
    cpu_request, cpu_request_amount = _quantity(reader, "workerCpuRequest", "cpu")
    cpu_limit, cpu_limit_amount = _quantity(reader, "workerCpuLimit", "cpu")
    memory_request, memory_request_amount = _quantity(reader, "workerMemoryRequest", "memory")
    memory_limit, memory_limit_amount = _quantity(reader, "workerMemoryLimit", "memory")
    _check(cpu_limit_amount >= cpu_request_amount, "workerCpuLimit", cpu_limit,
           f"at least workerCpuRequest ({cpu_request})")
    _check(memory_limit_amount >= memory_request_amount, "workerMemoryLimit", memory_limit,
           f"at least workerMemoryRequest ({memory_request})")
    return WorkerResources(
        requests=ResourceQuantities(cpu=cpu_request, memory=memory_request),
        limits=ResourceQuantities(cpu=cpu_limit, memory=memory_limit),
    )


def split_url(text: str) -> SplitResult:
    """urlsplit that never raises: a malformed URL (bad IPv6 brackets, bad port) comes back empty,
    so the caller's check reports it as a config error."""
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a port outside 0-65535
    except ValueError:
        return urlsplit("")
    return parts


def git_host(repo: str) -> str | None:
    """The host of an SSH git URL (scp-like or ssh://), or None if the URL is not SSH."""
    scp = _SCP_LIKE_SSH.match(repo)
    if scp:
        return scp.group("host")
    parts = split_url(repo)
    if parts.scheme == "ssh" and parts.hostname and parts.path not in ("", "/"):
        return parts.hostname
    return None


def git_port(repo: str) -> int:
    """The TCP port git-sync connects to: ssh://host:2222/..., else 22 for SSH and 443 for https."""
    if _SCP_LIKE_SSH.match(repo):
        return 22
    parts = split_url(repo)
    return parts.port or (443 if parts.scheme == "https" else 22)


def _known_hosts_cover(known_hosts: str, host: str, port: int) -> bool:
    # OpenSSH writes hosts on other ports than 22 as [host]:port.
    wanted = host if port == 22 else f"[{host}]:{port}"
    for line in known_hosts.splitlines():
        match = _KNOWN_HOSTS_LINE.match(line.strip())
        if match and wanted in match.group("hosts").split(","):
            return True
    return False


def _known_hosts_valid(known_hosts: str) -> bool:
    lines = [line.strip() for line in known_hosts.splitlines() if line.strip()]
    return bool(lines) and all(_KNOWN_HOSTS_LINE.match(line) for line in lines)


def _git_sync(reader: _Reader) -> GitSyncConfig:
    auth = reader.choice("gitAuth", GIT_AUTH_MODES)
    repo = reader.string("gitRepo")
    private_key = reader.secret("gitSshPrivateKey")
    known_hosts = reader.string("gitKnownHosts")
    if auth == "ssh":
        host = git_host(repo)
        _check(host is not None, "gitRepo", repo,
               "an SSH URL (git@github.com:org/dags.git or ssh://git@host/org/dags.git) "
               "because gitAuth is ssh")
        assert host is not None
        _check(_known_hosts_valid(known_hosts), "gitKnownHosts", known_hosts,
               "known_hosts lines '<host> <key-type> <base64 key>' (required with gitAuth ssh, "
               "e.g. from `ssh-keyscan`)")
        port = git_port(repo)
        _check(_known_hosts_cover(known_hosts, host, port), "gitKnownHosts", known_hosts,
               f"a known_hosts line for the gitRepo host {host if port == 22 else f'[{host}]:{port}'}")
        if private_key is not None:
            _check("PRIVATE KEY-----" in private_key.value, "gitSshPrivateKey", private_key.value,
                   "an OpenSSH or PEM private key", secret=True)
    else:
        parts = split_url(repo)
        _check(parts.scheme == "https" and bool(parts.hostname) and parts.password is None
               and parts.username is None, "gitRepo", repo,
               "an https:// URL without credentials because gitAuth is none")
        _check(private_key is None, "gitSshPrivateKey", "[secret]",
               "empty because gitAuth is none", secret=True)
    branch = reader.string("gitBranch")
    _check(bool(_GIT_REF.match(branch)), "gitBranch", branch, "a git branch name such as main")
    rev = reader.string("gitRev")
    _check(rev == "HEAD" or bool(re.fullmatch(r"[0-9a-f]{7,40}", rev)), "gitRev", rev,
           "HEAD or a commit hash (7-40 lowercase hex digits)")
    sub_path = reader.string("gitSubPath").strip("/")
    _check(".." not in sub_path.split("/") and not any(c.isspace() for c in sub_path),
           "gitSubPath", sub_path, "a relative folder inside the repository without '..'")
    period = reader.string("gitSyncPeriod")
    _check(bool(_GO_DURATION.match(period)) and re.search(r"[1-9]", period) is not None,
           "gitSyncPeriod", period, "a positive Go duration such as 30s or 1m")
    depth = reader.integer("gitSyncDepth", 0, 10_000)
    return GitSyncConfig(repo=repo, auth="ssh" if auth == "ssh" else "none", branch=branch,
                         rev=rev, sub_path=sub_path, period=period, depth=depth,
                         known_hosts=known_hosts, ssh_private_key=private_key, port=git_port(repo))


_AZURE_SUBNET_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"virtualNetworks/[^/]+/subnets/[^/]+$", re.IGNORECASE)
_AZURE_PRIVATE_DNS_ZONE_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"privateDnsZones/[^/]+\.postgres\.database\.azure\.com$", re.IGNORECASE)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$")
_SECURE_SSLMODES = ("require", "verify-ca", "verify-full")


def _profile_choice(reader: _Reader, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = reader.string(name) or default
    _check(value in allowed, name, value, f"one of {', '.join(allowed)} (empty: the environment default)")
    return value


def _azure(reader: _Reader) -> AzureConfig:
    location = reader.string("azureLocation")
    _check(bool(re.fullmatch(r"[a-z0-9]+", location)), "azureLocation", location,
           "an Azure region name such as westeurope")
    group = reader.string("resourceGroupName")
    _check(group == "" or bool(re.fullmatch(r"[-\w.()]{0,89}[-\w()]", group)), "resourceGroupName", group,
           "a resource group name (1-90 letters, digits, '-', '_', '.', '(', ')', not ending in '.')")
    return AzureConfig(location=location, resource_group_name=group or None)


def _postgres_network(reader: _Reader, profile: EnvironmentProfile
                      ) -> tuple[Literal["private", "public"], str | None, str | None, tuple[str, ...]]:
    network = _profile_choice(reader, "postgresNetwork", ("private", "public"), profile.postgres_network)
    subnet = reader.string("postgresDelegatedSubnetId")
    dns_zone = reader.string("postgresPrivateDnsZoneId")
    cidrs = reader.array("postgresAllowedCidrs")
    if network == "private":
        _check(bool(_AZURE_SUBNET_ID.match(subnet)), "postgresDelegatedSubnetId", subnet,
               "the resource id of a subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers "
               "(required with postgresNetwork private)")
        _check(bool(_AZURE_PRIVATE_DNS_ZONE_ID.match(dns_zone)), "postgresPrivateDnsZoneId", dns_zone,
               "the resource id of a private DNS zone ending in .postgres.database.azure.com "
               "(required with postgresNetwork private)")
        _check(not cidrs, "postgresAllowedCidrs", json.dumps(list(cidrs)),
               "empty: firewall rules apply only with postgresNetwork public")
        return "private", subnet, dns_zone, ()
    _check(bool(cidrs), "postgresAllowedCidrs", json.dumps(list(cidrs)),
           "at least one IPv4 CIDR (e.g. the cluster's egress IP/32) with postgresNetwork public")
    for cidr in cidrs:
        try:
            parsed = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            parsed = None
        _check(isinstance(parsed, ipaddress.IPv4Network) and parsed is not None and parsed.prefixlen >= 8,
               "postgresAllowedCidrs", cidr, "IPv4 networks such as 203.0.113.7/32 (prefix /8 or longer)")
    _check(not subnet and not dns_zone, "postgresDelegatedSubnetId", subnet or dns_zone,
           "empty with postgresNetwork public")
    return "public", None, None, cidrs


def _managed_postgres(reader: _Reader, environment: Environment) -> ManagedPostgresConfig:
    profile = PROFILES[environment]
    version = reader.choice("postgresVersion", POSTGRES_VERSIONS)
    tier = _profile_choice(reader, "postgresSkuTier", POSTGRES_SKU_TIERS, profile.postgres_sku_tier)
    sku = reader.string("postgresSkuName") or profile.postgres_sku_name
    _check(bool(re.fullmatch(r"Standard_[A-Z][A-Za-z0-9_]*", sku)), "postgresSkuName", sku,
           "a Flexible Server SKU such as Standard_B1ms or Standard_D2ds_v5")
    _check((tier == "Burstable") == sku.startswith("Standard_B"), "postgresSkuName", sku,
           f"a SKU of the {tier} tier (Standard_B* is Burstable, and Burstable is Standard_B* only)")
    storage = reader.integer("postgresStorageSizeGb", 0, 32767) or profile.postgres_storage_size_gb
    _check(storage in POSTGRES_STORAGE_SIZES, "postgresStorageSizeGb", str(storage),
           f"one of {', '.join(map(str, POSTGRES_STORAGE_SIZES))}")
    retention = reader.integer("postgresBackupRetentionDays", 0, 10_000) or profile.postgres_backup_retention_days
    _check(7 <= retention <= 35, "postgresBackupRetentionDays", str(retention), "7 to 35 days")
    geo = _profile_choice(reader, "postgresGeoRedundantBackup", ("Enabled", "Disabled"),
                          profile.postgres_geo_redundant_backup)
    high_availability = _profile_choice(reader, "postgresHighAvailability", POSTGRES_HA_MODES,
                                        profile.postgres_high_availability)
    _check(high_availability == "Disabled" or tier != "Burstable", "postgresHighAvailability",
           high_availability, "Disabled on the Burstable tier (high availability needs GeneralPurpose "
           "or MemoryOptimized)")
    network, subnet, dns_zone, cidrs = _postgres_network(reader, profile)
    login = reader.string("postgresAdminLogin")
    _check(bool(re.fullmatch(r"[a-z][a-z0-9_]{0,62}", login)) and login not in _RESERVED_POSTGRES_LOGINS
           and not login.startswith("pg_"), "postgresAdminLogin", login,
           "a lowercase login (letters, digits, '_'), not a reserved name (admin, root, postgres, pg_*)")
    return ManagedPostgresConfig(
        version=version, sku_name=sku, sku_tier=tier, storage_size_gb=storage,
        backup_retention_days=retention, geo_redundant_backup=geo == "Enabled",
        high_availability=high_availability, network=network, delegated_subnet_id=subnet,
        private_dns_zone_id=dns_zone, allowed_cidrs=cidrs, admin_login=login,
        protect=environment == "prod")


def _existing_postgres(reader: _Reader) -> ExistingPostgresConfig:
    fqdn = reader.string("postgresExistingFqdn").lower()
    _check(bool(_HOSTNAME.match(fqdn)), "postgresExistingFqdn", fqdn,
           "the server's DNS name (required with postgresMode existing)")
    connection = reader.secret("metadataConnection")
    _check(connection is not None, "metadataConnection", None,
           "required with postgresMode existing: `pulumi config set --secret metadataConnection ...`")
    assert connection is not None
    parts = split_url(connection.value)
    sslmodes = parse_qs(parts.query).get("sslmode", [])
    _check(parts.scheme in ("postgresql", "postgresql+psycopg2") and parts.hostname == fqdn
           and bool(sslmodes) and sslmodes[-1] in _SECURE_SSLMODES, "metadataConnection", connection.value,
           f"a postgresql:// URI for host {fqdn} with sslmode=require, verify-ca or verify-full",
           secret=True)
    return ExistingPostgresConfig(fqdn=fqdn, connection=connection)


def _database(reader: _Reader, environment: Environment) -> ManagedPostgresConfig | ExistingPostgresConfig:
    mode = reader.choice("postgresMode", ("managed", "existing"))
    if mode == "existing":
        return _existing_postgres(reader)
    _check(reader.secret("metadataConnection") is None, "metadataConnection", "[secret]",
           "empty with postgresMode managed: the program builds the connection", secret=True)
    return _managed_postgres(reader, environment)


def _image_source(reader: _Reader, environment: Environment,
                  airflow_version: str) -> ImageBuildConfig | ExistingImageConfig:
    source = reader.choice("imageSource", ("build", "existing"))
    pull_secret = reader.string("registryPullSecretName")
    if source == "existing":
        _check(pull_secret == "" or bool(_DNS1123_LABEL.match(pull_secret)), "registryPullSecretName",
               pull_secret, "the name of an existing kubernetes.io/dockerconfigjson Secret")
        return ExistingImageConfig(image=_image(reader, airflow_version), pull_secret_name=pull_secret or None)
    _check(pull_secret == "", "registryPullSecretName", pull_secret,
           "empty with imageSource build: the kubelet identity pulls from ACR with AcrPull")
    _check(_version_tuple(airflow_version) >= MIN_AIRFLOW_FOR_IMAGE, "airflowVersion", airflow_version,
           f"{'.'.join(map(str, MIN_AIRFLOW_FOR_IMAGE))} or newer with imageSource build: the providers pinned in "
           "image/requirements.txt need it")
    name = reader.string("registryName")
    _check(name == "" or bool(re.fullmatch(r"[a-zA-Z0-9]{5,50}", name)), "registryName", name,
           "5-50 letters and digits, globally unique (empty: generated)")
    sku = _profile_choice(reader, "registrySku", REGISTRY_SKUS, PROFILES[environment].registry_sku)
    username = reader.string("registryPushUsername")
    password = reader.secret("registryPushPassword")
    _check(username == "" or bool(_GUID.match(username)), "registryPushUsername", username,
           "the client id (GUID) of a service principal with push rights")
    _check(bool(username) == (password is not None), "registryPushPassword", "[secret]",
           "set together with registryPushUsername, or both empty", secret=True)
    kubelet = reader.string("kubeletObjectId")
    creates_cluster = reader.string("clusterMode") == "create"
    _check(bool(_GUID.match(kubelet)) or (creates_cluster and not kubelet), "kubeletObjectId", kubelet,
           "the object id (GUID) of the AKS kubelet identity "
           "(az aks show --query identityProfile.kubeletidentity.objectId); optional with clusterMode create")
    return ImageBuildConfig(registry_name=name or None, registry_sku=sku, push_username=username or None,
                            push_password=password, kubelet_object_id=kubelet or None)


_VAULT_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*")
_VAULT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DURATION_PART = re.compile(r"(\d+)(h|m|s)")
MAX_VAULT_TOKEN_TTL_SECONDS = 24 * 3600


def duration_seconds(text: str) -> int | None:
    """Seconds in a Vault/Go duration such as 1h, 30m or 1h30m; None if it is not one."""
    if not re.fullmatch(r"(\d+(h|m|s))+", text):
        return None
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(amount) * units[unit] for amount, unit in _DURATION_PART.findall(text))


def _https_url(reader: _Reader, name: str, required_because: str) -> str:
    value = reader.string(name).rstrip("/")
    parts = split_url(value)
    _check(parts.scheme == "https" and bool(parts.hostname) and parts.username is None, name, value,
           f"an https:// URL without credentials ({required_because})")
    return value


def _vault_path(reader: _Reader, name: str) -> str:
    value = reader.string(name)
    _check(bool(_VAULT_PATH.fullmatch(value)), name, value,
           "a Vault path such as airflow or team/airflow: no leading or trailing '/', no empty segments")
    return value


def _seeds(reader: _Reader, name: str) -> tuple[tuple[str, SecretValue], ...]:
    secret = reader.secret(name)
    if secret is None:
        return ()
    try:
        entries = json.loads(secret.value)
    except json.JSONDecodeError:
        entries = None
    _check(isinstance(entries, dict) and all(isinstance(value, str) for value in entries.values()), name,
           "[secret]", 'a JSON object of strings, e.g. {"my_db": "postgresql://..."}', secret=True)
    assert isinstance(entries, dict)
    for key in entries:
        _check(bool(_VAULT_NAME.fullmatch(key)), name, key, "ids of letters, digits, '_', '.' and '-'")
    return tuple((key, SecretValue(value)) for key, value in sorted(entries.items()))


def _vault_kubernetes_host(reader: _Reader, creates_cluster: bool) -> str | None:
    if creates_cluster:
        host = reader.string("vaultKubernetesHost")
        _check(not host, "vaultKubernetesHost", host, "empty with clusterMode create: the created cluster's API "
               "server is used")
        return None
    return _https_url(reader, "vaultKubernetesHost", "the API server Vault reviews tokens with")


def _vault(reader: _Reader, creates_cluster: bool) -> VaultConfig | None:
    if not reader.string("vaultAddress"):
        for name in ("vaultSeedConnections", "vaultSeedVariables"):
            _check(reader.secret(name) is None, name, "[secret]", "empty without vaultAddress", secret=True)
        return None
    address = _https_url(reader, "vaultAddress", "Vault's API address")
    ttl_text = reader.string("vaultTokenTtl")
    ttl = duration_seconds(ttl_text)
    _check(ttl is not None and 0 < ttl <= MAX_VAULT_TOKEN_TTL_SECONDS, "vaultTokenTtl", ttl_text,
           "a duration such as 1h, 30m or 1h30m, above 0 and at most 24h")
    assert ttl is not None
    role = reader.string("vaultRoleName")
    _check(bool(_VAULT_NAME.fullmatch(role)), "vaultRoleName", role,
           "a non-empty role name of letters, digits, '_', '.' and '-'")
    namespace = reader.string("vaultNamespace").strip("/")
    _check(namespace == "" or bool(_VAULT_PATH.fullmatch(namespace)), "vaultNamespace", namespace,
           "a Vault namespace path such as admin or admin/data-platform")
    return VaultConfig(
        address=address,
        namespace=namespace or None,
        auth_path=_vault_path(reader, "vaultAuthPath"),
        kubernetes_host=_vault_kubernetes_host(reader, creates_cluster),
        role_name=role,
        token_ttl_seconds=ttl,
        kv_mount=_vault_path(reader, "vaultKvMount"),
        connections_path=_vault_path(reader, "vaultConnectionsPath"),
        variables_path=_vault_path(reader, "vaultVariablesPath"),
        create_kv_mount=reader.boolean("vaultCreateKvMount"),
        bind_webserver=reader.boolean("vaultBindWebserver"),
        seed_connections=_seeds(reader, "vaultSeedConnections"),
        seed_variables=_seeds(reader, "vaultSeedVariables"),
    )


def _cidrs(reader: _Reader, name: str, *, required_because: str | None = None) -> tuple[str, ...]:
    cidrs = reader.array(name)
    if required_because:
        _check(bool(cidrs), name, json.dumps(list(cidrs)), f"at least one CIDR ({required_because})")
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise ConfigError(full_key(name), cidr, "CIDRs such as 10.20.0.0/24 or 203.0.113.7/32") from None
    return cidrs


def _ingress(reader: _Reader) -> IngressConfig | None:
    host = reader.string("ingressHost").lower()
    issuer = reader.string("ingressClusterIssuer")
    tls_secret = reader.string("ingressTlsSecretName")
    if not host:
        _check(not issuer and not tls_secret, "ingressHost", host, "set when a TLS issuer or Secret is given")
        return None
    _check(bool(_HOSTNAME.match(host)), "ingressHost", host, "a DNS name such as airflow.example.com")
    _check(bool(issuer) != bool(tls_secret), "ingressClusterIssuer", issuer,
           "exactly one of ingressClusterIssuer (cert-manager) and ingressTlsSecretName: the UI is TLS only")
    for name, value in (("ingressClusterIssuer", issuer), ("ingressTlsSecretName", tls_secret)):
        _check(value == "" or bool(_DNS1123_SUBDOMAIN.match(value)), name, value, "a Kubernetes object name")
    class_name = reader.string("ingressClassName")
    _check(bool(_DNS1123_SUBDOMAIN.match(class_name)), "ingressClassName", class_name, "an IngressClass name")
    acme_email = reader.string("ingressAcmeEmail")
    if issuer and reader.string("clusterMode") == "create":
        _check(bool(acme_email), "ingressAcmeEmail", acme_email,
               f"an e-mail address with clusterMode create: the new cluster has no ClusterIssuer {issuer} "
               "until the program creates it")
    _check(not acme_email or bool(issuer), "ingressAcmeEmail", acme_email,
           "empty without ingressClusterIssuer (it names the ClusterIssuer to create)")
    _check(not acme_email or reader.string("clusterMode") == "create", "ingressAcmeEmail", acme_email,
           "empty with clusterMode existing: the cluster's own cert-manager and issuers are used")
    _check(not acme_email or bool(_EMAIL.fullmatch(acme_email)), "ingressAcmeEmail", acme_email,
           "an e-mail address such as platform@example.com")
    return IngressConfig(host=host, class_name=class_name, cluster_issuer=issuer or None,
                         tls_secret_name=tls_secret or None,
                         controller_namespace=_dns_label(reader, "ingressControllerNamespace"),
                         acme_email=acme_email or None)


def _role_mapping(reader: _Reader) -> tuple[tuple[str, tuple[str, ...]], ...]:
    text = reader.string("ssoRoleMapping") or "{}"
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError:
        mapping = None
    allowed = (f"a JSON object of group -> Airflow roles ({', '.join(AIRFLOW_ROLES)}), "
               'e.g. {"airflow-admins": ["Admin"]}')
    _check(isinstance(mapping, dict), "ssoRoleMapping", text, allowed)
    assert isinstance(mapping, dict)
    result = []
    for group, roles in mapping.items():
        role_list = [roles] if isinstance(roles, str) else roles
        _check(bool(group) and isinstance(role_list, list) and bool(role_list)
               and all(role in AIRFLOW_ROLES for role in role_list), "ssoRoleMapping", text, allowed)
        result.append((group, tuple(role_list)))
    return tuple(result)


def _sso(reader: _Reader, vault: VaultConfig | None, ingress: IngressConfig | None) -> SsoConfig | None:
    provider = reader.choice("ssoProvider", ("none", "azure", "okta"))
    if provider == "none":
        return None
    _check(ingress is not None, "ingressHost", "", f"set: ssoProvider {provider} redirects users back to it")
    tenant = reader.string("ssoTenantId")
    domain = reader.string("ssoOktaDomain").lower()
    if provider == "azure":
        _check(bool(_GUID.match(tenant)), "ssoTenantId", tenant, "the Entra ID tenant id (GUID) for ssoProvider azure")
    else:
        _check(bool(_HOSTNAME.match(domain)), "ssoOktaDomain", domain,
               "the Okta domain (e.g. example.okta.com) for ssoProvider okta")
    client_id = reader.string("ssoClientId")
    _check(bool(re.fullmatch(r"[A-Za-z0-9._-]{8,128}", client_id)), "ssoClientId", client_id,
           "the OIDC client (application) id")
    secret = reader.secret("ssoClientSecret")
    vault_path = reader.string("ssoClientSecretVaultPath")
    _check((secret is None) != (vault_path == ""), "ssoClientSecret", "[secret]",
           "exactly one of ssoClientSecret (set with --secret) and ssoClientSecretVaultPath", secret=True)
    if vault_path:
        _check(vault is not None and bool(_VAULT_PATH.fullmatch(vault_path)), "ssoClientSecretVaultPath",
               vault_path, "a path inside vaultKvMount (needs vaultAddress)")
        _check(vault is None or not vault.create_kv_mount, "ssoClientSecretVaultPath", vault_path,
               "empty while vaultCreateKvMount is true: the secret must exist before the first update reads it")
    default_role = reader.choice("ssoDefaultRole", AIRFLOW_ROLES)
    return SsoConfig(provider="azure" if provider == "azure" else "okta", tenant_id=tenant or None,
                     okta_domain=domain or None, client_id=client_id, client_secret=secret,
                     client_secret_vault_path=vault_path or None, default_role=default_role,
                     role_mapping=_role_mapping(reader))


def _https_egress_reason(reader: _Reader, sso: SsoConfig | None) -> str | None:
    reasons = ([f"SSO reaches {sso.provider} over https"] if sso else []) + (
        ["task logs go to Blob Storage after an Entra ID token exchange"] if reader.boolean("taskLogs") else [])
    return "; ".join(reasons) or None


def _derived_cidrs(reader: _Reader, name: str, derived_from: str | None, required_because: str) -> tuple[str, ...]:
    """A CIDR list the program reads from Azure when `derived_from` names the subnet, else typed."""
    if derived_from is None:
        return _cidrs(reader, name, required_because=required_because)
    typed = reader.array(name)
    _check(not typed, name, json.dumps(list(typed))[:200], f"empty: the program reads it from {derived_from}")
    return ()


def _network(reader: _Reader, vault: VaultConfig | None, needs_https: str | None, cluster: ClusterConfig | None,
             database: ManagedPostgresConfig | ExistingPostgresConfig) -> NetworkConfig | None:
    if not reader.boolean("networkPoliciesEnabled"):
        return None
    if cluster is not None:
        _check(cluster.api_server_subnet_id is not None, "clusterApiServerSubnetId", "",
               "a subnet resource id with clusterMode create and NetworkPolicies: the API server's address "
               "(API Server VNet Integration) is what the scheduler's egress rule allows")
    private_database = isinstance(database, ManagedPostgresConfig) and database.network == "private"
    return NetworkConfig(
        https_egress_cidrs=_cidrs(reader, "networkHttpsEgressCidrs", required_because=needs_https),
        postgres_cidrs=_derived_cidrs(reader, "networkPostgresCidrs",
                                      "postgresDelegatedSubnetId" if private_database else None,
                                      "the metadata database"),
        kube_api_cidrs=_derived_cidrs(reader, "networkKubeApiCidrs",
                                      "clusterApiServerSubnetId" if cluster is not None else None,
                                      "the scheduler creates task pods"),
        vault_cidrs=_cidrs(reader, "networkVaultCidrs",
                           required_because="Airflow reads Vault" if vault else None),
        git_cidrs=_cidrs(reader, "networkGitCidrs"),
        task_egress_cidrs=_cidrs(reader, "networkTaskEgressCidrs"),
    )


def _vm_size(reader: _Reader, name: str) -> str:
    value = reader.string(name)
    _check(bool(re.fullmatch(r"Standard_[A-Za-z0-9_]+", value)), name, value,
           "an Azure VM size such as Standard_D4s_v5")
    return value


def _cluster(reader: _Reader, stack: str, environment: Environment, today: date) -> ClusterConfig | None:
    if reader.choice("clusterMode", ("existing", "create")) == "existing":
        return None
    # The stack name becomes the cluster's DNS prefix (airflow-<stack>).
    _check(bool(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,44}[A-Za-z0-9])?", stack)), "clusterMode", "create",
           f"used on a stack whose name suits an AKS DNS prefix (letters, digits, '-'); {stack!r} does not")
    version = reader.string("clusterKubernetesVersion")
    problem = version_problem(version, today)
    _check(problem is None, "clusterKubernetesVersion", version, problem or "")
    system_min = reader.integer("clusterSystemMinCount", 1, 100)
    system_max = reader.integer("clusterSystemMaxCount", 1, 100)
    _check(system_min <= system_max, "clusterSystemMinCount", str(system_min),
           f"at most clusterSystemMaxCount ({system_max})")
    _check(reader.boolean("clusterTaskAutoscaling"), "clusterTaskAutoscaling", "false",
           "true: the spot task pool must autoscale, down to zero between batch windows")
    task_min = reader.integer("clusterTaskMinCount", 0, 1000)
    task_max = reader.integer("clusterTaskMaxCount", 1, 1000)
    _check(task_min <= task_max, "clusterTaskMinCount", str(task_min), f"at most clusterTaskMaxCount ({task_max})")
    subnet_id = _cluster_subnet(reader, environment)
    price_text = reader.string("clusterSpotMaxPrice")
    try:
        price = float(price_text)
    except ValueError:
        price = 0.0
    _check(price == -1 or (0 < price < 10_000), "clusterSpotMaxPrice", price_text,
           "-1 (up to the on-demand price) or a positive price per hour in USD")
    return ClusterConfig(
        kubernetes_version=version, system_vm_size=_vm_size(reader, "clusterSystemVmSize"),
        system_min_count=system_min, system_max_count=system_max, task_vm_size=_vm_size(reader, "clusterTaskVmSize"),
        task_min_count=task_min, task_max_count=task_max, spot_max_price=price,
        network_policy=reader.choice("clusterNetworkPolicy", ("azure", "calico", "cilium")),
        subnet_id=subnet_id, tier=reader.choice("clusterTier", CLUSTER_TIERS),
        api_server_subnet_id=_api_server_subnet(reader, subnet_id))


def _api_server_subnet(reader: _Reader, node_subnet_id: str | None) -> str | None:
    subnet = reader.string("clusterApiServerSubnetId")
    if not subnet:
        return None
    _check(bool(_AZURE_SUBNET_ID.match(subnet)), "clusterApiServerSubnetId", subnet, "a subnet resource id")
    vnet = subnet.lower().split("/subnets/")[0]
    _check(node_subnet_id is not None and node_subnet_id.lower().split("/subnets/")[0] == vnet,
           "clusterApiServerSubnetId", subnet, "a subnet in the VNet of clusterSubnetId (API Server VNet "
           "Integration with your own VNet needs both)")
    _check(subnet.lower() != (node_subnet_id or "").lower(), "clusterApiServerSubnetId", subnet,
           "a subnet of its own, delegated to Microsoft.ContainerService/managedClusters, not the node subnet")
    return subnet


def _cluster_subnet(reader: _Reader, environment: Environment) -> str | None:
    subnet = reader.string("clusterSubnetId")
    network = reader.string("postgresNetwork") or PROFILES[environment].postgres_network
    private_database = reader.string("postgresMode") == "managed" and network == "private"
    _check(bool(_AZURE_SUBNET_ID.match(subnet)) or (not subnet and not private_database), "clusterSubnetId",
           subnet, "a subnet resource id in the database's VNet (or a peered one): required with a private "
           "database, or pods cannot reach it")
    return subnet or None


def _task_logs(reader: _Reader, cluster: ClusterConfig | None) -> TaskLogsConfig | None:
    if not reader.boolean("taskLogs"):
        return None
    account = reader.string("taskLogsStorageAccountName")
    _check(account == "" or bool(re.fullmatch(r"[a-z0-9]{3,24}", account)), "taskLogsStorageAccountName", account,
           "3-24 lowercase letters and digits, globally unique (empty: generated)")
    container = reader.string("taskLogsContainer")
    _check(bool(re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", container)), "taskLogsContainer",
           container, "a blob container name: 3-63 lowercase letters, digits and single '-'")
    issuer = reader.string("clusterOidcIssuerUrl")
    _check(cluster is None or not issuer, "clusterOidcIssuerUrl", issuer,
           "empty with clusterMode create: the created cluster's issuer is used")
    if cluster is None:
        _check(split_url(issuer).scheme == "https", "clusterOidcIssuerUrl", issuer,
               "the cluster's OIDC issuer URL (az aks show --query oidcIssuerProfile.issuerUrl), required for "
               "task logs on an existing cluster")
    return TaskLogsConfig(storage_account_name=account or None, container=container, oidc_issuer_url=issuer or None)


def _reject_unknown_keys(raw: Mapping[str, str]) -> None:
    for name in sorted(raw):
        if name not in KEYS_BY_NAME:
            raise ConfigError(full_key(name), raw[name],
                              f"a known key; this program reads {', '.join(sorted(KEYS_BY_NAME))}",
                              secret=True)


def parse_stack_config(raw: Mapping[str, str], *, stack: str, secret_keys: Set[str],
                       today: date | None = None) -> StackConfig:
    """Validate raw config (short key -> Pulumi's string value) into a StackConfig; `today` (default:
    the date it runs) decides which AKS versions a new cluster may use."""
    _reject_unknown_keys(raw)
    reader = _Reader(raw, secret_keys)
    environment = _environment(reader, stack)
    chart_version = _exact_version(reader, "chartVersion", "chart")
    airflow_version = _exact_version(reader, "airflowVersion", "Airflow")
    _check(_version_tuple(airflow_version)[0] == 2, "airflowVersion", airflow_version,
           "an Airflow 2 version: the values this program renders follow the Airflow 2 layout "
           "(webserver, webserverSecretKeySecretName)")
    if _version_tuple(chart_version) >= (1, 20, 0):
        _check(_version_tuple(airflow_version) >= (2, 11, 0), "airflowVersion", airflow_version,
               f"2.11.0 or newer: chart {chart_version} refuses older Airflow versions")
    context = reader.string("kubeContext")
    airflow = AirflowConfig(
        namespace=_dns_label(reader, "namespace"),
        release_name=_dns_label(reader, "releaseName", _MAX_HELM_RELEASE_NAME),
        chart_version=chart_version,
        airflow_version=airflow_version,
        replicas=_replicas(reader, environment),
        worker_resources=_worker_resources(reader),
        executor=KubernetesExecutorSettings(
            delete_worker_pods=reader.boolean("deleteWorkerPods"),
            delete_worker_pods_on_failure=reader.boolean("deleteWorkerPodsOnFailure"),
            worker_pods_creation_batch_size=reader.integer("workerPodsCreationBatchSize", 1, 1000),
        ),
        git_sync=_git_sync(reader),
    )
    vault = _vault(reader, creates_cluster=reader.string("clusterMode") == "create")
    ingress = _ingress(reader)
    cluster = _cluster(reader, stack, environment, today or date.today())
    sso = _sso(reader, vault, ingress)
    database = _database(reader, environment)
    return StackConfig(
        stack=stack,
        environment=environment,
        kubernetes=KubernetesConfig(kubeconfig=reader.secret("kubeconfig"), context=context or None),
        airflow=airflow,
        azure=_azure(reader),
        database=database,
        image=_image_source(reader, environment, airflow_version),
        vault=vault,
        ingress=ingress,
        sso=sso,
        network=_network(reader, vault, _https_egress_reason(reader, sso), cluster, database),
        cluster=cluster,
        scheduling=SchedulingConfig(
            spot_task_pods=reader.boolean("spotTaskPods"),
            task_queued_timeout_seconds=reader.integer("taskQueuedTimeoutSeconds", 60, 86_400)),
        task_logs=_task_logs(reader, cluster),
    )


def raw_config_from_runtime(
    get_value: Callable[[str], object], is_secret: Callable[[str], bool], present_keys: Set[str]
) -> tuple[dict[str, str], set[str]]:
    """Collect this project's raw values and secret key names from runtime accessors."""
    prefix = f"{PROJECT}:"
    raw: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key in present_keys:
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        value = get_value(key)
        if value is None:
            continue
        raw[name] = value if isinstance(value, str) else str(value)
        if is_secret(key):
            secret_keys.add(name)
    return raw, secret_keys


def load_stack_config() -> StackConfig:
    """Read this stack's config from the Pulumi runtime (CLI or mocks) and validate it."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    env_secret_keys = set(runtime_config.get_config_secret_keys_env())
    raw, secret_keys = raw_config_from_runtime(
        runtime_config.get_config,
        lambda key: runtime_config.is_config_secret(key) or key in env_secret_keys,
        present,
    )
    return parse_stack_config(raw, stack=pulumi.get_stack(), secret_keys=secret_keys)
