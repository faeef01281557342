"""Checks for task-pod sizing, task logs that outlive their pods, and a task pool that scales to zero."""

from collections.abc import Iterator, Mapping
from typing import Any

from .resources import airflow_helm, dig

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"


def task_limits_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm is None:
        return
    # Chart 1.20+ reads workers.kubernetes.resources first for task pods.
    resources = dig(helm.values, "workers.kubernetes.resources") or dig(helm.values, "workers.resources") or {}
    missing = [f"{kind}.{quantity}" for kind in ("requests", "limits") for quantity in ("cpu", "memory")
               if not dig(resources, f"{kind}.{quantity}")]
    if missing:
        yield (f"values.workers.resources lacks {', '.join(missing)}: one task could starve or OOM its "
               "neighbours. Set workerCpuRequest/Limit and workerMemoryRequest/Limit.")


def remote_logging_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    helm = airflow_helm(resource_type, props)
    if helm is None:
        return
    deletes_pods = str(dig(helm.values, "config.kubernetes_executor.delete_worker_pods", "True")).lower() != "false"
    remote = str(dig(helm.values, "config.logging.remote_logging", "False")).lower() == "true"
    persisted = dig(helm.values, "logs.persistence.enabled") is True
    if deletes_pods and not remote and not persisted:
        yield ("task pods are deleted when they finish but values.config.logging.remote_logging is not 'True': "
               "their logs vanish with them. Enable taskLogs (wasb remote logging).")


def _pools(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if resource_type == MANAGED_CLUSTER:
        return list(props.get("agentPoolProfiles") or [])
    if resource_type == AGENT_POOL:
        return [props]
    return []


def spot_scale_to_zero_findings(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> Iterator[str]:
    for pool in _pools(resource_type, props):
        if pool.get("scaleSetPriority") != "Spot":
            continue
        name = pool.get("name") or pool.get("agentPoolName") or "?"
        if pool.get("enableAutoScaling") is not True:
            yield f"spot pool {name!r} does not autoscale. Set enable_auto_scaling=True with min_count=0."
        elif (pool.get("minCount") or 0) > 0:
            yield (f"spot pool {name!r} keeps {pool.get('minCount')} node(s) between batch windows. "
                   "Set clusterTaskMinCount to 0.")
