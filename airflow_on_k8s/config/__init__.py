"""Every stack configuration key, read in one place into frozen dataclasses and validated.

One module per section (airflow, git, database, image, vault, web, network, cluster, logs,
azure) holds its keys, its dataclass and its parser. `CONFIG_KEYS` is their concatenation:
`Pulumi.yaml`'s `config:` block and the README's config table are generated from it
(`python -m tools.project_file`; a test keeps them equal). `parse_stack_config` is pure: it runs
the sections, then the checks that relate them, and either returns a `StackConfig` or raises
`ConfigError` naming the key, the value and what is allowed.
"""

import difflib
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import date

from airflow_on_k8s.cluster_addons import CERT_MANAGER_NAMESPACE
from airflow_on_k8s.config import airflow, azure, cluster, database, git, image, logs, network, vault, web
from airflow_on_k8s.config.airflow import (
    SUPPORTED_PAIRS,
    AirflowConfig,
    ComponentResources,
    ContainerResources,
    Environment,
    KubernetesExecutorSettings,
    Replicas,
    ResourceQuantities,
    SchedulingConfig,
    WorkerResources,
)
from airflow_on_k8s.config.azure import AzureConfig
from airflow_on_k8s.config.cluster import ClusterConfig, CreatedClusterConfig, ExistingClusterConfig
from airflow_on_k8s.config.database import POSTGRES_STORAGE_SIZES, ExistingPostgresConfig, ManagedPostgresConfig
from airflow_on_k8s.config.git import GitSyncConfig, git_host, git_port
from airflow_on_k8s.config.image import AirflowImage, ExistingImageConfig, ImageBuildConfig
from airflow_on_k8s.config.logs import TaskLogsConfig
from airflow_on_k8s.config.network import NetworkConfig
from airflow_on_k8s.config.reader import PROJECT, KeySpec, Reader, SecretValue, check, full_key
from airflow_on_k8s.config.vault import MAX_VAULT_TOKEN_TTL_SECONDS, VaultConfig, duration_seconds
from airflow_on_k8s.config.web import AIRFLOW_ROLES, IngressConfig, SsoConfig, SsoProvider
from airflow_on_k8s.errors import ConfigError

__all__ = [
    "AIRFLOW_ROLES",
    "CONFIG_KEYS",
    "KEYS_BY_NAME",
    "MAX_VAULT_TOKEN_TTL_SECONDS",
    "POSTGRES_STORAGE_SIZES",
    "PROJECT",
    "SUPPORTED_PAIRS",
    "AirflowConfig",
    "AirflowImage",
    "AzureConfig",
    "ClusterConfig",
    "ComponentResources",
    "ContainerResources",
    "CreatedClusterConfig",
    "Environment",
    "ExistingClusterConfig",
    "ExistingImageConfig",
    "ExistingPostgresConfig",
    "GitSyncConfig",
    "ImageBuildConfig",
    "IngressConfig",
    "KeySpec",
    "KubernetesExecutorSettings",
    "ManagedPostgresConfig",
    "NetworkConfig",
    "Replicas",
    "ResourceQuantities",
    "SchedulingConfig",
    "SecretValue",
    "SsoConfig",
    "SsoProvider",
    "StackConfig",
    "TaskLogsConfig",
    "VaultConfig",
    "WorkerResources",
    "duration_seconds",
    "git_host",
    "git_port",
    "load_stack_config",
    "parse_stack_config",
    "raw_config_from_runtime",
    "reject_mistyped_namespaces",
]

SECTIONS = (airflow, git, azure, database, image, vault, web, network, cluster, logs)
CONFIG_KEYS: tuple[KeySpec, ...] = tuple(spec for section in SECTIONS for spec in section.KEYS)
KEYS_BY_NAME: dict[str, KeySpec] = {spec.name: spec for spec in CONFIG_KEYS}


@dataclass(frozen=True)
class StackConfig:
    stack: str
    environment: Environment
    airflow: AirflowConfig
    git: GitSyncConfig
    azure: AzureConfig
    database: ManagedPostgresConfig | ExistingPostgresConfig
    image: ImageBuildConfig | ExistingImageConfig
    vault: VaultConfig | None
    ingress: IngressConfig | None
    sso: SsoConfig | None
    network: NetworkConfig | None
    cluster: ClusterConfig
    task_logs: TaskLogsConfig | None


def _closest(text: str, candidates: Iterable[str]) -> str | None:
    """The candidate `text` most likely misspells, if any is close."""
    if len(text) > 64:
        return None
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    if text.lower() in by_lower:
        return by_lower[text.lower()]
    matches = difflib.get_close_matches(text, list(by_lower.values()), n=1, cutoff=0.8)
    return matches[0] if matches else None


def _reject_unknown_keys(raw: Mapping[str, str]) -> None:
    for name in sorted(raw):
        if name not in KEYS_BY_NAME:
            # The value is not shown: a misspelt key may well hold a secret.
            suggestion = _closest(name.strip(), KEYS_BY_NAME)
            raise ConfigError(full_key(name), raw[name],
                              f"a known key; did you mean {suggestion}?" if suggestion else
                              "a known key of this program (see the config reference: docs/config.md)",
                              secret=True)


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _looks_like_project(namespace: str) -> bool:
    """Whether a config namespace is this project's name mistyped (airflow-on-k8, airflow_on_k8s,
    Airflow-On-K8s), rather than another project's or a provider's (kubernetes, azure-native)."""
    if namespace == PROJECT or len(namespace) > 2 * len(PROJECT):
        return False
    squeezed = "".join(ch for ch in namespace.lower() if ch.isalnum())
    return (_edit_distance(namespace.lower(), PROJECT) <= 2
            or _edit_distance(squeezed, PROJECT.replace("-", "")) <= 1)


