"""Values for the official apache-airflow/airflow chart (Airflow 2 layout, chart 1.16+).

Pure: the same config and secret names always give the same values, and no value holds a
secret, only the names of the Secrets the program creates (the chart reads them by name).
"""

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from airflow_on_k8s.config import AirflowConfig
from airflow_on_k8s.naming import SecretNames

EXECUTOR = "KubernetesExecutor"
AIRFLOW_HOME = "/opt/airflow"
# The chart mounts the dags volume at $AIRFLOW_HOME/dags and git-sync links the checkout as
# `repo` inside it (chart helper `airflow_dags`, NOTES.md section 4).
GIT_SYNC_CHECKOUT = f"{AIRFLOW_HOME}/dags/repo"


@dataclass(frozen=True)
class ImageSettings:
    """Where every Airflow pod and task pod pulls the image from."""

    repository: pulumi.Input[str]
    tag: pulumi.Input[str]
    # Only for a registry outside Azure; ACR pulls go through the kubelet identity.
    pull_secret_name: str | None = None


def _airflow_cfg_bool(value: bool) -> str:
    # The chart pipes config values through `tpl` into airflow.cfg: strings keep their case.
    return "True" if value else "False"


def dags_folder(sub_path: str) -> str:
    """Where the DAGs are inside every Airflow container and task pod."""
    return posixpath.join(GIT_SYNC_CHECKOUT, sub_path) if sub_path else GIT_SYNC_CHECKOUT


def _git_sync_values(airflow: AirflowConfig, secret_names: SecretNames) -> dict[str, Any]:
    git = airflow.git_sync
    values: dict[str, Any] = {
        "enabled": True,
        "repo": git.repo,
        # git-sync v4 (chart 1.16 ships v4.3.0) reads `ref`; v3 images read branch/rev.
        "branch": git.branch,
        "rev": git.rev,
        "ref": git.branch if git.rev == "HEAD" else git.rev,
        "depth": git.depth,
        "subPath": git.sub_path,
        "period": git.period,
    }
    if git.auth == "ssh":
        # A pre-created Secret, never the inline `sshKey`: chart <= 1.18 builds invalid task pods
        # from the inline key (apache/airflow#54161).
        values["sshKeySecret"] = secret_names.git_ssh_key
        values["knownHosts"] = git.known_hosts.strip()
    return values


def deep_merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` merged in: mappings recursively, lists appended (two parts may each
    add an env var), everything else replaced."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = [*merged[key], *value]
        else:
            merged[key] = value
    return merged


def build_helm_values(airflow: AirflowConfig, secret_names: SecretNames, image: ImageSettings,
                      overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The chart values for one stack; `overrides` (Vault backend, SSO, scheduling) merge on top."""
    resources = airflow.worker_resources
    executor = airflow.executor
    values: dict[str, Any] = {
        "executor": EXECUTOR,
        "airflowVersion": airflow.airflow_version,
        "images": {
            "airflow": {
                "repository": image.repository,
                "tag": image.tag,
                "pullPolicy": "IfNotPresent",
            },
        },
        "postgresql": {"enabled": False},
        "redis": {"enabled": False},
        "data": {"metadataSecretName": secret_names.metadata_connection},
        "fernetKeySecretName": secret_names.fernet_key,
        "webserverSecretKeySecretName": secret_names.webserver_secret_key,
        "config": {
            "core": {
                "dags_folder": dags_folder(airflow.git_sync.sub_path),
                "load_examples": "False",
            },
            "kubernetes_executor": {
                "delete_worker_pods": _airflow_cfg_bool(executor.delete_worker_pods),
                "delete_worker_pods_on_failure": _airflow_cfg_bool(
                    executor.delete_worker_pods_on_failure),
                "worker_pods_creation_batch_size": str(executor.worker_pods_creation_batch_size),
            },
        },
        "dags": {
            "persistence": {"enabled": False},
            "gitSync": _git_sync_values(airflow, secret_names),
        },
        "scheduler": {"replicas": airflow.replicas.scheduler},
        "webserver": {
            "replicas": airflow.replicas.webserver,
            # Chart 1.16 otherwise creates an Admin user with password "admin".
            "defaultUser": {"enabled": False},
        },
        "triggerer": {"replicas": airflow.replicas.triggerer},
        "workers": {
            "resources": {
                "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
                "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
            },
        },
        # With Helm hooks the migration Job is a post-install hook, while every pod waits for
        # the migration: an atomic (waiting) install deadlocks. Plain Jobs run during install.
        "migrateDatabaseJob": {"useHelmHooks": False, "applyCustomEnv": False},
        "createUserJob": {"useHelmHooks": False, "applyCustomEnv": False},
    }
    if image.pull_secret_name:
        values["registry"] = {"secretName": image.pull_secret_name}
    return deep_merge(values, overrides or {})
