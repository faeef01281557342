"""Where pods run (task pods on AKS spot nodes, the control plane on the system pool) and how
task logs reach Azure Blob Storage through workload identity."""

import json
from typing import Any

import pulumi

from airflow_on_k8s.config import SchedulingConfig

SPOT_TAINT_KEY = "kubernetes.azure.com/scalesetpriority"
SPOT_TAINT = {"key": SPOT_TAINT_KEY, "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
# AKS labels every node of a System-mode pool with this.
SYSTEM_POOL_SELECTOR = {"kubernetes.azure.com/mode": "system"}
CONTROL_PLANE_SECTIONS = ("scheduler", "webserver", "triggerer", "statsd")
WORKLOAD_IDENTITY_SECTIONS = ("workers", "scheduler", "triggerer", "webserver")
WORKLOAD_IDENTITY_CLIENT_ID = "azure.workload.identity/client-id"
WORKLOAD_IDENTITY_USE = "azure.workload.identity/use"
LOG_CONNECTION_ID = "wasb_task_logs"


def scheduling_values(scheduling: SchedulingConfig) -> dict[str, Any]:
    values: dict[str, Any] = {
        # A pod waiting for a spot node longer than this fails visibly (and retries) instead of hanging.
        "config": {"scheduler": {"task_queued_timeout": f"{float(scheduling.task_queued_timeout_seconds)}"}},
        # Keep one scheduler up through node drains and upgrades.
        "scheduler": {"podDisruptionBudget": {"enabled": True, "config": {"maxUnavailable": 1}}},
    }
    if scheduling.spot_task_pods:
        values["workers"] = {
            "tolerations": [SPOT_TAINT],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "preference": {"matchExpressions": [{"key": SPOT_TAINT_KEY, "operator": "In", "values": ["spot"]}]},
            }]}},
        }
        for section in CONTROL_PLANE_SECTIONS:
            values.setdefault(section, {})["nodeSelector"] = dict(SYSTEM_POOL_SELECTOR)
    return values


def _log_connection(account_url: pulumi.Input[str]) -> pulumi.Input[str]:
    def render(url: str) -> str:
        return json.dumps({"conn_type": "wasb", "host": url})
    if isinstance(account_url, str):
        return render(account_url)
    url: pulumi.Output[str] = pulumi.Output.from_input(account_url)
    return url.apply(render)


def task_log_values(client_id: pulumi.Input[str], account_url: pulumi.Input[str], container: str) -> dict[str, Any]:
    """wasb remote logging, authenticated as the log identity through workload identity (no key)."""
    values: dict[str, Any] = {
        "config": {
            "logging": {"remote_logging": "True", "remote_base_log_folder": f"wasb-{container}",
                        "remote_log_conn_id": LOG_CONNECTION_ID},
            "azure_remote_logging": {"remote_wasb_log_container": container},
        },
        # A connection with only the account URL: the hook then uses DefaultAzureCredential, which
        # picks up the federated token the workload identity webhook mounts.
        "env": [{"name": f"AIRFLOW_CONN_{LOG_CONNECTION_ID.upper()}", "value": _log_connection(account_url)}],
    }
    for section in WORKLOAD_IDENTITY_SECTIONS:
        values[section] = {"serviceAccount": {"annotations": {WORKLOAD_IDENTITY_CLIENT_ID: client_id}},
                           "labels": {WORKLOAD_IDENTITY_USE: "true"}}
    return values