def reject_mistyped_namespaces(full_keys: Iterable[str]) -> None:
    """Refuse keys whose namespace misspells this project's: their values would be silently
    ignored. Keys of other namespaces (providers, other projects) are not this program's business."""
    for key in sorted(full_keys):
        namespace, _, name = key.partition(":")
        if _looks_like_project(namespace):
            raise ConfigError(key, None, f"a key of this project: {namespace!r} is not the project name "
                              f"{PROJECT!r}; did you mean {full_key(name)}?", secret=True)


# Namespaces a cluster has from the start; the program creates Airflow's namespace, and closes it
# with a default-deny NetworkPolicy, so it must be one of its own. kube-* is reserved for Kubernetes.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _reserved(namespace: str) -> bool:
    return namespace in RESERVED_NAMESPACES or namespace.startswith("kube-")


def _check_namespaces(settings: AirflowConfig, ingress: IngressConfig | None, creates_cluster: bool) -> None:
    check(not _reserved(settings.namespace), "namespace", settings.namespace,
          "a namespace of Airflow's own, not default or a kube-* system namespace: the program creates it "
          "and closes it with a default-deny NetworkPolicy")
    if ingress is None or not creates_cluster:
        return
    # With a created cluster the program also creates the controller's and cert-manager's namespaces.
    controller = ingress.controller_namespace
    check(not _reserved(controller), "ingressControllerNamespace", controller,
          "a namespace the program may create for Traefik, not default or a kube-* system namespace")
    taken = {settings.namespace: "namespace"}
    if ingress.cluster_issuer:
        taken[CERT_MANAGER_NAMESPACE] = "cert-manager's namespace"
    check(controller not in taken, "ingressControllerNamespace", controller,
          f"a namespace of its own with clusterMode create; {taken.get(controller)} is {controller}")
    check(settings.namespace != CERT_MANAGER_NAMESPACE or not ingress.cluster_issuer, "namespace",
          settings.namespace, "a namespace of Airflow's own: the program installs cert-manager there")


def _https_needed_by(sso: SsoConfig | None, task_logs: TaskLogsConfig | None) -> str | None:
    reasons = ([f"SSO reaches {sso.provider} over https"] if sso else []) + (
        ["task logs go to Blob Storage after an Entra ID token exchange"] if task_logs else [])
    return "; ".join(reasons) or None


def parse_stack_config(raw: Mapping[str, str], *, stack: str, secret_keys: Set[str],
                       today: date | None = None) -> StackConfig:
    """Validate raw config (short key -> Pulumi's string value) into a StackConfig; `today` (default:
    the date it runs) decides which AKS versions a new cluster may use."""
    _reject_unknown_keys(raw)
    reader = Reader(raw, secret_keys, KEYS_BY_NAME)
    reader.check_present()
    environment = airflow.environment(reader, stack)
    airflow_settings = airflow.parse(reader)
    git_sync = git.parse(reader)
    vault_settings = vault.parse(reader)
    the_cluster = cluster.parse(reader, stack, today or date.today())
    creates_cluster = isinstance(the_cluster, CreatedClusterConfig)
    ingress = web.parse_ingress(reader, creates_cluster)
    _check_namespaces(airflow_settings, ingress, creates_cluster)
    sso = web.parse_sso(reader, vault_settings, ingress)
    the_database = database.parse(reader, environment)
    the_image = image.parse(reader, airflow_settings.airflow_version)
    task_logs = logs.parse(reader)
    private_database = isinstance(the_database, ManagedPostgresConfig) and the_database.network == "private"
    cluster.require(reader, the_cluster, task_logs=task_logs is not None, vault=vault_settings is not None,
                    image_build=isinstance(the_image, ImageBuildConfig),
                    network_policies=reader.boolean("networkPoliciesEnabled"), private_database=private_database)
    return StackConfig(
        stack=stack,
        environment=environment,
        airflow=airflow_settings,
        git=git_sync,
        azure=azure.parse(reader),
        database=the_database,
        image=the_image,
        vault=vault_settings,
        ingress=ingress,
        sso=sso,
        network=network.parse(reader, https_needed_by=_https_needed_by(sso, task_logs),
                              vault=vault_settings is not None,
                              database_subnet_key="postgresDelegatedSubnetId" if private_database else None),
        cluster=the_cluster,
        task_logs=task_logs,
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
    reject_mistyped_namespaces(present)
    env_secret_keys = set(runtime_config.get_config_secret_keys_env())
    raw, secret_keys = raw_config_from_runtime(
        runtime_config.get_config,
        lambda key: runtime_config.is_config_secret(key) or key in env_secret_keys,
        present,
    )
    return parse_stack_config(raw, stack=pulumi.get_stack(), secret_keys=secret_keys)
