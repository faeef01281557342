"""AKS cluster and node pool versions against the AKS release calendar.

The table restates the program's airflow_on_k8s/aks_versions.py (the pack runs without the
program's code; a test keeps the two equal). Source: the "AKS Kubernetes release calendar" of
https://learn.microsoft.com/azure/aks/supported-kubernetes-versions, read 2026-11-27; a month is
read as its first day. Past end of life AKS no longer creates clusters at a version.
"""

import re
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from .compute import AGENT_POOL, MANAGED_CLUSTER

END_OF_LIFE: dict[str, date] = {
    "1.32": date(2026, 3, 1),
    "1.33": date(2026, 7, 1),
    "1.34": date(2026, 11, 1),
    "1.35": date(2027, 3, 1),
    "1.36": date(2027, 6, 1),
    "1.37": date(2027, 10, 1),
}
DEFAULT_WARN_DAYS = 60
_MINOR = re.compile(r"^(1\.\d+)(\.\d+)?$")


def _versions(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, version) for a cluster's control plane and inline pools, or a separate pool."""
    if resource_type == MANAGED_CLUSTER:
        yield "kubernetesVersion", str(props.get("kubernetesVersion") or "")
        for pool in props.get("agentPoolProfiles") or []:
            if pool.get("orchestratorVersion"):
                yield f"pool {pool.get('name')!r} orchestratorVersion", str(pool["orchestratorVersion"])
    elif resource_type == AGENT_POOL and props.get("orchestratorVersion"):
        yield f"pool {props.get('agentPoolName')!r} orchestratorVersion", str(props["orchestratorVersion"])


def as_of(config: Mapping[str, Any]) -> date:
    """The date versions are judged on: pack config asOf (YYYY-MM-DD), else the day the pack runs."""
    text = str(config.get("asOf") or "")
    return date.fromisoformat(text) if text else date.today()


def _end_of_life(version: str) -> tuple[str, date | None]:
    match = _MINOR.match(version)
    minor = match.group(1) if match else version
    return minor, END_OF_LIFE.get(minor)


def unsupported_findings(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    today = as_of(config)
    supported = [minor for minor, end in END_OF_LIFE.items() if end > today]
    choose = f"Choose {supported[0]}..{supported[-1]}." if supported else "Update the pack's AKS calendar."
    for where, version in _versions(resource_type, props):
        minor, end = _end_of_life(version)
        if not version:
            yield f"{where} is not set: AKS picks its default and it moves. {choose}"
        elif end is None:
            yield f"{where} {version} is not in the AKS release calendar the pack knows. {choose}"
        elif today >= end:
            yield (f"{where} {version}: AKS {minor} reached end of life in {end:%Y-%m} (no new clusters, "
                   f"no fixes). {choose}")


def expiring_findings(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    today = as_of(config)
    warn_days = int(config.get("warnDays", DEFAULT_WARN_DAYS))
    for where, version in _versions(resource_type, props):
        minor, end = _end_of_life(version)
        if end is not None and today < end <= today + timedelta(days=warn_days):
            yield (f"{where} {version}: AKS {minor} reaches end of life in {end:%Y-%m}, within {warn_days} "
                   "days. Plan the upgrade to a newer minor version now.")
