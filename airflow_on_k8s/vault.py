"""Pure pieces of the Vault integration: the read-only policy and Airflow's backend settings."""

import json

from airflow_on_k8s.config import VaultConfig

VAULT_BACKEND_CLASS = "airflow.providers.hashicorp.secrets.vault.VaultBackend"
# Where Kubernetes projects the pod's ServiceAccount token (the JWT Vault reviews).
KUBERNETES_JWT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
KV_ENGINE_VERSION = 2


def readable_paths(vault: VaultConfig) -> tuple[str, str]:
    """KV v2 data paths of connections and variables: exactly what Airflow may read."""
    return (f"{vault.kv_mount}/data/{vault.connections_path}/*",
            f"{vault.kv_mount}/data/{vault.variables_path}/*")


def read_only_policy(vault: VaultConfig) -> str:
    """HCL granting `read` on the two Airflow folders and nothing else."""
    blocks = [f'path "{path}" {{\n  capabilities = ["read"]\n}}\n' for path in readable_paths(vault)]
    return "\n".join(blocks)


def backend_kwargs(vault: VaultConfig) -> dict[str, object]:
    """Keyword arguments of VaultBackend.__init__ (apache-airflow-providers-hashicorp 3.8.0)."""
    kwargs: dict[str, object] = {
        "connections_path": vault.connections_path,
        "variables_path": vault.variables_path,
        "mount_point": vault.kv_mount,
        "kv_engine_version": KV_ENGINE_VERSION,
        "url": vault.address,
        "auth_type": "kubernetes",
        "auth_mount_point": vault.auth_path,
        "kubernetes_role": vault.role_name,
        "kubernetes_jwt_path": KUBERNETES_JWT_PATH,
    }
    if vault.namespace:
        # Passed through VaultBackend's **kwargs to hvac.Client(namespace=...).
        kwargs["namespace"] = vault.namespace
    return kwargs


def secrets_config_section(vault: VaultConfig) -> dict[str, str]:
    """The chart's `config.secrets`: airflow.cfg [secrets] backend and backend_kwargs (JSON text)."""
    return {
        "backend": VAULT_BACKEND_CLASS,
        "backend_kwargs": json.dumps(backend_kwargs(vault), sort_keys=True, separators=(",", ":")),
    }
