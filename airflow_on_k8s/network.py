"""NetworkPolicies for the Airflow namespace: deny everything, then allow what each part needs.

Pods are selected by the labels the chart puts on every pod it renders, task pods included:
`tier: airflow`, `component: <scheduler|webserver|triggerer|worker|statsd|...>`,
`release: <release name>` (task pods are `component: worker`).
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pulumi

from airflow_on_k8s.config import IngressConfig, NetworkConfig, VaultConfig

# Chart 1.16 defaults (values.yaml `ports`), which this program does not change.
AIRFLOW_UI_PORT = 8080
WORKER_LOGS_PORT = 8793
TRIGGERER_LOGS_PORT = 8794
STATSD_INGEST_PORT = 9125
POSTGRES_PORT = 5432
DNS_PORT = 53
KUBE_API_PORT = 443
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
ACME_SOLVER_PORT = 8089


def _pods(release: str, *components: str) -> dict[str, Any]:
    selector: dict[str, Any] = {"matchLabels": {"tier": "airflow", "release": release}}
    if len(components) == 1:
        selector["matchLabels"]["component"] = components[0]
    elif components:
        selector["matchExpressions"] = [{"key": "component", "operator": "In", "values": list(components)}]
    return selector


def _ports(*ports: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": port} for port in ports]


# CIDRs typed in config, or read from Azure while the program runs (a subnet's address prefixes).
Cidrs = Sequence[str] | pulumi.Output[list[str]]


def _peers(cidrs: Sequence[str]) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]


def _to_cidrs(cidrs: Cidrs) -> list[dict[str, Any]] | pulumi.Output[list[dict[str, Any]]]:
    return cidrs.apply(_peers) if isinstance(cidrs, pulumi.Output) else _peers(cidrs)


def _egress(name: str, selector: dict[str, Any], to: list[dict[str, Any]] | pulumi.Output[list[dict[str, Any]]],
            ports: list[dict[str, Any]] | None) -> tuple[str, dict[str, Any]]:
    rule: dict[str, Any] = {"to": to}
    if ports:
        rule["ports"] = ports
    return name, {"podSelector": selector, "policyTypes": ["Egress"], "egress": [rule]}


def vault_port(vault: VaultConfig) -> int:
    return urlsplit(vault.address).port or 443


def network_policy_specs(release: str, network: NetworkConfig, ingress: IngressConfig | None,
                         vault: VaultConfig | None, *, kube_api_cidrs: Cidrs, git_port: int = 22,
                         postgres_cidrs: Cidrs | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(name, NetworkPolicy spec) pairs, default-deny first. `postgres_cidrs` replaces the typed list
    where the program reads the database's subnet from Azure."""
    everything: dict[str, Any] = {}
    airflow = _pods(release)
    specs: list[tuple[str, dict[str, Any]]] = [
        ("default-deny", {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]}),
        _egress("allow-dns", everything,
                [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}}}],
                _ports(DNS_PORT, protocol="UDP") + _ports(DNS_PORT)),
        _egress("allow-metadata-db", airflow,
                _to_cidrs(network.postgres_cidrs if postgres_cidrs is None else postgres_cidrs),
                _ports(POSTGRES_PORT)),
        # The scheduler creates, watches and deletes the task pods; the webserver reads running
        # task pods' logs through the API.
        _egress("allow-kube-api", _pods(release, "scheduler", "webserver"),
                _to_cidrs(kube_api_cidrs),
                _ports(KUBE_API_PORT)),
        # git-sync runs beside the scheduler and triggerer and as the task pods' init container.
        _egress("allow-git", _pods(release, "scheduler", "triggerer", "worker"),
                _to_cidrs(network.git_cidrs or ("0.0.0.0/0",)), _ports(git_port)),
        _egress("allow-statsd-egress", airflow, [{"podSelector": _pods(release, "statsd")}],
                _ports(STATSD_INGEST_PORT, protocol="UDP")),
        ("allow-statsd-ingress", {
            "podSelector": _pods(release, "statsd"), "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": airflow}], "ports": _ports(STATSD_INGEST_PORT, protocol="UDP")}],
        }),
        # The webserver reads running tasks' logs from the worker and triggerer log servers.
        _egress("allow-task-logs-egress", _pods(release, "webserver"),
                [{"podSelector": _pods(release, "worker", "triggerer")}],
                _ports(WORKER_LOGS_PORT, TRIGGERER_LOGS_PORT)),
        ("allow-task-logs-ingress", {
            "podSelector": _pods(release, "worker", "triggerer"), "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": _pods(release, "webserver")}],
                         "ports": _ports(WORKER_LOGS_PORT, TRIGGERER_LOGS_PORT)}],
        }),
    ]
    if vault is not None:
        specs.append(_egress("allow-vault", _pods(release, "worker", "scheduler", "triggerer", "webserver"),
                             _to_cidrs(network.vault_cidrs), _ports(vault_port(vault))))
    if ingress is not None:
        specs.append(("allow-ingress-controller", {
            "podSelector": _pods(release, "webserver"), "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                NAMESPACE_NAME_LABEL: ingress.controller_namespace}}}], "ports": _ports(AIRFLOW_UI_PORT)}],
        }))
    if network.https_egress_cidrs:
        # Entra ID token exchange (workload identity, SSO), Blob Storage (task logs), the IdP.
        specs.append(_egress("allow-https-services", _pods(release, "worker", "scheduler", "triggerer", "webserver"),
                             _to_cidrs(network.https_egress_cidrs), _ports(443)))
    if ingress is not None and ingress.cluster_issuer:
        # cert-manager's HTTP-01 solver pods answer the ACME challenge in this namespace.
        specs.append(("allow-acme-solver", {
            "podSelector": {"matchLabels": {ACME_SOLVER_LABEL: "true"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                NAMESPACE_NAME_LABEL: ingress.controller_namespace}}}], "ports": _ports(ACME_SOLVER_PORT)}],
        }))
    if network.task_egress_cidrs:
        specs.append(_egress("allow-task-egress", _pods(release, "worker"), _to_cidrs(network.task_egress_cidrs),
                             None))
    return [(f"{release}-{name}", spec) for name, spec in specs]
